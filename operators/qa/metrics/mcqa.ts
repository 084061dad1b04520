import type { OptionScore as OptionScoreSchema } from "../../../schemas/evaluation.ts"

type OptionScore = typeof OptionScoreSchema.Type

const LETTERS = "ABCDE"

/** The rule that turns option log-likelihoods into a predicted answer set; stored with the scores. */
export const ANSWER_SET_RULE = "above-uniform-1"

const argmax = (xs: ReadonlyArray<number>): number => {
  let best = 0
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i
  return best // ties go to the first option, as numpy.argmax does in lm-evaluation-harness
}

/**
 * Predicted answer set for multi-answer items (rule "above-uniform-1"): softmax the options'
 * log-likelihoods into a distribution over the options; predict every option at least as likely
 * as a uniform guess (p ≥ 1/n), and always the most likely one. Needs no knowledge of how many
 * answers are right, so it never leaks the gold count into the prediction.
 */
export const predictedSet = (options: ReadonlyArray<OptionScore>): Array<string> => {
  const lls = options.map((o) => o.logprob)
  const max = Math.max(...lls)
  const exps = lls.map((l) => Math.exp(l - max))
  const z = exps.reduce((a, b) => a + b, 0)
  const best = argmax(lls)
  return options.map((_, i) => i).filter((i) => i === best || exps[i]! / z >= 1 / options.length).map((i) => LETTERS[i]!)
}

export interface McqaScores {
  readonly acc: number
  readonly acc_norm: number
  readonly acc_bytes: number
  /** DrBenchmark Hamming score |pred ∩ gold| / |pred ∪ gold|. */
  readonly hamming: number
  /** Exact match ratio: the predicted set equals the gold set. */
  readonly emr: number
  readonly predicted: ReadonlyArray<string>
}

/**
 * lm-evaluation-harness conventions: acc is 1 when the argmax of the summed log-likelihoods is a
 * gold letter; acc_norm divides each log-likelihood by the continuation's length in characters,
 * acc_bytes by its UTF-8 bytes. Hamming and EMR score the predicted set of `predictedSet`.
 */
export const scoreMcqa = (options: ReadonlyArray<OptionScore>, gold: ReadonlyArray<string>): McqaScores => {
  const isGold = (i: number) => gold.includes(LETTERS[i]!)
  const acc = isGold(argmax(options.map((o) => o.logprob))) ? 1 : 0
  const accNorm = isGold(argmax(options.map((o) => o.logprob / Math.max(1, o.chars)))) ? 1 : 0
  const accBytes = isGold(argmax(options.map((o) => o.logprob / Math.max(1, o.bytes)))) ? 1 : 0
  const predicted = predictedSet(options)
  const inter = predicted.filter((l) => gold.includes(l)).length
  const union = new Set([...predicted, ...gold]).size
  const emr = predicted.length === gold.length && inter === gold.length ? 1 : 0
  return { acc, acc_norm: accNorm, acc_bytes: accBytes, hamming: union === 0 ? 0 : inter / union, emr, predicted }
}

/** Character and UTF-8 byte lengths of a continuation, as stored with every option score. */
export const continuationLengths = (continuation: string) => ({ chars: [...continuation].length, bytes: Buffer.byteLength(continuation, "utf8") })
