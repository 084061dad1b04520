import { Schema } from "effect"
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
