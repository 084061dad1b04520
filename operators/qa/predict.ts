import { Effect } from "effect"
import type { Prediction } from "../../schemas/evaluation.ts"
import type { KeyedEvalRequest, PredictionRecord } from "../../schemas/qa-record.ts"
import { batched, type Operator, OperatorFailure, Outcome } from "../operator.ts"
import { continuationLengths } from "./metrics/mcqa.ts"
import type { QaModel } from "./model.ts"
import { decodingHashOf } from "./requests.ts"

/** Where predictions are cached; the pipeline backs it with the warehouse. */
export interface PredictionCacheApi<R> {
  readonly get: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, { readonly output: string | undefined; readonly options: Prediction["options"]; readonly truncatedTokens: number | undefined }>, OperatorFailure, R>
  readonly put: (entries: ReadonlyArray<{ readonly prediction: Prediction; readonly kind: "loglikelihood" | "generate"; readonly itemHash: string }>) => Effect.Effect<void, OperatorFailure, R>
}

const sameModel = (model: QaModel, r: KeyedEvalRequest) =>
  model.modelId === r.modelId && model.modelRevision === r.modelRevision && model.adapterHash === r.adapterHash

/**
 * EvalRequest → Prediction: the cache answers what it holds under the request's full key; the
 * model runs the rest (option log-likelihoods for MCQA, greedy generation otherwise). A request
 * addressed to another model than the one loaded is rejected, never answered by this one.
 */
export const predict = <R>(model: QaModel, cache: PredictionCacheApi<R>): Operator<KeyedEvalRequest, PredictionRecord, R> =>
  batched("predict", (batch) =>
    Effect.gen(function*() {
      const hits = yield* cache.get(batch.map((e) => e.value.cacheKey))
      const toStore: Array<{ prediction: Prediction; kind: "loglikelihood" | "generate"; itemHash: string }> = []
      const outcomes = yield* Effect.forEach(batch, (e) =>
        Effect.gen(function*() {
          const r = e.value
          if (!sameModel(model, r)) {
            return Outcome.reject(`request for ${r.modelId}@${r.modelRevision}+${r.adapterHash} sent to ${model.modelId}@${model.modelRevision}+${model.adapterHash}`, "modelId")
          }
          const base = {
            system: r.system, modelId: r.modelId, modelRevision: r.modelRevision, adapterHash: r.adapterHash, task: r.task, shots: r.shots,
            itemId: r.itemId, datasetVersion: r.datasetVersion, promptHash: r.promptHash, decodingHash: decodingHashOf(r.decoding), cacheKey: r.cacheKey
          }
          const hit = hits.get(r.cacheKey)
          if (hit) {
            const prediction: Prediction = { ...base, ...(hit.output !== undefined ? { output: hit.output } : {}), ...(hit.options ? { options: hit.options } : {}), ...(hit.truncatedTokens !== undefined ? { truncatedTokens: hit.truncatedTokens } : {}) }
            // Recorded again as this system's current prediction (the cache row itself is kept once).
            toStore.push({ prediction, kind: r.kind, itemHash: r.itemHash })
            return Outcome.emit({ key: e.key, position: e.position, value: { prediction, itemHash: r.itemHash, cached: true } })
          }
          let prediction: Prediction
          if (r.kind === "loglikelihood") {
            const continuations = r.continuations ?? []
            const scored = yield* model.loglikelihood(r.prompt, continuations)
            prediction = {
              ...base,
              options: scored.options.map((o, i) => ({ logprob: o.logprob, tokens: o.tokens, greedy: o.greedy, ...continuationLengths(continuations[i]!) })),
              truncatedTokens: scored.truncatedTokens
            }
          } else {
            const g = yield* model.generate(r.prompt, r.decoding)
            prediction = { ...base, output: g.text.trim(), truncatedTokens: g.truncatedTokens }
          }
          toStore.push({ prediction, kind: r.kind, itemHash: r.itemHash })
          return Outcome.emit({ key: e.key, position: e.position, value: { prediction, itemHash: r.itemHash, cached: false } })
        }))
      yield* cache.put(toStore)
      return outcomes
    }))

export const cacheFailure = (message: string) => new OperatorFailure({ operator: "prediction-cache", message })
