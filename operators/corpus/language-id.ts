import { readFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import { analysisOf, normalisedTextOf } from "./analysis-carrier.ts"
import { corpusStep, Verdict } from "./corpus-operator.ts"
import type { DocumentLedger } from "./ledger.ts"

export const LANGUAGES = ["fr", "en", "es", "it", "de"] as const
export type Language = (typeof LANGUAGES)[number]

// Resolved when read, not at load: worker bundles (no import.meta.url) get the texts handed over.
const trainingDir = () => join(dirname(fileURLToPath(import.meta.url)), "language-id")
const ORDERS = [1, 2, 3, 4] as const
/** Only the start of a long document is read: a few thousand characters decide its language. */
const MAX_CHARS = 1000
/** Softmax temperature on the per-n-gram mean log-likelihood; turns margins into a 0–1 confidence. */
const SCALE = 25

/** Lower-cased letters and apostrophes, other characters as word breaks, each word padded with spaces. */
const grams = (text: string, visit: (g: string) => void) => {
  const words = text.slice(0, MAX_CHARS).toLowerCase().replace(/’/g, "'").match(/[\p{L}']+/gu) ?? []
  for (const w of words) {
    const padded = ` ${w} `
    for (const n of ORDERS) for (let i = 0; i + n <= padded.length; i++) visit(padded.slice(i, i + n))
  }
}


/**
 * A character n-gram (1–4) naive Bayes language identifier, trained at load time from the
 * hand-written medical texts in operators/corpus/language-id/<lang>.txt (one per language).
 *
 * Identification is the chain's largest step, so n-grams are not built as strings: each UTF-16
 * unit of the training alphabet (the space, the apostrophe and the letters the training texts
 * use: a few dozen) gets a small index, an n-gram becomes the integer of its indices in base
 * 2^bits, and the integers are looked up in one open-addressing table. An n-gram holding a unit
 * outside the alphabet cannot have been seen in training: it reads the unseen row, as the string
 * lookup did. The visiting order and the values added are the string version's, so the scores
 * are bit for bit the same (test/corpus/language-id.test.ts compares them with it).
 */
export class LanguageIdentifier {
  /** n-gram → log P(n-gram | language), one slot per language, in LANGUAGES order. */
  private readonly logProb = new Map<string, Float64Array>()
  private readonly unseen = new Float64Array(LANGUAGES.length)
  /** UTF-16 unit → its index in the training alphabet (1-based); 0: not in it. */
  private readonly alphabet = new Uint8Array(65536)
  private readonly bits: number
  /** The n-gram table: keys (0 = empty slot) and, per slot, its row in `rows`. */
  private readonly keys: Int32Array
  private readonly rows: Float64Array
  private readonly mask: number
  /** 1- to 3-gram key → offset of its row in `rows` (-1: unseen); empty where keys are too wide. */
  private readonly direct: Int32Array
  /** Offset of the unseen row in `rows`. */
  private readonly unseenAt: number
  private readonly words: WordRows

  /** `wordCache`: how many distinct words' rows are kept (tests make it small to see it refill). */
  constructor(training: Readonly<Record<Language, string>> = loadTraining(), wordCache = 1 << 15) {
    this.words = new WordRows(wordCache)
    const vocabulary = new Set<string>()
    const counts = new Map<Language, Map<string, number>>()
    for (const lang of LANGUAGES) {
      const c = new Map<string, number>()
      grams(training[lang], (g) => {
        c.set(g, (c.get(g) ?? 0) + 1)
        vocabulary.add(g)
      })
      counts.set(lang, c)
    }
    // Additive smoothing with a small alpha: unseen n-grams cost a lot, but not infinitely.
    const alpha = 0.1
    LANGUAGES.forEach((lang, i) => {
      const c = counts.get(lang)!
      const total = [...c.values()].reduce((a, b) => a + b, 0)
      const denominator = total + alpha * (vocabulary.size + 1)
      this.unseen[i] = Math.log(alpha / denominator)
    })
    for (const g of vocabulary) {
      const row = new Float64Array(LANGUAGES.length)
      LANGUAGES.forEach((lang, i) => {
        const k = counts.get(lang)!.get(g)
        row[i] = k === undefined ? this.unseen[i]! : Math.log((k + alpha) / (Math.exp(-this.unseen[i]!) * alpha))
      })
      this.logProb.set(g, row)
    }
    // Every unit of every n-gram is in some 1-gram (a word's own units, and the padding space).
    let size = 0
    for (const g of vocabulary) if (g.length === 1 && this.alphabet[g.charCodeAt(0)] === 0) this.alphabet[g.charCodeAt(0)] = ++size
    this.bits = Math.max(1, Math.ceil(Math.log2(size + 1)))
    // A training alphabet too large for 4 units in 31 bits (or another number of languages than the
    // five accumulate unrolls): identify falls back to string n-grams.
    let slots = 16
    while (slots < vocabulary.size * 2) slots *= 2
    this.keys = new Int32Array(this.bits * ORDERS[ORDERS.length - 1]! <= 31 && LANGUAGES.length === 5 ? slots : 0)
    // One more row after the table's: the unseen row, so that every n-gram is an offset in `rows`.
    this.rows = new Float64Array((this.keys.length + 1) * LANGUAGES.length)
    this.unseenAt = this.keys.length * LANGUAGES.length
    this.rows.set(this.unseen, this.unseenAt)
    this.mask = slots - 1
    // 1- to 3-gram keys index a table of row offsets directly (6-bit units: 2^18 entries, 1 MB).
    this.direct = new Int32Array(this.keys.length > 0 && this.bits * 3 <= 20 ? 1 << (this.bits * 3) : 0).fill(-1)
    if (this.keys.length > 0) {
      for (const [g, row] of this.logProb) {
        let key = 0
        for (let j = 0; j < g.length; j++) key = (key << this.bits) | this.alphabet[g.charCodeAt(j)]!
        let slot = hashSlot(key) & this.mask
        while (this.keys[slot] !== 0) slot = (slot + 1) & this.mask
        this.keys[slot] = key
        this.rows.set(row, slot * LANGUAGES.length)
        if (g.length <= 3 && this.direct.length > 0) this.direct[key] = slot * LANGUAGES.length
      }
    }
  }

  /** The most likely language and a confidence in [0, 1]; undefined when the text has no letters. */
  identify(text: string): { lang: Language; score: number; scores: Record<Language, number> } | undefined {
    const ll = new Float64Array(LANGUAGES.length)
    const n = this.keys.length > 0 ? this.accumulate(text, ll, true) : this.accumulateStrings(text, ll)
    if (n === 0) return undefined
    return softmax(ll, n)
  }

  /**
   * identify's language, and a score that decides as identify's does: the same language, the
   * same score rounded to 4 decimals (what is stored), and the same side of each of
   * `thresholds`; its last bits may differ. Each distinct word's n-gram sums are kept (WordRows),
   * so a text costs one addition per word and language instead of one per n-gram. Those sums are
   * in another order than identify's, so this bounds the difference (both are recursive
   * summations of the same terms: each is within γ_k·Σ|term| of the exact sum, k the depth of
   * its summation tree; Higham, Accuracy and Stability of Numerical Algorithms, §4.2), carries it
   * through the softmax, and where a decision is within that bound of flipping, returns
   * identify's own answer (test/corpus/fast-paths.test.ts: equal decisions on random texts, and
   * with the bound made huge so that every text falls back).
   */
  identifyFor(text: string, thresholds: ReadonlyArray<number>): { lang: Language; score: number; scores: Record<Language, number> } | undefined {
    if (this.keys.length === 0) return this.identify(text)
    const ll = new Float64Array(LANGUAGES.length)
    const n = this.accumulate(text, ll, false)
    if (n === 0) return undefined
    const fast = softmax(ll, n)
    // Depth of either summation tree: at most one level per n-gram and per word.
    const depth = n + this.acc[6]! + 2
    const gamma = (depth * EPSILON) / (1 - depth * EPSILON)
    // The terms are log-probabilities, all negative: Σ|term| = |Σ term| (a bound on it, padded).
    let meanError = 0
    for (let i = 0; i < LANGUAGES.length; i++) meanError = Math.max(meanError, ((2 * gamma * Math.abs(ll[i]!) * 1.01) / n) * SCALE + 1e-15 * (Math.abs((ll[i]! / n) * SCALE) + 1))
    meanError *= this.slack
    // A softmax output moves by at most half the largest move of its inputs; plus the rounding of exp, sums and the division.
    const scoreError = meanError + 1e-14
    const best = LANGUAGES.indexOf(fast.lang)
    const top = (ll[best]! / n) * SCALE
    let close = false
    for (let i = 0; i < LANGUAGES.length; i++) if (i !== best && top - (ll[i]! / n) * SCALE <= 2 * meanError + 1e-14) close = true
    const x = fast.score * 1e4
    if (Math.abs(x - Math.floor(x) - 0.5) <= scoreError * 1e4 + 1e-9) close = true
    for (const t of thresholds) if (Math.abs(fast.score - t) <= scoreError) close = true
    if (!close) return fast
    this.fallbacks++
    return this.identify(text)
  }

  /** How many texts identifyFor handed to identify (a decision within the bound of flipping). */
  fallbacks = 0

  /** How many times the bound identifyFor uses is widened (1; tests make it huge to exercise the fallback). */
  slack = 1

  /**
   * Adds each n-gram's row to `ll` in grams' order; returns how many n-grams there were. Words
   * are read unit by unit as grams' regular expression reads them (letters and apostrophes, an
   * astral letter being two units), from the same lower-cased prefix.
   */
  private accumulate(text: string, ll: Float64Array, exact: boolean): number {
    const lower = text.slice(0, MAX_CHARS).toLowerCase()
    const letters = wordUnits()
    const { alphabet } = this
    const space = alphabet[32]!
    const apostrophe = alphabet[39]!
    // The five sums (in LANGUAGES order) and the count, carried from word to word.
    const acc = this.acc
    acc.set(ll)
    acc[5] = 0
    acc[6] = 0
    let units = this.units
    let len = 1
    units[0] = space
    for (let i = 0; i <= lower.length; i++) {
      const c = i < lower.length ? lower.charCodeAt(i) : 32
      let inWord = letters[c] === 1
      let second = -1
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < lower.length) {
        const d = lower.charCodeAt(i + 1)
        if (d >= 0xdc00 && d <= 0xdfff && isLetterCodePoint(0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00))) {
          inWord = true
          second = d
          i++
        }
      }
      if (inWord) {
        if (units.length < len + 3) units = this.units = grow(units)
        units[len++] = c === 0x2019 ? apostrophe : alphabet[c]!
        if (second >= 0) units[len++] = alphabet[second]!
      } else if (len > 1) {
        units[len++] = space
        if (exact) this.addWord(units, len, acc)
        else this.addWordSums(units, len, acc)
        len = 1
      }
    }
    ll.set(acc.subarray(0, 5))
    return acc[5]!
  }

  /** The five sums (in LANGUAGES order), the n-gram count and the word count, carried from word to word. */
  private readonly acc = new Float64Array(7)
  /** Per position of the word: the key of the n-gram starting there, and whether it holds a unit outside the alphabet. */
  private keyAt = new Int32Array(256)
  private badAt = new Uint8Array(256)

  private units = new Uint8Array(256)

  /**
   * Adds the n-grams of one padded word (alphabet indices) to `acc`, 1-grams first, as grams
   * visits them. A word's n-grams depend only on its units, so their row offsets are kept per
   * word (WordRows): a repeated word (most words of a text) costs a look-up and its additions,
   * made one n-gram at a time in the same order, so the sums are bit for bit the same.
   */
  private addWord(units: Uint8Array, len: number, acc: Float64Array) {
    const words = this.words
    const count = gramCount(len)
    this.addRows(words.gramStart[this.entryOf(units, len)]!, count, acc, 0)
    acc[5] = acc[5]! + count
  }

  /** Adds the rows of n-grams [from, from + count) onto out[at .. at + 4], one n-gram at a time in order. */
  private addRows(from: number, count: number, out: Float64Array, at: number) {
    const { rows } = this
    const offsets = this.words.offsets
    let l0 = out[at]!, l1 = out[at + 1]!, l2 = out[at + 2]!, l3 = out[at + 3]!, l4 = out[at + 4]!
    for (let g = from, end = from + count; g < end; g++) {
      const r = offsets[g]!
      l0 += rows[r]!
      l1 += rows[r + 1]!
      l2 += rows[r + 2]!
      l3 += rows[r + 3]!
      l4 += rows[r + 4]!
    }
    out[at] = l0
    out[at + 1] = l1
    out[at + 2] = l2
    out[at + 3] = l3
    out[at + 4] = l4
  }

  /** identifyFor's addWord: the word's own sums (its n-grams added in order from 0), one addition per language. */
  private addWordSums(units: Uint8Array, len: number, acc: Float64Array) {
    const at = this.entryOf(units, len) * 5
    const sums = this.words.sums
    acc[0] = acc[0]! + sums[at]!
    acc[1] = acc[1]! + sums[at + 1]!
    acc[2] = acc[2]! + sums[at + 2]!
    acc[3] = acc[3]! + sums[at + 3]!
    acc[4] = acc[4]! + sums[at + 4]!
    acc[5] = acc[5]! + gramCount(len)
    acc[6] = acc[6]! + 1
  }

  /** The word's entry in WordRows, made (its row offsets and sums) if it is not there. */
  private entryOf(units: Uint8Array, len: number): number {
    const words = this.words
    let entry = words.find(units, len)
    if (entry < 0) {
      entry = words.add(units, len)
      const from = this.rowsOf(units, len, words.gramStart[entry]!)
      // The word's own sums, from 0 (the table may hold an earlier text's entry here).
      words.sums.fill(0, entry * 5, entry * 5 + 5)
      this.addRows(from, gramCount(len), words.sums, entry * 5)
    }
    return entry
  }

  /**
   * Writes the row offset of each n-gram of a padded word into `words.offsets` from `at`, in
   * grams' order. Each position's key grows by one unit per order; 1- to 3-grams are read from a
   * direct table (their keys are below 2^(3·bits)), 4-grams from the hashed one. Returns `at`.
   */
  private rowsOf(units: Uint8Array, len: number, at: number): number {
    const { bits, keys, mask, direct, unseenAt } = this
    if (this.keyAt.length < len) {
      this.keyAt = new Int32Array(len * 2)
      this.badAt = new Uint8Array(len * 2)
    }
    const keyAt = this.keyAt
    const badAt = this.badAt
    const offsets = this.words.offsets
    const k = LANGUAGES.length
    const directOrders = direct.length > 0 ? 3 : 0
    let g = at
    for (let order = 1; order <= ORDERS.length; order++) {
      const last = len - order
      for (let i = 0; i <= last; i++) {
        const u = units[i + order - 1]!
        if (order === 1) {
          keyAt[i] = u
          badAt[i] = u === 0 ? 1 : 0
        } else {
          keyAt[i] = (keyAt[i]! << bits) | u
          if (u === 0) badAt[i] = 1
        }
        let row = unseenAt
        if (badAt[i] === 0) {
          const key = keyAt[i]!
          if (order <= directOrders) {
            const slot = direct[key]!
            if (slot >= 0) row = slot
          } else {
            let slot = hashSlot(key) & mask
            while (true) {
              const found = keys[slot]!
              if (found === key) {
                row = slot * k
                break
              }
              if (found === 0) break
              slot = (slot + 1) & mask
            }
          }
        }
        offsets[g++] = row
      }
    }
    return at
  }

  /** The string-keyed lookup, for a training alphabet too large to pack 4 units into 31 bits. */
  private accumulateStrings(text: string, ll: Float64Array): number {
    let n = 0
    grams(text, (g) => {
      n++
      const row = this.logProb.get(g) ?? this.unseen
      for (let i = 0; i < LANGUAGES.length; i++) ll[i] += row[i]!
    })
    return n
  }
}

/** How many 1- to 4-grams a padded word of `len` units has. */
const gramCount = (len: number): number => {
  let n = 0
  for (const order of ORDERS) if (len >= order) n += len - order + 1
  return n
}

/**
 * The row offsets of each distinct padded word seen, keyed by its alphabet units: an
 * open-addressing table over pools of units and offsets. When the pools or the table fill, it
 * starts over (a corpus has a long tail of words; the common ones come back at once).
 */
class WordRows {
  /** Per slot: the word's hash, and its entry + 1 (0: empty slot). */
  private readonly hashes: Int32Array
  private readonly entries: Int32Array
  private readonly mask: number
  /** Per entry: its units' start in `unitPool`, its length, its offsets' start in `offsets`, and its five sums. */
  private readonly starts: Int32Array
  private readonly lengths: Int32Array
  readonly gramStart: Int32Array
  readonly sums: Float64Array
  private unitPool: Uint8Array
  offsets: Int32Array
  private units = 0
  private grams = 0
  private count = 0
  /** The hash of the word last looked up, and the slot it would go to. */
  private lastHash = 0
  private lastSlot = 0

  constructor(readonly capacity: number) {
    let slots = 16
    while (slots < capacity * 2) slots *= 2
    this.hashes = new Int32Array(slots)
    this.entries = new Int32Array(slots)
    this.mask = slots - 1
    this.starts = new Int32Array(capacity)
    this.lengths = new Int32Array(capacity)
    this.gramStart = new Int32Array(capacity)
    this.sums = new Float64Array(capacity * 5)
    // The pools start small and double as words come, up to ~16 units and ~40 offsets a word.
    this.unitPool = new Uint8Array(Math.min(capacity * 16, 1 << 14))
    this.offsets = new Int32Array(Math.min(capacity * 40, 1 << 16))
  }

  /** The word's entry, or -1 (then `add` takes it, with no look-up in between). */
  find(units: Uint8Array, len: number): number {
    let h = 0x811c9dc5 ^ len
    for (let i = 0; i < len; i++) h = Math.imul(h ^ units[i]!, 0x01000193)
    h ^= h >>> 15
    const { hashes, entries, mask, unitPool, starts, lengths } = this
    let slot = h & mask
    while (true) {
      const e = entries[slot]! - 1
      if (e < 0) break
      if (hashes[slot] === h && lengths[e] === len) {
        const from = starts[e]!
        let i = 0
        while (i < len && unitPool[from + i] === units[i]) i++
        if (i === len) return e
      }
      slot = (slot + 1) & mask
    }
    this.lastHash = h
    this.lastSlot = slot
    return -1
  }

  /** Stores the word just not found; returns its entry, whose offsets are to be written from gramStart[entry]. */
  add(units: Uint8Array, len: number): number {
    const grams = gramCount(len)
    if (this.units + len > this.unitPool.length && this.unitPool.length < this.capacity * 16) this.unitPool = grownTo(this.unitPool, this.units + len)
    if (this.grams + grams > this.offsets.length && this.offsets.length < this.capacity * 40) this.offsets = grownTo(this.offsets, this.grams + grams)
    if (this.count >= this.capacity || this.units + len > this.unitPool.length || this.grams + grams > this.offsets.length) {
      // Too long a word for the pools: they grow for it (a word of thousands of letters is rare).
      if (len > this.unitPool.length) this.unitPool = new Uint8Array(len * 2)
      if (grams > this.offsets.length) this.offsets = new Int32Array(grams * 2)
      this.clear()
      this.find(units, len)
    }
    const entry = this.count++
    this.hashes[this.lastSlot] = this.lastHash
    this.entries[this.lastSlot] = entry + 1
    this.starts[entry] = this.units
    this.lengths[entry] = len
    this.gramStart[entry] = this.grams
    this.unitPool.set(units.subarray(0, len), this.units)
    this.units += len
    this.grams += grams
    return entry
  }

  private clear() {
    this.entries.fill(0)
    this.units = 0
    this.grams = 0
    this.count = 0
  }
}

/**
 * softmax of the mean log-likelihoods, as identify reports it: the means, the exponentials and
 * their sum in the same operations and order as its first form (Array.from, Math.max, map,
 * reduce, Object.fromEntries), without the arrays and entries it made for each text.
 */
const softmax = (ll: Float64Array, n: number): { lang: Language; score: number; scores: Record<Language, number> } => {
  const m0 = (ll[0]! / n) * SCALE, m1 = (ll[1]! / n) * SCALE, m2 = (ll[2]! / n) * SCALE, m3 = (ll[3]! / n) * SCALE, m4 = (ll[4]! / n) * SCALE
  const max = Math.max(m0, m1, m2, m3, m4)
  const e0 = Math.exp(m0 - max), e1 = Math.exp(m1 - max), e2 = Math.exp(m2 - max), e3 = Math.exp(m3 - max), e4 = Math.exp(m4 - max)
  const sum = 0 + e0 + e1 + e2 + e3 + e4
  const scores = { fr: e0 / sum, en: e1 / sum, es: e2 / sum, it: e3 / sum, de: e4 / sum }
  const best: Language = m0 === max ? "fr" : m1 === max ? "en" : m2 === max ? "es" : m3 === max ? "it" : "de"
  return { lang: best, score: scores[best], scores }
}
if (LANGUAGES.join() !== "fr,en,es,it,de") throw new Error("language id: softmax names the five languages in LANGUAGES order")

/** The unit roundoff of doubles, 2^-53. */
const EPSILON = 2 ** -53

/** `a` copied into an array of its kind at least twice as long and holding `n`. */
function grownTo<A extends Uint8Array | Int32Array>(a: A, n: number): A {
  const bigger = new (a.constructor as new (length: number) => A)(Math.max(a.length * 2, n))
  bigger.set(a)
  return bigger
}

const grow = (units: Uint8Array) => {
  const bigger = new Uint8Array(units.length * 2)
  bigger.set(units)
  return bigger
}

/** Per UTF-16 unit: 1 where grams' `[\p{L}']` takes it into a word (a BMP letter, ' or ’), built once. */
let WORD_UNITS: Uint8Array | undefined
const wordUnits = (): Uint8Array => {
  if (WORD_UNITS === undefined) {
    WORD_UNITS = new Uint8Array(65536)
    for (let c = 0; c < 65536; c++) {
      // Surrogates are read in pairs by accumulate; alone, the u-flag regex sees no letter.
      if (c >= 0xd800 && c <= 0xdfff) continue
      if (c === 39 || c === 0x2019 || LETTER.test(String.fromCharCode(c))) WORD_UNITS[c] = 1
    }
  }
  return WORD_UNITS
}
const LETTER = /^\p{L}$/u
const astralLetters = new Map<number, boolean>()
const isLetterCodePoint = (cp: number) => {
  let yes = astralLetters.get(cp)
  if (yes === undefined) astralLetters.set(cp, (yes = LETTER.test(String.fromCodePoint(cp))))
  return yes
}

/** Murmur3's finaliser, for table slots. */
const hashSlot = (h: number) => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  return h
}

