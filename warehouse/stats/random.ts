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
  /** Uniform 32-bit unsigned integer. */
  readonly u32: () => number
  /** Uniform double in [0, 1) with 53 random bits. */
  readonly next: () => number
}

const TWO_POW_32 = 4294967296

/** sfc32 (Chris Doty-Humphrey's small fast counting generator, 128-bit state). */
class Sfc32 implements Random {
  private a: number
  private b: number
  private c: number
  private d: number
  constructor(seed: number) {
    const init = splitmix32(seed)
    this.a = init()
    this.b = init()
    this.c = init()
    this.d = init()
    for (let i = 0; i < 12; i++) this.u32()
  }
  readonly u32 = (): number => {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }
  readonly next = (): number => ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992
}

export const seededRandom = (label: string): Random => new Sfc32(hashSeed(label))

/** Uniform in (0, 1) from 32 bits: ample resolution for the rejection and inversion steps. */
const uniform32 = (rng: Random) => (rng.u32() + 0.5) / TWO_POW_32

/** Uniform integer in [0, n) for n < 2^21 (bias below n/2^32). */
export const uniformIndex = (rng: Random, n: number): number => Math.floor((rng.u32() * n) / TWO_POW_32)

// ln k! from a table that grows to the largest n seen (bootstraps reuse the same n many times).
let LN_FACT = new Float64Array(0)
const ensureLnFactorial = (n: number) => {
  if (n < LN_FACT.length) return
  const table = new Float64Array(Math.max(n + 1, 2 * LN_FACT.length, 256))
  for (let k = 2; k < table.length; k++) table[k] = lgamma(k + 1)
  LN_FACT = table
}

/**
 * One draw of Binomial(n, p): inversion when n·p < 10, else Hörmann's BTRS transformed rejection
 * (exact; the generator numpy and TensorFlow use for large means).
 */
export const binomial = (rng: Random, n: number, p: number): number => {
  if (n <= 0 || p <= 0) return 0
  if (p >= 1) return n
  if (p > 0.5) return n - binomial(rng, n, 1 - p)
  ensureLnFactorial(n)
  const lnFactorial = LN_FACT
  const q = 1 - p
  if (n * p < 10) {
    const s = p / q
    const a = (n + 1) * s
    let r = Math.exp(n * Math.log1p(-p))
    let u = uniform32(rng)
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
  const h = lnFactorial[m]! + lnFactorial[n - m]!
  for (;;) {
    const u = uniform32(rng) - 0.5
    let v = uniform32(rng)
    const us = 0.5 - Math.abs(u)
    const k = Math.floor(((2 * a) / us + b) * u + c)
    if (k < 0 || k > n) continue
    if (us >= 0.07 && v <= vr) return k
    v = Math.log((v * alpha) / (a / (us * us) + b))
    if (v <= h - lnFactorial[k]! - lnFactorial[n - k]! + (k - m) * lpq) return k
  }
}
