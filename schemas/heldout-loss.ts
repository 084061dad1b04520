import { Schema } from "effect"
import { SystemIdentity } from "./evaluation.ts"

/** One system's loss on held-out text (warehouse table heldout_loss, migration 0007). */
export const HeldoutLossRow = Schema.Struct({
  ...SystemIdentity.fields,
  /** sha256 of the texts, in order, NUL-separated. */
  textsHash: Schema.String,
  /** Where the texts came from (a file). */
  textsSource: Schema.optional(Schema.String),
  seqLen: Schema.Int,
  texts: Schema.Int,
  sequences: Schema.Int,
  tokens: Schema.Int,
  /** Mean next-token NLL in nats per predicted token. */
  meanNll: Schema.Number,
  perplexity: Schema.Number,
  runId: Schema.optional(Schema.String)
})
export type HeldoutLossRow = typeof HeldoutLossRow.Type
