/**
 * A small seeded generator (sfc32, seeded through splitmix32 from a string) and an exact binomial
 * sampler. Each bootstrap draws from its own stream, seeded by (seed, cell, system), so results
 * do not depend on the order in which cells are processed.
 */
import { lgamma } from "./special.ts"

const splitmix32 = (state: number) => () => {
  state = (state + 0x9e3779b9) | 0
  let z = state
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

/** FNV-1a over the string's UTF-16 units: a stable 32-bit seed for a label. */
export const hashSeed = (label: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193)
  return h >>> 0
}

export interface Random {
  /** Uniform double in [0, 1) with 53 random bits. */
  readonly next: () => number
}

export const seededRandom = (label: string): Random => {
  const init = splitmix32(hashSeed(label))
  let a = init()
  let b = init()
  let c = init()
  let d = init()
  const u32 = () => {
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return t >>> 0
  }
  for (let i = 0; i < 12; i++) u32()
  return { next: () => ((u32() >>> 5) * 67108864 + (u32() >>> 6)) / 9007199254740992 }
}

// ln k! for small k from a table, lgamma above.
const LN_FACT = Float64Array.from({ length: 256 }, (_, k) => (k < 2 ? 0 : lgamma(k + 1)))
const lnFactorial = (k: number) => (k < 256 ? LN_FACT[k]! : lgamma(k + 1))

/**
 * One draw of Binomial(n, p): inversion when n·p < 10, else Hörmann's BTRS transformed rejection
 * (exact; the generator numpy and TensorFlow use for large means).
 */
export const binomial = (rng: Random, n: number, p: number): number => {
  if (n <= 0 || p <= 0) return 0
  if (p >= 1) return n
  if (p > 0.5) return n - binomial(rng, n, 1 - p)
  const q = 1 - p
  if (n * p < 10) {
    const s = p / q
    const a = (n + 1) * s
    let r = Math.exp(n * Math.log1p(-p))
    let u = rng.next()
    let x = 0
    while (u > r) {
      u -= r
      x++
      if (x > n) return n
      r *= a / x - s
    }
    return x
  }
  const spq = Math.sqrt(n * p * q)
  const b = 1.15 + 2.53 * spq
  const a = -0.0873 + 0.0248 * b + 0.01 * p
  const c = n * p + 0.5
  const vr = 0.92 - 4.2 / b
  const alpha = (2.83 + 5.1 / b) * spq
  const lpq = Math.log(p / q)
  const m = Math.floor((n + 1) * p)
  const h = lnFactorial(m) + lnFactorial(n - m)
  for (;;) {
    const u = rng.next() - 0.5
    let v = rng.next()
    const us = 0.5 - Math.abs(u)
    const k = Math.floor(((2 * a) / us + b) * u + c)
    if (k < 0 || k > n) continue
    if (us >= 0.07 && v <= vr) return k
    v = Math.log((v * alpha) / (a / (us * us) + b))
    if (v <= h - lnFactorial(k) - lnFactorial(n - k) + (k - m) * lpq) return k
  }
}
