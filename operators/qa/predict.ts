import { Effect } from "effect"
import type { Prediction } from "../../schemas/evaluation.ts"
import type { KeyedEvalRequest, PredictionRecord } from "../../schemas/qa-record.ts"
import type { Envelope } from "../envelope.ts"
import { batched, type Operator, OperatorFailure, Outcome } from "../operator.ts"
import { continuationLengths } from "./metrics/mcqa.ts"
import type { QaModel } from "./model.ts"
import { decodingHashOf } from "./prediction-key.ts"

/** Where predictions are cached; the pipeline backs it with the warehouse. */
export interface PredictionCacheApi<R> {
  readonly get: (keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, { readonly output: string | undefined; readonly options: Prediction["options"]; readonly truncatedTokens: number | undefined }>, OperatorFailure, R>
  readonly put: (entries: ReadonlyArray<{ readonly prediction: Prediction; readonly kind: "loglikelihood" | "generate"; readonly itemHash: string }>) => Effect.Effect<void, OperatorFailure, R>
}

export interface PredictOptions {
  /** After each batch: requests done (answered by the model or the cache) and their rate. */
  readonly onProgress?: (p: { readonly requests: number; readonly fromCache: number; readonly perSecond: number }) => void
}

const sameModel = (model: QaModel, r: KeyedEvalRequest) =>
  model.modelId === r.modelId && model.modelRevision === r.modelRevision && model.adapterHash === r.adapterHash

const predictionBase = (r: KeyedEvalRequest) => ({
  system: r.system, modelId: r.modelId, modelRevision: r.modelRevision, adapterHash: r.adapterHash, task: r.task, shots: r.shots,
  itemId: r.itemId, datasetVersion: r.datasetVersion, promptHash: r.promptHash, decodingHash: decodingHashOf(r.decoding), cacheKey: r.cacheKey
})

/**
 * EvalRequest → Prediction, the one path from a request to a model's answer (the grid, reeval,
 * the Kafka scorer stage): the cache answers what it holds under the request's full key; the
 * model runs the rest — option log-likelihoods for MCQA, greedy generation otherwise, the batch's
 * generation requests that share decoding settings in one call so a runtime can batch them. A
 * request addressed to another model than the one loaded, or a log-likelihood request without
 * options, is rejected (a dead letter), never answered.
 */
export const predict = <R>(model: QaModel, cache: PredictionCacheApi<R>, options: PredictOptions = {}): Operator<KeyedEvalRequest, PredictionRecord, R> => {
  const started = performance.now()
  let requests = 0
  let fromCache = 0
  return batched("predict", (batch) =>
    Effect.gen(function*() {
      const hits = yield* cache.get(batch.map((e) => e.value.cacheKey))
      const toStore: Array<{ prediction: Prediction; kind: "loglikelihood" | "generate"; itemHash: string }> = []
      const outcomes: Array<Outcome<PredictionRecord>> = new Array(batch.length)
      const emit = (e: Envelope<KeyedEvalRequest>, prediction: Prediction, cached: boolean) => {
        // A cached answer is recorded again as this system's current prediction (the cache row itself is kept once).
        toStore.push({ prediction, kind: e.value.kind, itemHash: e.value.itemHash })
        return Outcome.emit({ key: e.key, position: e.position, value: { prediction, itemHash: e.value.itemHash, cached } })
      }
      const generations = new Map<string, Array<number>>()
      const scoring: Array<number> = []
      for (let i = 0; i < batch.length; i++) {
        const e = batch[i]!
        const r = e.value
        if (!sameModel(model, r)) {
          outcomes[i] = Outcome.reject(`request for ${r.modelId}@${r.modelRevision}+${r.adapterHash} sent to ${model.modelId}@${model.modelRevision}+${model.adapterHash}`, "modelId")
          continue
        }
        const hit = hits.get(r.cacheKey)
        if (hit) {
          fromCache++
          outcomes[i] = emit(e, { ...predictionBase(r), ...(hit.output !== undefined ? { output: hit.output } : {}), ...(hit.options ? { options: hit.options } : {}), ...(hit.truncatedTokens !== undefined ? { truncatedTokens: hit.truncatedTokens } : {}) }, true)
        } else if (r.kind === "generate") {
          const k = decodingHashOf(r.decoding)
          generations.set(k, [...(generations.get(k) ?? []), i])
        } else {
          const continuations = r.continuations ?? []
          if (continuations.length === 0) {
            outcomes[i] = Outcome.reject("a loglikelihood request needs at least one continuation", "continuations")
            continue
          }
          scoring.push(i)
        }
      }
      // Log-likelihood requests go to the model as many at once as it serves (an inference
      // server's in-flight limit; 1 for an in-process runtime), each outcome in its own slot.
      yield* Effect.forEach(scoring, (i) =>
        Effect.gen(function*() {
          const e = batch[i]!
          const continuations = e.value.continuations!
          const result = yield* Effect.result(model.loglikelihood(e.value.prompt, continuations))
          // RecordRejected: the model could not score this request (e.g. non-finite log-probs):
          // its dead letter; any other failure stops the run.
          if (result._tag === "Failure") {
            if (result.failure._tag === "RecordRejected") {
              outcomes[i] = Outcome.reject(result.failure.reason, result.failure.field)
              return
            }
            return yield* result.failure
          }
          const scored = result.success
          // Whatever the model: a non-finite log-prob is never a score.
          const bad = scored.options.findIndex((o) => !Number.isFinite(o.logprob))
          if (bad >= 0) {
            outcomes[i] = Outcome.reject(`non-finite log-prob (${scored.options[bad]!.logprob}) for continuation ${bad}`, "continuations")
            return
          }
          outcomes[i] = emit(e, {
            ...predictionBase(e.value),
            // In OptionScore's field order: the record a topic carries decodes in that order, so the
            // warehouse stores the same JSON text whichever runtime (and process) answered.
            options: scored.options.map((o, k) => ({ logprob: o.logprob, tokens: o.tokens, ...continuationLengths(continuations[k]!), greedy: o.greedy })),
            truncatedTokens: scored.truncatedTokens
          }, false)
        }), { concurrency: model.concurrency ?? 1, discard: true })
      for (const indices of generations.values()) {
        const answers = yield* model.generate(indices.map((i) => batch[i]!.value.prompt), batch[indices[0]!]!.value.decoding)
        indices.forEach((i, k) => {
          // A prompt the model could not generate (non-finite logits) is a dead letter, never a prediction.
          const failed = answers[k]!.error
          if (failed !== undefined) {
            outcomes[i] = Outcome.reject(failed, "prompt")
            return
          }
          outcomes[i] = emit(batch[i]!, { ...predictionBase(batch[i]!.value), output: answers[k]!.text.trim(), truncatedTokens: answers[k]!.truncatedTokens }, false)
        })
      }
      yield* cache.put(toStore)
      requests += batch.length
      options.onProgress?.({ requests, fromCache, perSecond: requests / Math.max((performance.now() - started) / 1000, 1e-9) })
      return outcomes
    }))
}

export const cacheFailure = (message: string) => new OperatorFailure({ operator: "prediction-cache", message })
