/**
 * Agreement between judges on 1-5 scores. Both statistics match the reference implementations
 * (scikit-learn cohen_kappa_score, the `krippendorff` package); fixtures in test/fixtures/qa-metrics.
 */

/**
 * Cohen's weighted kappa of two raters over the same items (sklearn cohen_kappa_score with
 * `labels` and weights "linear" or "quadratic"). Undefined (NaN) when expected disagreement is 0.
 */
export const weightedKappa = (a: ReadonlyArray<number>, b: ReadonlyArray<number>, labels: ReadonlyArray<number>, weights: "linear" | "quadratic" = "quadratic"): number => {
  if (a.length !== b.length) throw new Error(`weightedKappa: ${a.length} vs ${b.length} ratings`)
  const k = labels.length
  const index = new Map(labels.map((l, i) => [l, i]))
  const observed = Array.from({ length: k }, () => new Array<number>(k).fill(0))
  for (let i = 0; i < a.length; i++) {
    const x = index.get(a[i]!)
    const y = index.get(b[i]!)
    if (x === undefined || y === undefined) throw new Error(`weightedKappa: rating outside labels at ${i}`)
    observed[x]![y]!++
  }
  const rows = observed.map((r) => r.reduce((s, v) => s + v, 0))
  const cols = labels.map((_, j) => observed.reduce((s, r) => s + r[j]!, 0))
  const n = a.length
  let num = 0
  let den = 0
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      const w = weights === "linear" ? Math.abs(i - j) : (i - j) ** 2
      num += w * observed[i]![j]!
      den += w * (rows[i]! * cols[j]!) / n
    }
  }
  return den === 0 ? NaN : 1 - num / den
}

/**
 * Krippendorff's alpha for reliability data: one row per judge, one column per item, undefined
 * where a judge did not score the item. Metric "interval" (δ² = (c−k)²) or "ordinal" (δ² from
 * the cumulative value frequencies), as in the `krippendorff` package.
 */
export const krippendorffAlpha = (data: ReadonlyArray<ReadonlyArray<number | undefined>>, metric: "interval" | "ordinal" = "ordinal"): number => {
  const values = [...new Set(data.flat().filter((v): v is number => v !== undefined))].sort((x, y) => x - y)
  const idx = new Map(values.map((v, i) => [v, i]))
  const v = values.length
  const o = Array.from({ length: v }, () => new Array<number>(v).fill(0))
  const units = data[0]?.length ?? 0
  for (let u = 0; u < units; u++) {
    const present = data.map((row) => row[u]).filter((x): x is number => x !== undefined)
    const m = present.length
    if (m < 2) continue
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        if (i === j) continue
        o[idx.get(present[i]!)!]![idx.get(present[j]!)!]! += 1 / (m - 1)
      }
    }
  }
  const nc = o.map((row) => row.reduce((s, x) => s + x, 0))
  const n = nc.reduce((s, x) => s + x, 0)
  const delta = (c: number, k: number): number => {
    if (metric === "interval") return (values[c]! - values[k]!) ** 2
    const [lo, hi] = c <= k ? [c, k] : [k, c]
    let sum = 0
    for (let g = lo; g <= hi; g++) sum += nc[g]!
    return (sum - (nc[c]! + nc[k]!) / 2) ** 2
  }
  let dObs = 0
  let dExp = 0
  for (let c = 0; c < v; c++) {
    for (let k = 0; k < v; k++) {
      const d = delta(c, k)
      dObs += o[c]![k]! * d
      dExp += nc[c]! * nc[k]! * d
    }
  }
  return dExp === 0 ? NaN : 1 - ((n - 1) * dObs) / dExp
}
