/**
 * The exact distribution of a bootstrap resample's sum when the values lie on a decimal lattice
 * (scores with a few decimals, 0/1 accuracies, 1–5 judge grades, and their differences).
 *
 * Resampling n items with replacement sums n independent draws from the histogram; on a lattice
 * v = z / 10^k (z integer) that sum's probability mass function is the n-fold convolution of the
 * histogram's, i.e. the inverse Fourier transform of φ(ω)^n where φ is the histogram's
 * characteristic function. One FFT, a pointwise power and one inverse FFT give it, on a window
 * wide enough (Bernstein's inequality) that the mass left outside, which would wrap around, is
 * below 1e-20. Drawing resampled means from that pmf by inversion is then an exact draw of the
 * item-resampling bootstrap (no normal approximation), up to floating-point rounding of the pmf
 * (about 1e-13 absolute), at a cost independent of the number of distinct values.
 */
import { inverseRealFft, realFft } from "./fft.ts"

/** Values as integers on the coarsest decimal lattice 10^-k (k ≤ maxDecimals) they all lie on, or null. */
export const decimalLattice = (values: ReadonlyArray<number>, maxDecimals = 6): { readonly z: Array<number>; readonly scale: number } | null => {
  for (let k = 0, scale = 1; k <= maxDecimals; k++, scale *= 10) {
    const z: Array<number> = []
    let fits = true
    for (const v of values) {
      const x = v * scale
      const r = Math.round(x)
      // Differences computed in SQL (0.71 − 0.7 = 0.010000000000000009) sit within rounding of a
      // lattice point; 1e-9 of a step separates that from a genuinely finer value.
      if (!(Math.abs(x - r) <= 1e-9 + Math.abs(x) * 1e-12) || Math.abs(r) > 2 ** 31) {
        fits = false
        break
      }
      z.push(r)
    }
    if (fits) return { z, scale }
  }
  return null
}

/** The largest window (FFT length) worth computing; wider distributions take the other routes. */
export const MAX_WINDOW = 2 ** 22

// ln(2 / 1e-20): Bernstein's two-sided tail bound at 1e-20.
const TAIL_LOG = Math.log(2 / 1e-20)

export interface SumDistribution {
  /** The smallest sum of the window: cdf[i] is P(sum ≤ lowest + i). */
  readonly lowest: number
  /** Cumulative probabilities over the window, ending at 1. */
  readonly cdf: Float64Array
}

/**
 * Distribution of the sum of `draws` independent draws from the integers `z` with weights
 * `counts`; null when its window would exceed MAX_WINDOW.
 */
export const sumDistribution = (z: ReadonlyArray<number>, counts: ReadonlyArray<number>, draws: number): SumDistribution | null => {
  const total = counts.reduce((a, b) => a + b, 0)
  let mean = 0
  for (let j = 0; j < z.length; j++) mean += (counts[j]! / total) * z[j]!
  // Shift the values by the integer nearest their mean: the phases of φ stay small, so raising it to
  // the n-th power loses no accuracy.
  const shift = Math.round(mean)
  let variance = 0
  let spread = 0
  for (let j = 0; j < z.length; j++) {
    variance += (counts[j]! / total) * (z[j]! - mean) ** 2
    spread = Math.max(spread, Math.abs(z[j]! - mean))
  }
  // Bernstein: P(|S − E S| ≥ t) ≤ 2 exp(−t² / (2 (n σ² + M t / 3))) ≤ 1e-20 for this t.
  const b = (TAIL_LOG * spread) / 3
  const t = b + Math.sqrt(b * b + 2 * TAIL_LOG * draws * variance)
  let size = 64
  while (size < 2 * t + 4) size *= 2
  if (size > MAX_WINDOW) return null
  // Sums must stay exact integers in a double.
  if (draws * (Math.abs(shift) + spread) + size > 2 ** 52) return null
  const center = Math.round(draws * (mean - shift))

  const pmf = new Float64Array(size)
  for (let j = 0; j < z.length; j++) {
    const at = (((z[j]! - shift) % size) + size) % size
    pmf[at] = pmf[at]! + counts[j]! / total
  }
  // The pmf is real: its spectrum at frequencies 0..size/2 determines the rest (half the work).
  const { re, im } = realFft(pmf)
  for (let k = 0; k < re.length; k++) {
    const x = re[k]!
    const y = im[k]!
    const logMagnitude = 0.5 * draws * Math.log(x * x + y * y)
    // |φ|^n below e^-60 (1e-26) adds nothing a double can hold to masses summing to 1: skip the
    // transcendental calls there (most of the spectrum, away from ω = 0).
    if (!(logMagnitude > -60)) {
      re[k] = 0
      im[k] = 0
      continue
    }
    const magnitude = Math.exp(logMagnitude)
    const phase = draws * Math.atan2(y, x)
    re[k] = magnitude * Math.cos(phase)
    im[k] = magnitude * Math.sin(phase)
  }
  const sum = inverseRealFft(re, im)

  // sum[i] is P(S ≡ i mod size); the window [center − size/2, center + size/2) holds all but 1e-20.
  const lowest = center - size / 2
  const first = ((lowest % size) + size) % size
  let peak = 0
  for (let i = 0; i < size; i++) peak = Math.max(peak, sum[i]!)
  // Values this small are at the level of the transforms' rounding noise (which can be negative):
  // they are left out, which drops at most window × floor ≈ 1e-12 of true mass from the far tails.
  const floor = peak * 1e-13
  const cdf = new Float64Array(size)
  let acc = 0
  for (let i = 0; i < size; i++) {
    const mass = sum[(first + i) % size]!
    if (mass > floor) acc += mass
    cdf[i] = acc
  }
  for (let i = 0; i < size; i++) cdf[i] = cdf[i]! / acc
  cdf[size - 1] = 1
  return { lowest: lowest + draws * shift, cdf }
}

/**
 * Inversion of a cdf in O(1) expected steps: guide[g] is the first index whose cdf exceeds g/size,
 * so a uniform u starts at guide[⌊u·size⌋] and walks forward past the entries ≤ u.
 */
export const guideTable = (cdf: Float64Array): Int32Array => {
  const size = cdf.length
  const guide = new Int32Array(size)
  let i = 0
  for (let g = 0; g < size; g++) {
    // cdf[i] ≤ g/size, multiplied through by size (a power of two: exact).
    while (i < size - 1 && cdf[i]! * size <= g) i++
    guide[g] = i
  }
  return guide
}

/** Index of the first cdf entry above u (u in [0, 1)), starting from the guide table. */
export const invert = (cdf: Float64Array, guide: Int32Array, u: number): number => {
  let i = guide[Math.floor(u * guide.length)]!
  while (cdf[i]! <= u && i < cdf.length - 1) i++
  return i
}
