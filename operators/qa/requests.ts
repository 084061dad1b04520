import type { EvalRequest } from "../../schemas/evaluation.ts"
import type { QAItem } from "../../schemas/qa-item.ts"
import type { LoadedQAItem } from "../../schemas/qa-record.ts"
import type { QaModelIdentity } from "./model.ts"
import { cacheKeyOf, decodingHashOf } from "./prediction-key.ts"
import { mcqaContinuations, renderPrompt } from "./prompts/render.ts"
import type { PromptSet } from "./prompts/templates.ts"

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
