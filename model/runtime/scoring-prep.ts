import { moveTrailingWhitespace } from "../../lib/python-whitespace.ts"
import type { TextTokenizer } from "../formats/tokenizer/tokenizer.ts"

/**
 * What every scoring path (the tfjs runtime, fleuve's WGSL engine) shares: the result types, the
 * lm-evaluation-harness split of context and continuation, and the truncation to the window with
 * its errors. One function for both, so both paths score exactly the same tokens.
 */

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
 * lm-evaluation-harness split: all trailing whitespace of the context (Python's `str.rstrip()`:
 * spaces, tabs, newlines, CRLF, NBSP, U+001C–U+001F, not U+FEFF) moves to the continuation; the
 * continuation's tokens are enc(context + continuation)[len(enc(context)):]. Moving only spaces
 * would keep a trailing newline in the context (about 1 nat off on every option) and, for a tab,
 * drop the continuation's first character where the tokenizer merges it with the tab.
 */
export const splitContinuation = (tokenizer: TextTokenizer, context: string, continuation: string): { context: Array<number>; continuation: Array<number> } => {
  const { context: ctx, continuation: cont } = moveTrailingWhitespace(context, continuation)
  const ctxIds = tokenizer.encode(ctx)
  const whole = tokenizer.encode(ctx + cont)
  return { context: ctxIds, continuation: whole.slice(ctxIds.length) }
}

/** One context's options, tokenized and cut to the window. */
export interface PreparedContinuations {
  /** the context tokens the model sees (left-truncated to the window) */
  readonly prompt: ReadonlyArray<number>
  /** each option's continuation tokens (never empty) */
  readonly continuations: ReadonlyArray<ReadonlyArray<number>>
  /** the most continuation tokens of any option */
  readonly longest: number
  /** context tokens dropped on the left */
  readonly truncated: number
}

/**
 * Tokenizes the options of one context and fits them to `window`: the model sees context +
 * continuation minus its last token, so the context loses tokens on the left until the longest
 * option fits. An empty context stands as the end-of-text token, as in lm-eval.
 */
export const prepareContinuations = (
  tokenizer: TextTokenizer,
  context: string,
  continuations: ReadonlyArray<string>,
  options: { readonly window: number; readonly eosTokenId: number | undefined }
): PreparedContinuations => {
  if (continuations.length === 0) throw new ScoringError("no continuations to score")
  const window = options.window
  const splits = continuations.map((c) => splitContinuation(tokenizer, context, c))
  let ctx = splits[0]!.context
  if (ctx.length === 0) {
    // Like lm-eval: an empty context is scored after the end-of-text token.
    if (tokenizer.eosId === undefined && options.eosTokenId === undefined) throw new ScoringError("empty context and no end-of-text token to stand for it")
    ctx = [tokenizer.eosId ?? options.eosTokenId!]
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
  return { prompt, continuations: conts, longest, truncated }
}

/** Sums per-token scores into the result both paths return. */
/**
 * Both scoring paths end here. A NaN or infinite log-prob (the logits overflowed, or were NaN) is
 * a ScoringError naming the option and token: callers turn it into a failed request (a dead
 * letter), never into a score — NaN compared false everywhere and ties went to the first option.
 */
export const scoredContext = (prepared: PreparedContinuations, perOption: ReadonlyArray<{ readonly logprobs: ReadonlyArray<number>; readonly greedy: boolean }>): ScoredContext => {
  perOption.forEach((r, i) => {
    const j = r.logprobs.findIndex((lp) => !Number.isFinite(lp))
    if (j >= 0) throw new ScoringError(`non-finite log-prob (${r.logprobs[j]}) for token ${j} of continuation ${i}: the model's logits are not finite`)
  })
  return scoredContextUnchecked(prepared, perOption)
}

const scoredContextUnchecked = (prepared: PreparedContinuations, perOption: ReadonlyArray<{ readonly logprobs: ReadonlyArray<number>; readonly greedy: boolean }>): ScoredContext => ({
  options: perOption.map((r, i) => ({ tokenIds: prepared.continuations[i]!, tokenLogprobs: r.logprobs, logprob: r.logprobs.reduce((a, b) => a + b, 0), greedy: r.greedy })),
  truncatedTokens: prepared.truncated,
  contextTokens: prepared.prompt.length
})
