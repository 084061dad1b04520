import { Effect } from "effect"
import { generateGreedy } from "../../model/index.ts"
import type { ModelHandle } from "../../model/index.ts"
import { scoreContinuations, ScoringError } from "../../model/index.ts"
import type { EvalRequest, Prediction } from "../../schemas/evaluation.ts"
import type { Envelope } from "../envelope.ts"
import { batched, type Operator, OperatorFailure, Outcome } from "../operator.ts"
import { cacheKeyOf, decodingHashOf } from "./prediction-key.ts"

export interface ScorerOptions {
  /** The model, reloaded and the batch's work repeated should the GPU device be lost (model/runtime/model-handle.ts). */
  readonly model: ModelHandle
  readonly contextWindow?: number
  /** Called after each batch: tokens scored or generated per second, and records done. */
  readonly onProgress?: (p: { readonly records: number; readonly tokens: number; readonly tokensPerSecond: number }) => void
}

const utf8Bytes = (s: string) => Buffer.byteLength(s, "utf8")

const predictionBase = (r: EvalRequest) => ({
  system: r.system,
  modelId: r.modelId,
  modelRevision: r.modelRevision,
  adapterHash: r.adapterHash,
  task: r.task,
  shots: r.shots,
  itemId: r.itemId,
  datasetVersion: r.datasetVersion,
  promptHash: r.promptHash,
  decodingHash: decodingHashOf(r),
  cacheKey: cacheKeyOf(r)
})

/**
 * Scores EvalRequests into Predictions. Log-likelihood requests go through model/runtime/scoring.ts (fleuve's
 * WGSL engine where it can run, else the tfjs runtime, whose prompt runs once and its KV cache
 * serves every option); truncation of a long prompt is reported in truncatedTokens.
 * Generation requests of one batch that share decoding settings are decoded together.
 * A request that cannot be scored (no options, a continuation too long) becomes a dead letter.
 * Each request's scoring (each generation group) runs through the model handle: a lost GPU
 * device is reopened, the model reloaded and that piece of work done again, so no record is lost.
 */
export const scorer = (options: ScorerOptions): Operator<EvalRequest, Prediction> => {
  let records = 0
  let tokens = 0
  const started = performance.now()
  const window = options.contextWindow === undefined ? {} : { contextWindow: options.contextWindow }
  return batched("model-scorer", (batch) =>
    Effect.tryPromise({
      try: async () => {
        const outcomes: Array<Outcome<Prediction>> = new Array(batch.length)
        const emit = (input: Envelope<EvalRequest>, value: Prediction) => Outcome.emit({ key: input.key, value, position: input.position })
        const generate = new Map<string, Array<number>>()
        for (let i = 0; i < batch.length; i++) {
          const input = batch[i]!
          const r = input.value
          if (r.kind === "generate") {
            const k = decodingHashOf(r)
            generate.set(k, [...(generate.get(k) ?? []), i])
            continue
          }
          if (!r.continuations || r.continuations.length === 0) {
            outcomes[i] = Outcome.reject("a loglikelihood request needs at least one continuation", "continuations")
            continue
          }
          try {
            const s = await options.model.run("scoring a request", (m) => scoreContinuations(m.model, m.tokenizer, r.prompt, r.continuations!, window))
            tokens += s.contextTokens + s.options.reduce((a, o) => a + o.tokenIds.length, 0)
            outcomes[i] = emit(input, {
              ...predictionBase(r),
              options: s.options.map((o, k) => ({
                logprob: o.logprob,
                tokens: o.tokenIds.length,
                chars: r.continuations![k]!.length,
                bytes: utf8Bytes(r.continuations![k]!),
                greedy: o.greedy
              })),
              truncatedTokens: s.truncatedTokens
            })
          } catch (e) {
            if (!(e instanceof ScoringError)) throw e
            outcomes[i] = Outcome.reject(e.message, "continuations")
          }
        }
        for (const indices of generate.values()) {
          const first = batch[indices[0]!]!.value
          const gens = await options.model.run("generating a batch", (m) =>
            generateGreedy(m.model, m.tokenizer, indices.map((i) => batch[i]!.value.prompt), {
              maxNewTokens: first.decoding.maxNewTokens,
              stop: first.decoding.stop,
              ...window
            }))
          indices.forEach((i, k) => {
            tokens += gens[k]!.tokenIds.length
            outcomes[i] = emit(batch[i]!, { ...predictionBase(batch[i]!.value), output: gens[k]!.text, truncatedTokens: gens[k]!.truncatedTokens })
          })
        }
        records += batch.length
        const seconds = (performance.now() - started) / 1000
        options.onProgress?.({ records, tokens, tokensPerSecond: tokens / Math.max(seconds, 1e-9) })
        return outcomes
      },
      catch: (e) => new OperatorFailure({ operator: "model-scorer", message: e instanceof Error ? e.message : String(e), cause: e })
    }))
}
