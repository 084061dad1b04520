import { Schema } from "effect"
import { EvalRequest, Prediction } from "./evaluation.ts"
import { QAItem } from "./qa-item.ts"

/**
 * A QA item as a loader hands it on: the item, the dataset it belongs to and the content hash
 * that re-evaluation compares (sha256 of the item's scored fields, see docs/enmed.md).
 */
export const LoadedQAItem = Schema.Struct({
  dataset: Schema.NonEmptyString,
  contentHash: Schema.String,
  item: QAItem
})
export type LoadedQAItem = typeof LoadedQAItem.Type

/** An EvalRequest with its item's content hash and its prediction cache key. */
export const KeyedEvalRequest = Schema.Struct({
  ...EvalRequest.fields,
  itemHash: Schema.String,
  cacheKey: Schema.String
})
export type KeyedEvalRequest = typeof KeyedEvalRequest.Type

/** A prediction on its way to the metrics, saying whether the cache answered it. */
export const PredictionRecord = Schema.Struct({
  prediction: Prediction,
  itemHash: Schema.String,
  cached: Schema.Boolean
})
export type PredictionRecord = typeof PredictionRecord.Type