export const loadTraining = (): Record<Language, string> =>
  Object.fromEntries(LANGUAGES.map((l) => [l, readFileSync(join(trainingDir(), `${l}.txt`), "utf8")])) as Record<Language, string>

export interface LanguageFilterOptions {
  readonly keep?: ReadonlyArray<Language>
  /** Minimum confidence of the kept language (datatrove's LanguageFilter default is 0.65). */
  readonly minScore?: number
}

/** Labels each document with its language and confidence; keeps French (by default) above minScore. */
export const languageFilter = (options: LanguageFilterOptions = {}, ledger?: DocumentLedger, identifier = new LanguageIdentifier()) => {
  const keep = new Set<string>(options.keep ?? ["fr"])
  const minScore = options.minScore ?? 0.65
  return corpusStep<CorpusDocument, CorpusDocument>("language-id", (doc) => {
    const a = analysisOf(doc)
    const id = a !== undefined && a.lang !== undefined && normalisedTextOf(a) === doc.text ? (a.lang ?? undefined) : identifier.identifyFor(doc.text, [minScore])
    if (!id) return Verdict.drop("no letters")
    const labelled = { ...doc, lang: id.lang, langScore: Math.round(id.score * 1e4) / 1e4 }
    // Dropped documents keep their label: the rows an engineer reads to tune the threshold.
    const facts = { lang: labelled.lang, langScore: labelled.langScore }
    if (!keep.has(id.lang)) return Verdict.drop(`language ${id.lang}`, undefined, facts)
    if (id.score < minScore) return Verdict.drop("language confidence below threshold", undefined, facts)
    return Verdict.keep(labelled)
  }, ledger)
}
