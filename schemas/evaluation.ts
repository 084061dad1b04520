import { Schema } from "effect"
import { NonNegativeInt, TaskName } from "./common.ts"

/** Greedy decoding settings; part of every prediction's cache key. */
export const Decoding = Schema.Struct({
  maxNewTokens: Schema.Int,
  stop: Schema.Array(Schema.String)
})

/** Identity of a scored system: everything that changes its answers. */
export const SystemIdentity = Schema.Struct({
  system: Schema.NonEmptyString,
  modelId: Schema.String,
  modelRevision: Schema.String,
  adapterHash: Schema.String
})

/** One item to score for one system at one shot count. */
export const EvalRequest = Schema.Struct({
  ...SystemIdentity.fields,
  task: TaskName,
  shots: NonNegativeInt,
  itemId: Schema.NonEmptyString,
  datasetVersion: Schema.String,
  prompt: Schema.String,
  promptHash: Schema.String,
  /** loglikelihood: score each continuation; generate: greedy generation. */
  kind: Schema.Literals(["loglikelihood", "generate"]),
  continuations: Schema.optional(Schema.Array(Schema.String)),
  decoding: Decoding
})
export type EvalRequest = typeof EvalRequest.Type

export const OptionScore = Schema.Struct({
  logprob: Schema.Finite,
  tokens: Schema.Int,
  chars: Schema.Int,
  bytes: Schema.Int,
  greedy: Schema.Boolean
})

export const Prediction = Schema.Struct({
  ...SystemIdentity.fields,
  task: TaskName,
  shots: NonNegativeInt,
  itemId: Schema.NonEmptyString,
  datasetVersion: Schema.String,
  promptHash: Schema.String,
  decodingHash: Schema.String,
  /** Key of the prediction cache: hash of every field above (see GUIDE, cache keys). */
  cacheKey: Schema.String,
  output: Schema.optional(Schema.String),
  options: Schema.optional(Schema.Array(OptionScore)),
  truncatedTokens: Schema.optional(Schema.Int)
})
export type Prediction = typeof Prediction.Type

/** One item-level score: the row analyses are built on. */
export const Score = Schema.Struct({
  system: Schema.NonEmptyString,
  task: Schema.NonEmptyString,
  shots: NonNegativeInt,
  itemId: Schema.NonEmptyString,
  datasetVersion: Schema.String,
  metric: Schema.NonEmptyString,
  score: Schema.Finite,
  judge: Schema.optional(Schema.String)
})
export type Score = typeof Score.Type
