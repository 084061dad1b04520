import { signatureKernel } from "./minhash-kernel.ts"

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

export const fnv1a = (s: string, seed = 0x811c9dc5) => {
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

/** Per ASCII code: the simplified code unit it becomes, or -1 where it breaks a word (space, punctuation, symbol). */
const ASCII = new Int32Array(128)
for (let c = 0; c < 128; c++) {
  const s = String.fromCharCode(c).toLowerCase().replace(/\d/g, "0").replace(/[\p{P}\p{S}]/gu, " ")
  ASCII[c] = /\s/.test(s) ? -1 : s.charCodeAt(0)
}
/** Non-ASCII code point → its simplified code units (-1 for a break), computed the slow way once. */
const simplifiedUnits = new Map<number, Int32Array>()
const unitsOf = (cp: number): Int32Array => {
  let units = simplifiedUnits.get(cp)
  if (units === undefined) {
    const s = String.fromCodePoint(cp).toLowerCase().normalize("NFD").replace(/\p{M}/gu, "").replace(/\d/g, "0").replace(/[\p{P}\p{S}]/gu, " ")
    // Unit by unit (an astral character stays two units, as fnv1a reads it); whitespace is all BMP.
    units = Int32Array.from({ length: s.length }, (_, i) => (/\s/.test(s[i]!) ? -1 : s.charCodeAt(i)))
    if (simplifiedUnits.size < 65536) simplifiedUnits.set(cp, units)
  }
  return units
}

/**
 * fnv1a of each word of simplify(text), without building the words: one pass over the text, each
 * code point mapped as simplify maps it (ASCII through a table, others through the slow path once
 * and cached). Lower-casing is per code point, which equals the whole string's except for Greek
 * capital sigma (final-sigma rule): a text holding one takes the slow path.
 */
export const simplifiedWordHashes = (text: string): Uint32Array => {
  if (text.includes("\u03A3")) return Uint32Array.from(simplify(text), (w) => fnv1a(w))
  const out = new Uint32Array((text.length >> 1) + 1)
  let words = 0
  let h = 0x811c9dc5
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 128) {
      const u = ASCII[c]!
      if (u < 0) {
        if (inWord) out[words++] = h >>> 0
        inWord = false
        h = 0x811c9dc5
      } else {
        h = Math.imul(h ^ u, 0x01000193)
        inWord = true
      }
      continue
    }
    const cp = text.codePointAt(i)!
    if (cp > 0xffff) i++
    const units = unitsOf(cp)
    for (let j = 0; j < units.length; j++) {
      const u = units[j]!
      if (u < 0) {
        if (inWord) out[words++] = h >>> 0
        inWord = false
        h = 0x811c9dc5
      } else {
        h = Math.imul(h ^ u, 0x01000193)
        inWord = true
      }
    }
  }
  if (inWord) out[words++] = h >>> 0
  return out.subarray(0, words)
}

