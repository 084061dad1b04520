/**
 * MinHash signatures and LSH banding with datatrove's defaults: word 5-gram shingles of the
 * simplified text (lower case, no diacritics, no punctuation, digits → 0), 14 bands × 8 rows.
 * Documents whose signatures agree on every row of at least one band are candidates: with these
 * settings a pair at Jaccard 0.8 is caught with probability 0.92, at 0.5 with 0.05.
 */
export interface MinHashConfig {
  readonly ngram: number
  readonly bands: number
  readonly rows: number
  readonly seed: number
}

export const defaultMinHashConfig: MinHashConfig = { ngram: 5, bands: 14, rows: 8, seed: 1 }

/** Murmur3's 32-bit finaliser: a cheap, well-mixed permutation of 32-bit integers. */
const fmix32 = (h: number) => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

const fnv1a = (s: string, seed = 0x811c9dc5) => {
  let h = seed
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** datatrove-style text simplification before shingling. */
export const simplify = (text: string): Array<string> =>
  text
    .toLowerCase()
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .replace(/\d/g, "0")
    .replace(/[\p{P}\p{S}]/gu, " ")
    .split(/\s+/)
    .filter((w) => w.length > 0)

export class MinHasher {
  private readonly seeds: Uint32Array

  constructor(readonly config: MinHashConfig = defaultMinHashConfig) {
    const n = config.bands * config.rows
    this.seeds = new Uint32Array(n)
    let s = config.seed >>> 0
    for (let i = 0; i < n; i++) {
      s = fmix32(s + 0x9e3779b9)
      this.seeds[i] = s
    }
  }

  /** The signature: per hash function, the minimum over the document's shingle hashes. */
  signature(text: string): Uint32Array {
    const words = simplify(text)
    const n = this.seeds.length
    const sig = new Uint32Array(n).fill(0xffffffff)
    const k = this.config.ngram
    const count = Math.max(1, words.length - k + 1)
    // Hash each word once, then combine k word hashes per shingle (order-sensitive).
    const wordHashes = new Uint32Array(words.length)
    for (let i = 0; i < words.length; i++) wordHashes[i] = fnv1a(words[i]!)
    const seen = new Set<number>()
    for (let i = 0; i < count; i++) {
      let h = 0x1234567
      for (let j = i; j < Math.min(words.length, i + k); j++) h = fmix32(Math.imul(h, 31) ^ wordHashes[j]!)
      if (seen.has(h)) continue
      seen.add(h)
      for (let f = 0; f < n; f++) {
        const v = fmix32(h ^ this.seeds[f]!)
        if (v < sig[f]!) sig[f] = v
      }
    }
    return sig
  }

  /**
   * One key per band, each a safe integer (52 bits from two hashes of the band's rows), so the
   * index can use numeric Map keys, which are smaller and faster than strings.
   */
  bandKeys(sig: Uint32Array): Array<number> {
    const { bands, rows } = this.config
    const keys: Array<number> = []
    for (let b = 0; b < bands; b++) {
      let h1 = 0x811c9dc5 ^ b
      let h2 = 0x1b873593 ^ b
      for (let r = 0; r < rows; r++) {
        const v = sig[b * rows + r]!
        h1 = fmix32(Math.imul(h1, 0x01000193) ^ v)
        h2 = fmix32(h2 + Math.imul(v, 0xcc9e2d51))
      }
      keys.push((h1 >>> 0) * 0x100000 + (h2 & 0xfffff))
    }
    return keys
  }
}

/** Band key → representative document, one map per band; survives across runs through the warehouse. */
export class LshIndex {
  private readonly tables: Array<Map<number, string>>

  constructor(readonly bands: number) {
    this.tables = Array.from({ length: bands }, () => new Map())
  }

  /** The representative of the first band that matches, if any. */
  find(keys: ReadonlyArray<number>): string | undefined {
    for (let b = 0; b < keys.length; b++) {
      const hit = this.tables[b]!.get(keys[b]!)
      if (hit !== undefined) return hit
    }
    return undefined
  }

  /** Points every band key of a document at `representative`, where no earlier document holds it. */
  add(keys: ReadonlyArray<number>, representative: string) {
    for (let b = 0; b < keys.length; b++) if (!this.tables[b]!.has(keys[b]!)) this.tables[b]!.set(keys[b]!, representative)
  }

  forget(keys: ReadonlyArray<number>, representative: string) {
    for (let b = 0; b < keys.length; b++) if (this.tables[b]!.get(keys[b]!) === representative) this.tables[b]!.delete(keys[b]!)
  }
}
