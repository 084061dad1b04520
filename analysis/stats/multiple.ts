/**
 * Multiple-comparison adjustments, as statsmodels.stats.multitest.multipletests. Inputs must be
 * numbers in [0, 1]: undefined tests enter the family as p = 1 (see docs/analyses.md), so no NaN
 * ever reaches here.
 */

/** Benjamini–Hochberg (method='fdr_bh'): p_(i)·m/i made monotone from the largest, capped at 1. */
export const benjaminiHochberg = (pValues: ReadonlyArray<number>): Array<number> => {
  const m = pValues.length
  const order = pValues.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0])
  const adjusted = new Array<number>(m)
  let running = 1
  for (let r = m - 1; r >= 0; r--) {
    const [p, i] = order[r]!
    running = Math.min(running, (p * m) / (r + 1))
    adjusted[i] = running
  }
  return adjusted
}

/** Bonferroni: min(1, m·p). */
export const bonferroni = (pValues: ReadonlyArray<number>): Array<number> => pValues.map((p) => Math.min(1, p * pValues.length))
