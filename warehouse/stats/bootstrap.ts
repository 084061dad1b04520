/**
 * Paired percentile bootstrap of the mean difference from the histogram of differences (value →
 * count), which SQL computes. Resampling n items with replacement is a multinomial draw of the
 * counts, done by conditional binomials: O(distinct values) per resample instead of O(n), and
 * distributed exactly as resampling the items. Percentiles as numpy.percentile (linear).
 */
import { decimalLattice, guideTable, invert, sumDistribution } from "./lattice.ts"
import { binomialP, binomialSmallP, lnFactorials, type Random } from "./random.ts"

export const percentile = (sorted: Float64Array, q: number): number => {
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.min(sorted.length - 1, lo + 1)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

// One binomial draw costs about as much as this many direct index draws (measured on Node 20).
const BINOMIAL_COST = 8

/** Resampled means of the items themselves: n uniform index draws per resample. */
const directMeans = (values: ReadonlyArray<number>, counts: ReadonlyArray<number>, resamples: number, rng: Random): Float64Array => {
  const items = new Float64Array(counts.reduce((a, b) => a + b, 0))
  let at = 0
  values.forEach((v, j) => {
    items.fill(v, at, at + counts[j]!)
    at += counts[j]!
  })
  const n = items.length
  const means = new Float64Array(resamples)
  for (let r = 0; r < resamples; r++) {
    let sum = 0
    for (let i = 0; i < n; i++) sum += items[rng.index(n)]!
    means[r] = sum / n
  }
  return means
}

/**
 * Resampled means (length `resamples`) of a histogram of values: by multinomial counts when there
 * are few distinct values, by direct index draws when nearly every item is distinct. Both are
 * exact draws of the same bootstrap distribution.
 */
export const bootstrapMeans = (values: ReadonlyArray<number>, counts: ReadonlyArray<number>, resamples: number, rng: Random): Float64Array => {
  const n = counts.reduce((a, b) => a + b, 0)
  if (values.length === 1) return new Float64Array(resamples).fill(values[0]!)
  const lattice = decimalLattice(values)
  const sums = lattice && sumDistribution(lattice.z, counts, n)
  if (lattice && sums) {
    const means = new Float64Array(resamples)
    const divisor = n * lattice.scale
    const guide = guideTable(sums.cdf)
    for (let r = 0; r < resamples; r++) means[r] = (sums.lowest + invert(sums.cdf, guide, rng.next())) / divisor
    return means
  }
  if (counts.reduce((a, b) => a + b, 0) <= BINOMIAL_COST * values.length) return directMeans(values, counts, resamples, rng)
  // Largest categories first: the remaining count reaches 0 sooner, so most resamples stop early.
  const order = counts.map((_, i) => i).sort((a, b) => counts[b]! - counts[a]! || a - b)
  const bins = order.length
  const v = Float64Array.from(order, (i) => values[i]!)
  const c = Float64Array.from(order, (i) => counts[i]!)
  // The conditional probability of bin j given the bins before it is c_j / (mass left), the same
  // in every resample: its binomial constants are computed once here, not once per draw.
  const flip = new Uint8Array(bins)
  const p = new Float64Array(bins)
  const q = new Float64Array(bins)
  const s = new Float64Array(bins)
  const log1mP = new Float64Array(bins)
  const lpq = new Float64Array(bins)
  let mass = n
  for (let j = 0; j < bins - 1; j++) {
    const k = binomialP(c[j]! / mass)
    flip[j] = k.flip ? 1 : 0
    p[j] = k.p
    q[j] = k.q
    s[j] = k.s
    log1mP[j] = k.log1mP
    lpq[j] = k.lpq
    mass -= c[j]!
  }
  const lnFact = lnFactorials(n)
  const means = new Float64Array(resamples)
  for (let r = 0; r < resamples; r++) {
    let left = n
    let sum = 0
    for (let j = 0; j < bins && left > 0; j++) {
      let draw: number
      if (j === bins - 1) draw = left
      else {
        const k = binomialSmallP(rng, left, p[j]!, q[j]!, s[j]!, log1mP[j]!, lpq[j]!, lnFact)
        draw = flip[j] === 1 ? left - k : k
      }
      sum += draw * v[j]!
      left -= draw
    }
    means[r] = sum / n
  }
  return means
}

/** Percentile CI at `confidence` of the mean difference; a histogram with no items gives [0, 0]. */
export const bootstrapCi = (values: ReadonlyArray<number>, counts: ReadonlyArray<number>, resamples: number, rng: Random, confidence = 0.95): readonly [number, number] => {
  if (values.length === 0) return [0, 0]
  const means = bootstrapMeans(values, counts, resamples, rng).sort()
  const tail = (1 - confidence) / 2
  return [percentile(means, tail), percentile(means, 1 - tail)]
}
