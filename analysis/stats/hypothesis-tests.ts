/**
 * Test statistics and p-values from the sufficient statistics the SQL computes. Each function
 * mirrors one scipy routine (named in its comment) and returns a defined, non-NaN result for the
 * degenerate cases, with a `note` saying which rule applied (see docs/analyses.md).
 */
import { binomCdf, chi2Sf, fSf, normalTwoSided, studentizedRangePpfInf, tPpf, tTwoSided } from "./distributions.ts"

/** What SQL tells us about the paired differences d = candidate − reference of one cell. */
export interface PairedStats {
  /** Items both systems have. */
  readonly n: number
  readonly meanDiff: number
  /** Sample standard deviation of d (ddof = 1); null when n < 2. */
  readonly sdDiff: number | null
  /** Number of distinct values of d: 1 means a constant difference. */
  readonly distinct: number
  /** Wilcoxon: rank sums of the positive and negative differences (ranks of |d| among non-zero d, ties averaged). */
  readonly wPlus: number
  readonly wMinus: number
  readonly nonzero: number
  /** Σ (t³ − t) over groups of tied non-zero |d|. */
  readonly tieTerm: number
}

export interface TestResult {
  readonly statistic: number
  readonly pValue: number
  readonly note: string | null
}

export interface TTestResult extends TestResult {
  readonly df: number
  readonly ciLow: number
  readonly ciHigh: number
}

export const NOTE_NO_ITEMS = "no shared items"
export const NOTE_ONE_ITEM = "fewer than 2 shared items"
export const NOTE_ALL_ZERO = "all differences zero"
export const NOTE_CONSTANT = "constant non-zero difference"
export const NOTE_NO_DISCORDANT = "no discordant pairs"

/**
 * Paired t (scipy.stats.ttest_rel) with the 95% CI mean_diff ± t(0.975, n−1)·sd/√n.
 * Degenerate: no or one shared item, or all differences zero → statistic 0, p = 1, CI collapsed on
 * the mean difference; a constant non-zero difference → ±∞ and p = 0, as scipy.
 */
export const pairedT = (s: PairedStats, confidence = 0.95): TTestResult => {
  if (s.n === 0) return { statistic: 0, df: 0, pValue: 1, ciLow: 0, ciHigh: 0, note: NOTE_NO_ITEMS }
  if (s.n === 1) return { statistic: 0, df: 0, pValue: 1, ciLow: s.meanDiff, ciHigh: s.meanDiff, note: NOTE_ONE_ITEM }
  const df = s.n - 1
  if (s.distinct === 1 || s.sdDiff === null || s.sdDiff === 0) {
    if (s.meanDiff === 0) return { statistic: 0, df, pValue: 1, ciLow: 0, ciHigh: 0, note: NOTE_ALL_ZERO }
    return { statistic: s.meanDiff > 0 ? Infinity : -Infinity, df, pValue: 0, ciLow: s.meanDiff, ciHigh: s.meanDiff, note: NOTE_CONSTANT }
  }
  const se = s.sdDiff / Math.sqrt(s.n)
  const statistic = s.meanDiff / se
  const half = tPpf(0.5 + confidence / 2, df) * se
  return { statistic, df, pValue: tTwoSided(statistic, df), ciLow: s.meanDiff - half, ciHigh: s.meanDiff + half, note: null }
}

/**
 * Wilcoxon signed-rank, scipy.stats.wilcoxon(x, y, zero_method='wilcox', correction=False,
 * method='approx'): statistic min(W+, W−), z from the tie-corrected variance, two-sided normal p.
 * Degenerate: no non-zero difference → statistic 0, p = 1.
 */
export const wilcoxon = (s: PairedStats): TestResult => {
  if (s.nonzero === 0) return { statistic: 0, pValue: 1, note: s.n === 0 ? NOTE_NO_ITEMS : NOTE_ALL_ZERO }
  const nz = s.nonzero
  const statistic = Math.min(s.wPlus, s.wMinus)
  const mean = (nz * (nz + 1)) / 4
  const variance = (nz * (nz + 1) * (2 * nz + 1)) / 24 - s.tieTerm / 48
  const z = (statistic - mean) / Math.sqrt(variance)
  return { statistic, pValue: normalTwoSided(z), note: null }
}

/**
 * Exact McNemar: scipy.stats.binomtest(b, b + c, 0.5).pvalue, which for p = 1/2 is
 * min(1, 2·P(X ≤ min(b, c))). No discordant pair → p = 1.
 */
export const mcnemar = (b: number, c: number): TestResult => {
  if (b + c === 0) return { statistic: 0, pValue: 1, note: NOTE_NO_DISCORDANT }
  const p = b === c ? 1 : Math.min(1, 2 * binomCdf(Math.min(b, c), b + c, 0.5))
  return { statistic: b, pValue: p, note: null }
}

export interface FriedmanResult {
  readonly chi2: number
  readonly pValue: number
  readonly imanDavenportF: number | null
  readonly imanDavenportP: number | null
  readonly cd: number
}

const qCache = new Map<string, number>()

/** Nemenyi critical difference q_α·√(k(k+1)/(6N)), q_α = studentized_range.ppf(1−α, k, ∞)/√2. */
export const nemenyiCd = (k: number, n: number, alpha: number): number => {
  const key = `${k}:${alpha}`
  let q = qCache.get(key)
  if (q === undefined) {
    q = studentizedRangePpfInf(1 - alpha, k) / Math.SQRT2
    qCache.set(key, q)
  }
  return q * Math.sqrt((k * (k + 1)) / (6 * n))
}

/**
 * Friedman χ² with the tie correction of scipy.stats.friedmanchisquare, from k systems, n blocks
 * (tasks), Σ_j R_j² (rank sums per system) and Σ (t³ − t) over tied groups within blocks.
 * Iman–Davenport F = (n−1)χ²/(n(k−1) − χ²) on (k−1, (k−1)(n−1)) df.
 * Degenerate: every block all tied → χ² = 0, p = 1; n < 2 → Iman–Davenport undefined (null);
 * χ² at its maximum n(k−1) (every block ranks identically) → F = +∞, p = 0.
 */
export const friedman = (k: number, n: number, sumRankSquares: number, tieTerm: number, alpha: number): FriedmanResult => {
  const correction = 1 - tieTerm / (n * k * (k * k - 1))
  const raw = (12 / (n * k * (k + 1))) * sumRankSquares - 3 * n * (k + 1)
  const chi2 = correction <= 1e-12 ? 0 : Math.max(0, raw / correction)
  const pValue = chi2Sf(chi2, k - 1)
  let imanDavenportF: number | null = null
  let imanDavenportP: number | null = null
  if (n >= 2) {
    const denom = n * (k - 1) - chi2
    if (denom <= 1e-12 * n * (k - 1)) {
      imanDavenportF = Infinity
      imanDavenportP = 0
    } else {
      imanDavenportF = ((n - 1) * chi2) / denom
      imanDavenportP = fSf(imanDavenportF, k - 1, (k - 1) * (n - 1))
    }
  }
  return { chi2, pValue, imanDavenportF, imanDavenportP, cd: nemenyiCd(k, n, alpha) }
}
