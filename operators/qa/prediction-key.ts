/**
 * The one definition of what a cached prediction is keyed by. The grid, the Kafka scorer stage
 * and reeval all build requests through operators/qa/requests.ts, which keys them here; a judge's
 * verdict is stored under (prediction key, judge, item order), so two judges never share one.
 */
import type { Decoding } from "../../schemas/evaluation.ts"
import { canonicalJson, sha256 } from "./loaders/content-hash.ts"
import type { QaModelIdentity } from "./model.ts"

export const decodingHashOf = (d: typeof Decoding.Type): string => sha256(`decoding1:${canonicalJson(d)}`)

/**
 * The prediction cache key: every input that can change a model's answer. Model id, revision and
 * adapter hash are in it, so one model's answers can never be served for another (a well-known
 * harness keys its cache without the model). The item's content hash stands for the dataset
 * version at item granularity: editing one item invalidates that item only.
 */
export interface CacheKeyParts extends QaModelIdentity {
  readonly kind: "loglikelihood" | "generate"
  readonly promptHash: string
  readonly decodingHash: string
  readonly datasetVersion: string
  readonly itemHash: string
  readonly continuations?: ReadonlyArray<string> | undefined
}

export const cacheKeyOf = (p: CacheKeyParts): string =>
  sha256(`cache1:${canonicalJson({
    modelId: p.modelId,
    modelRevision: p.modelRevision,
    adapterHash: p.adapterHash,
    kind: p.kind,
    promptHash: p.promptHash,
    decodingHash: p.decodingHash,
    datasetVersion: p.datasetVersion,
    itemHash: p.itemHash,
    continuations: p.continuations ?? null
  })}`)
