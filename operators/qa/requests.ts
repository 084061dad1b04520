import type { Decoding, EvalRequest } from "../../schemas/evaluation.ts"
import type { QAItem } from "../../schemas/qa-item.ts"
import type { LoadedQAItem } from "../../schemas/qa-record.ts"
import { canonicalJson, sha256 } from "./loaders/content-hash.ts"
import type { QaModelIdentity } from "./model.ts"
import { mcqaContinuations, renderPrompt } from "./prompts/render.ts"
import type { PromptSet } from "./prompts/templates.ts"

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

export interface SystemSpec extends QaModelIdentity {
  readonly system: string
}

/** One cell's request for one item: prompt with its k exemplars, continuations or decoding. */
export const buildEvalRequest = (set: PromptSet, system: SystemSpec, loaded: LoadedQAItem, pool: ReadonlyArray<LoadedQAItem>, shots: number): EvalRequest & { readonly itemHash: string; readonly cacheKey: string } => {
  const item: QAItem = loaded.item
  const rendered = renderPrompt(set, item, pool, shots)
  const decoding = set.tasks[item.task].decoding
  const kind = item.task === "mcqa" ? "loglikelihood" : "generate"
  const continuations = item.task === "mcqa" ? mcqaContinuations(set, item) : undefined
  const request: EvalRequest = {
    system: system.system,
    modelId: system.modelId,
    modelRevision: system.modelRevision,
    adapterHash: system.adapterHash,
    task: item.task,
    shots,
    itemId: item.id,
    datasetVersion: loaded.dataset,
    prompt: rendered.prompt,
    promptHash: rendered.promptHash,
    kind,
    ...(continuations ? { continuations } : {}),
    decoding
  }
  const cacheKey = cacheKeyOf({ ...system, kind, promptHash: rendered.promptHash, decodingHash: decodingHashOf(decoding), datasetVersion: loaded.dataset, itemHash: loaded.contentHash, continuations })
  return { ...request, itemHash: loaded.contentHash, cacheKey }
}
