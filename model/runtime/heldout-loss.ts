import * as tf from "@tensorflow/tfjs-core"
import type { TextTokenizer } from "../formats/tokenizer/tokenizer.ts"
import type { Qwen3Model } from "../tfjs/qwen3-model.ts"
import { causalLmLoss } from "../train/loss.ts"
import { packedTextSequences } from "../train/datasets.ts"
import { ModelHandle } from "./model-handle.ts"
import { scoringPathFor } from "./scoring.ts"

/** A model's loss on text it was not trained on (see heldoutLoss). */
export interface HeldoutLoss {
  /** Mean next-token negative log-likelihood, in nats per predicted token. */
  readonly meanNll: number
  /** exp(meanNll). */
  readonly perplexity: number
  /** Tokens predicted (seqLen − 1 per sequence: the first token of a sequence has no context in it). */
  readonly tokens: number
  /** Packed sequences of seqLen tokens the texts made. */
  readonly sequences: number
}

/**
 * Mean token NLL of a loaded model (with whatever adapter is attached to it) over `texts`,
 * packed as DAPT packs its corpus (packedTextSequences: documents joined by end-of-text, cut into
 * sequences of exactly `seqLen` tokens, the shorter tail dropped), so the number is comparable
 * with the DAPT training loss. Every predicted token counts once: batches are weighted by their
 * token counts, and no dropout is applied. Fails when the texts do not fill one sequence. On the
 * WGSL engine's path (scoringPathFor) the engine computes it, from its f16 copy of the weights.
 */
export const heldoutLoss = async (
  model: Qwen3Model,
  tokenizer: TextTokenizer,
  texts: ReadonlyArray<string>,
  seqLen: number,
  options: { readonly batch?: number; readonly onFallback?: (line: string) => void } = {}
): Promise<HeldoutLoss> => {
  if (!Number.isInteger(seqLen) || seqLen < 2) throw new Error(`held-out loss: seqLen must be an integer of at least 2, got ${seqLen}`)
  const sequences = packedTextSequences(tokenizer, texts, seqLen).map((s) => s.ids)
  if (sequences.length === 0) throw new Error(`held-out loss: ${texts.length} texts do not fill one sequence of ${seqLen} tokens`)
  const tokens = sequences.length * (seqLen - 1)
  const fromTotal = (total: number): HeldoutLoss => ({ meanNll: total / tokens, perplexity: Math.exp(total / tokens), tokens, sequences: sequences.length })
  // Where the WGSL engine scores (a webgpu backend with tensor cores), it computes the loss too: the
  // tfjs forward would materialise [rows × seqLen × vocab] logits and a one-hot of the same size
  // (1.5 GB a tensor for 5 × 512 positions at Qwen3's vocabulary), and load the f32 model a second time.
  const path = await scoringPathFor(model)
  if (path._tag === "Engine") {
    try {
      const logprobs = await path.scorer.sequenceLogprobs(sequences)
      return fromTotal(-logprobs.reduce((a, row) => row.reduce((b, x) => b + x, a), 0))
    } catch (e) {
      // Said, never silent: the measure is then taken on tfjs, as on any other backend.
      options.onFallback?.(`held-out loss: the WGSL engine failed (${e instanceof Error ? e.message : String(e)}); measuring on the tfjs runtime`)
    }
  }
  const batch = Math.max(1, options.batch ?? 8)
  let total = 0
  for (let i = 0; i < sequences.length; i += batch) {
    const rows = sequences.slice(i, i + batch)
    const loss = tf.tidy(() => causalLmLoss(model, rows))
    const mean = (await loss.data())[0]!
    loss.dispose()
    total += mean * rows.length * (seqLen - 1)
  }
  return fromTotal(total)
}

/**
 * heldoutLoss of a checkpoint folder, optionally with a PEFT adapter on it: loaded through a model
 * handle (a lost GPU device is reopened and the measure taken again), measured, and freed.
 */
export const heldoutLossOf = async (source: { readonly dir: string; readonly adapter?: string | undefined }, texts: ReadonlyArray<string>, seqLen: number): Promise<HeldoutLoss> => {
  const handle = ModelHandle.load({ dir: source.dir, ...(source.adapter ? { adapter: source.adapter } : {}) })
  try {
    return await handle.run("measuring the held-out loss", (m) => heldoutLoss(m.model, m.tokenizer, texts, seqLen, { onFallback: (line) => process.stderr.write(`${line}\n`) }))
  } finally {
    handle.dispose()
  }
}
