import { Schema } from "effect"

/** Quantising or reading an NF4 checkpoint failed; the message names the file and tensor. */
export class QuantizeError extends Schema.TaggedError<QuantizeError>()("QuantizeError", {
  message: Schema.String
}) {}
