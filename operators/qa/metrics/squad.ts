import { frenchTokens, normalizeFrench } from "./french-normalize.ts"

/**
 * SQuAD v1.1 token F1 between a prediction and one gold answer: F1 over the multiset of shared
 * normalised tokens. As in the official script, two empty answers match (F1 1) and an empty one
 * against a non-empty one scores 0.
 */
export const tokenF1 = (prediction: string, gold: string): number => {
  const p = frenchTokens(prediction)
  const g = frenchTokens(gold)
  if (p.length === 0 || g.length === 0) return p.length === g.length ? 1 : 0
  const counts = new Map<string, number>()
  for (const t of g) counts.set(t, (counts.get(t) ?? 0) + 1)
  let common = 0
  for (const t of p) {
    const c = counts.get(t) ?? 0
    if (c > 0) {
      common++
      counts.set(t, c - 1)
    }
  }
  if (common === 0) return 0
  const precision = common / p.length
  const recall = common / g.length
  return (2 * precision * recall) / (precision + recall)
}

export const exactMatch = (prediction: string, gold: string): number => (normalizeFrench(prediction) === normalizeFrench(gold) ? 1 : 0)

/** Max over the gold answers, as SQuAD does. */
export const squadScores = (prediction: string, golds: ReadonlyArray<string>): { readonly f1: number; readonly em: number } => ({
  f1: Math.max(0, ...golds.map((g) => tokenF1(prediction, g))),
  em: Math.max(0, ...golds.map((g) => exactMatch(prediction, g)))
})