export class MinHasher {
  private readonly seeds: Uint32Array
  private readonly kernel = signatureKernel()

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
    const wordHashes = simplifiedWordHashes(text)
    return this.kernel ? this.kernel.signature(wordHashes, this.seeds, this.config.ngram) : this.signatureOf(wordHashes)
  }

  /** The JavaScript loop: where WebAssembly SIMD is missing, and the kernel's reference in tests. */
  signatureOf(wordHashes: Uint32Array): Uint32Array {
    const words = wordHashes.length
    const n = this.seeds.length
    const k = this.config.ngram
    const count = Math.max(1, words - k + 1)
    // Combine k word hashes per shingle (order-sensitive), then keep each distinct shingle once.
    const shingles = new Uint32Array(count)
    for (let i = 0; i < count; i++) {
      let h = 0x1234567
      for (let j = i; j < Math.min(words, i + k); j++) h = fmix32(Math.imul(h, 31) ^ wordHashes[j]!)
      shingles[i] = h
    }
    shingles.sort()
    let distinct = 0
    for (let i = 0; i < count; i++) if (i === 0 || shingles[i] !== shingles[i - 1]) shingles[distinct++] = shingles[i]!
    // Hash function outer, shingles inner: the running minimum stays in a register. Values are
    // compared as signed 32-bit integers with the sign bit flipped, which orders them as unsigned
    // without leaving V8's small-integer representation.
    const sig = new Uint32Array(n)
    for (let f = 0; f < n; f++) {
      const seed = this.seeds[f]! | 0
      let min = 0x7fffffff
      for (let i = 0; i < distinct; i++) {
        let v = shingles[i]! ^ seed
        v ^= v >>> 16
        v = Math.imul(v, 0x85ebca6b)
        v ^= v >>> 13
        v = Math.imul(v, 0xc2b2ae35)
        v ^= v >>> 16
        v ^= 0x80000000
        if (v < min) min = v
      }
      sig[f] = (min ^ 0x80000000) >>> 0
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

/**
 * Band key → representative document, per band; survives across runs through the warehouse.
 * One open-addressing table per band (keys as doubles: they are 52-bit integers; values as
 * indexes into the list of representatives) instead of a Map per band: a Map entry with a key
 * past 31 bits costs ~50 bytes and a boxed number, a slot here 12 bytes at most half full.
 * Answers exactly as Maps would (test/corpus/fast-paths.test.ts drives both with the same calls).
 */
export class LshIndex {
  private tables: Array<BandTable>
  /**
   * Representatives by index. No map back from id to index: add's representative is almost always
   * the last one find returned (a duplicate) or a new document; anything else gets a new index,
   * which is harmless (lookups return the id, and forget compares ids).
   */
  private readonly representatives: Array<string> = []
  /**
   * Each representative's own band keys (`bands` doubles an index; NaN first where none were
   * given), for the similarity of its duplicates: typed arrays instead of a Map from id to an
   * array of numbers, ~170 bytes a kept document less (issue 23, memory). In chunks of
   * CHUNK representatives: no spare capacity and no copy when it grows.
   */
  private readonly ownBands: Array<Float64Array> = []
  private lastFound = -1

  constructor(readonly bands: number) {
    this.tables = Array.from({ length: bands }, () => new BandTable())
  }

  /**
   * Empties the index (a run that is over): its tables become garbage for the next collection.
   * Returns the bytes of typed arrays it held.
   */
  release(): number {
    let bytes = this.ownBands.length * CHUNK * this.bands * 8
    for (const t of this.tables) bytes += t.bytes
    this.tables = Array.from({ length: this.bands }, () => new BandTable())
    this.representatives.length = 0
    this.ownBands.length = 0
    this.lastFound = -1
    return bytes
  }

  /** The band keys the representative `find` last returned was added with as its own, if any. */
  foundBands(): Float64Array | undefined {
    if (this.lastFound < 0) return undefined
    const chunk = this.ownBands[Math.floor(this.lastFound / CHUNK)]!
    const at = (this.lastFound % CHUNK) * this.bands
    return Number.isNaN(chunk[at]) ? undefined : chunk.subarray(at, at + this.bands)
  }

  /** The representative of the first band that matches, if any. */
  find(keys: ReadonlyArray<number>): string | undefined {
    for (let b = 0; b < keys.length; b++) {
      const hit = this.tables[b]!.get(keys[b]!)
      if (hit >= 0) {
        this.lastFound = hit
        return this.representatives[hit]
      }
    }
    return undefined
  }

  /**
   * Points every band key of a document at `representative`, where no earlier document holds it.
   * `own`: the keys are the representative's own (a kept document, not one of its duplicates):
   * foundBands answers them, the last given for it.
   */
  add(keys: ReadonlyArray<number>, representative: string, own = false) {
    const last = this.representatives.length - 1
    let r = this.representatives[this.lastFound] === representative ? this.lastFound : this.representatives[last] === representative ? last : -1
    if (r < 0) {
      r = this.representatives.length
      this.representatives.push(representative)
      if (r % CHUNK === 0) this.ownBands.push(new Float64Array(CHUNK * this.bands))
      this.ownBands[Math.floor(r / CHUNK)]![(r % CHUNK) * this.bands] = NaN
    }
    if (own && keys.length === this.bands) this.ownBands[Math.floor(r / CHUNK)]!.set(keys, (r % CHUNK) * this.bands)
    for (let b = 0; b < keys.length; b++) this.tables[b]!.setIfAbsent(keys[b]!, r)
  }

  forget(keys: ReadonlyArray<number>, representative: string) {
    for (let b = 0; b < keys.length; b++) this.tables[b]!.deleteIf(keys[b]!, (v) => this.representatives[v] === representative)
  }
}

const CHUNK = 4096
const EMPTY = -1
const DELETED = -2

/** Non-negative safe integer → non-negative int, open addressing with linear probing and tombstones. */
class BandTable {
  private keys = new Float64Array(64)
  private values = new Int32Array(64).fill(EMPTY)
  private used = 0

  get bytes() {
    return this.keys.byteLength + this.values.byteLength
  }

  private slotOf(key: number): number {
    // Both halves of the 52-bit key, mixed (fmix32 of their xor).
    return fmix32((key % 0x100000000) ^ Math.floor(key / 0x100000000)) & (this.values.length - 1)
  }

  get(key: number): number {
    const mask = this.values.length - 1
    for (let i = this.slotOf(key); ; i = (i + 1) & mask) {
      const v = this.values[i]!
      if (v === EMPTY) return -1
      if (v !== DELETED && this.keys[i] === key) return v
    }
  }

  setIfAbsent(key: number, value: number) {
    if (this.get(key) >= 0) return
    // At most 3/4 full (live and tombstones), at least 3/8 live after growing: 12-byte slots make
    // ~20 bytes a key on average, where at most half full made ~32 (issue 23, memory).
    if ((this.used + 1) * 4 > this.values.length * 3) this.grow()
    const mask = this.values.length - 1
    let i = this.slotOf(key)
    while (this.values[i]! >= 0) i = (i + 1) & mask
    if (this.values[i] === EMPTY) this.used++
    this.keys[i] = key
    this.values[i] = value
  }

  deleteIf(key: number, holds: (value: number) => boolean) {
    const mask = this.values.length - 1
    for (let i = this.slotOf(key); ; i = (i + 1) & mask) {
      const v = this.values[i]!
      if (v === EMPTY) return
      if (v !== DELETED && this.keys[i] === key) {
        if (holds(v)) this.values[i] = DELETED
        return
      }
    }
  }

  private grow() {
    const keys = this.keys
    const values = this.values
    let live = 0
    for (let i = 0; i < values.length; i++) if (values[i]! >= 0) live++
    // Tombstones are dropped on a rehash; the table only doubles when the live entries need it.
    const size = live * 2 > values.length ? values.length * 2 : values.length
    this.keys = new Float64Array(size)
    this.values = new Int32Array(size).fill(EMPTY)
    this.used = 0
    const mask = size - 1
    for (let j = 0; j < values.length; j++) {
      if (values[j]! < 0) continue
      let i = this.slotOf(keys[j]!)
      while (this.values[i] !== EMPTY) i = (i + 1) & mask
      this.keys[i] = keys[j]!
      this.values[i] = values[j]!
      this.used++
    }
  }
}
