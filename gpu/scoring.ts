import * as tf from "@tensorflow/tfjs-core"
import type { TextTokenizer } from "./tokenizer/tokenizer.ts"
import { disposeCache, type Qwen3Model } from "./qwen3/model.ts"

/** Log-probability of one continuation under teacher forcing. */
export interface ContinuationScore {
  readonly tokenIds: ReadonlyArray<number>
  readonly tokenLogprobs: ReadonlyArray<number>
  readonly logprob: number
  /** Whether every continuation token was the argmax of its distribution. */
  readonly greedy: boolean
}

export interface ScoredContext {
  readonly options: ReadonlyArray<ContinuationScore>
  /** Context tokens dropped on the left to fit the window (0 when it fitted). */
  readonly truncatedTokens: number
  readonly contextTokens: number
}

export class ScoringError extends Error {}

/**
 * lm-evaluation-harness split: trailing spaces of the context move to the continuation; the
 * continuation's tokens are enc(context + continuation)[len(enc(context)):].
 */
export const splitContinuation = (tokenizer: TextTokenizer, context: string, continuation: string): { context: Array<number>; continuation: Array<number> } => {
  const spaces = context.length - context.replace(/ +$/, "").length
  const ctx = spaces > 0 ? context.slice(0, -spaces) : context
  const cont = spaces > 0 ? context.slice(-spaces) + continuation : continuation
  const ctxIds = tokenizer.encode(ctx)
  const whole = tokenizer.encode(ctx + cont)
  return { context: ctxIds, continuation: whole.slice(ctxIds.length) }
}

/** Log-softmax values at `targets` and argmax flags, computed on the device; only small arrays come back. */
const pick = async (logits: tf.Tensor2D, targets: ReadonlyArray<number>): Promise<{ logprobs: Float32Array; argmax: Int32Array }> => {
  const [lp, am] = tf.tidy(() => {
    const logp = tf.logSoftmax(logits)
    const v = logits.shape[1]
    const flat = tf.tensor1d(targets.map((tok, row) => row * v + tok), "int32")
    return [tf.gather(tf.reshape(logp, [-1]), flat), tf.argMax(logits, 1)]
  })
  // Asynchronous reads: WebGPU cannot read synchronously in Node.
  const out = { logprobs: (await lp.data()) as Float32Array, argmax: (await am.data()) as Int32Array }
  tf.dispose([lp, am])
  return out
}

/**
 * Scores every continuation of one context. The context runs once and fills a KV cache; the
 * options then run together as one right-padded batch on top of it (padding comes after the
 * real tokens, so causal attention never sees it). A context too long for the window loses
 * tokens on the left, and the count is returned, never hidden.
 */
export const scoreContinuations = async (
  model: Qwen3Model,
  tokenizer: TextTokenizer,
  context: string,
  continuations: ReadonlyArray<string>,
  options: { readonly contextWindow?: number } = {}
): Promise<ScoredContext> => {
  if (continuations.length === 0) throw new ScoringError("no continuations to score")
  const window = options.contextWindow ?? model.config.maxPositions
  const splits = continuations.map((c) => splitContinuation(tokenizer, context, c))
  let ctx = splits[0]!.context
  if (ctx.length === 0) {
    // Like lm-eval: an empty context is scored after the end-of-text token.
    if (tokenizer.eosId === undefined && model.config.eosTokenId === undefined) throw new ScoringError("empty context and no end-of-text token to stand for it")
    ctx = [tokenizer.eosId ?? model.config.eosTokenId!]
  }
  const conts = splits.map((s) => s.continuation)
  const empty = conts.findIndex((c) => c.length === 0)
  if (empty >= 0) throw new ScoringError(`continuation ${empty} is empty after tokenization`)
  const longest = Math.max(...conts.map((c) => c.length))
  if (longest > window) throw new ScoringError(`a continuation has ${longest} tokens, more than the ${window}-token window`)
  // The model sees context + continuation minus its last token: that must fit in the window.
  const truncated = Math.max(0, ctx.length + longest - 1 - window)
  const prompt = ctx.slice(truncated)
  if (prompt.length === 0) throw new ScoringError("nothing of the context fits in the window")

  const first = model.forward([prompt], { keepCache: true })
  const lastRow = tf.tidy(() => tf.reshape(tf.slice(first.logits, [0, prompt.length - 1, 0], [1, 1, -1]), [1, -1]) as tf.Tensor2D)
  first.logits.dispose()
  const cache = first.cache!
  const firstTokens = conts.map((c) => c[0]!)
  const head = await pick(tf.tidy(() => tf.tile(lastRow, [conts.length, 1]) as tf.Tensor2D), firstTokens)
  lastRow.dispose()

  const n = conts.length
  const width = longest - 1
  const results: Array<{ lp: Array<number>; greedy: boolean }> = conts.map((_, i) => ({ lp: [head.logprobs[i]!], greedy: head.argmax[i] === firstTokens[i] }))
  if (width > 0) {
    const tiled = {
      k: cache.k.map((k) => tf.tile(k, [n, 1, 1, 1]) as tf.Tensor4D),
      v: cache.v.map((v) => tf.tile(v, [n, 1, 1, 1]) as tf.Tensor4D),
      length: cache.length,
      valid: conts.map(() => cache.valid[0]!)
    }
    const pad = model.config.eosTokenId ?? 0
    const rows = conts.map((c) => Array.from({ length: width }, (_, j) => c[j] ?? pad))
    const valid = conts.map((c) => Array.from({ length: width }, (_, j) => (j < c.length - 1 ? 1 : 0)))
    const { logits } = model.forward(rows, { cache: tiled, valid })
    disposeCache(tiled)
    // Row r, column j predicts token j + 1 of option r; padded columns target token 0 and are ignored.
    const targets = conts.flatMap((c) => Array.from({ length: width }, (_, j) => c[j + 1] ?? 0))
    const flat = tf.reshape(logits, [n * width, -1]) as tf.Tensor2D
    const picked = await pick(flat, targets)
    tf.dispose([logits, flat])
    conts.forEach((c, r) => {
      for (let j = 0; j < c.length - 1; j++) {
        results[r]!.lp.push(picked.logprobs[r * width + j]!)
        if (picked.argmax[r * width + j] !== c[j + 1]) results[r]!.greedy = false
      }
    })
  }
  disposeCache(cache)
  return {
    options: results.map((r, i) => ({ tokenIds: conts[i]!, tokenLogprobs: r.lp, logprob: r.lp.reduce((a, b) => a + b, 0), greedy: r.greedy })),
    truncatedTokens: truncated,
    contextTokens: prompt.length
  }
}
