import { Schema } from "effect"
import { Position } from "./common.ts"

/** A record an operator refused: kept with its reason, never dropped. */
export const DeadLetter = Schema.Struct({
  operator: Schema.String,
  reason: Schema.String,
  /** The field at fault, when one is known. */
  field: Schema.optional(Schema.String),
  position: Position,
  /** The rejected record, as JSON text (or the raw line when it was not parseable). */
  record: Schema.String
})
export type DeadLetter = typeof DeadLetter.Type
