import { Schema } from "effect"

export class WarehouseError extends Schema.TaggedError<WarehouseError>()("WarehouseError", {
  message: Schema.String,
  sql: Schema.optional(Schema.String)
}) {}
