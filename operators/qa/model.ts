import type { Effect } from "effect"
import type { Decoding } from "../../schemas/evaluation.ts"
import type { OperatorFailure, RecordRejected } from "../operator.ts"

/** What scoring needs of a model: its identity, option log-likelihoods and greedy generation. */
export interface QaModelIdentity {
  readonly modelId: string
  readonly modelRevision: string
  /** sha256 of the adapter weights, or "none" for a model without adapter. */
  readonly adapterHash: string
}

export interface ContinuationLogprob {
  readonly logprob: number
  readonly tokens: number
  /** Whether every continuation token was the model's argmax. */
  readonly greedy: boolean
}

/**
 * The seam between the evaluation operators and a model runtime: the tfjs Qwen3 runtime
 * (model/runtime/scoring.ts scoreContinuations, model/runtime/generate.ts generateGreedy) and the n-gram baseline
 * both implement it, so the grid, the cache and the metrics never know which one they drive.
 */
export interface QaModel extends QaModelIdentity {
  /** Requests it serves at once (an inference server: its in-flight limit); 1 when absent. */
  readonly concurrency?: number
  /** RecordRejected: this request cannot be scored (e.g. non-finite log-probs); it becomes a dead letter, the run goes on. */
  readonly loglikelihood: (context: string, continuations: ReadonlyArray<string>) => Effect.Effect<{ readonly options: ReadonlyArray<ContinuationLogprob>; readonly truncatedTokens: number }, OperatorFailure | RecordRejected>
  /** Greedy answers to several prompts that share decoding settings (a runtime may batch them), in order. */
  /** One answer a prompt; `error` set: this prompt could not be generated (non-finite logits), its dead letter, the run goes on. */
  readonly generate: (prompts: ReadonlyArray<string>, decoding: typeof Decoding.Type) => Effect.Effect<ReadonlyArray<{ readonly text: string; readonly truncatedTokens: number; readonly error?: string }>, OperatorFailure>
}
