import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import { analysisOf, scrubbedTextOf } from "./analysis-carrier.ts"
import { corpusStep, Verdict } from "./corpus-operator.ts"
import type { DocumentLedger } from "./ledger.ts"

/**
 * Thresholds of the Gopher (Rae et al. 2021) and C4 (Raffel et al. 2020) heuristics, with
 * datatrove's defaults. Every field can be overridden from a JSON config file.
 */
export interface QualityThresholds {
  readonly minWords: number
  readonly maxWords: number
  readonly minMeanWordLength: number
  readonly maxMeanWordLength: number
  /** (# and … symbols) / words. */
  readonly maxSymbolWordRatio: number
  readonly maxBulletLinesRatio: number
  readonly maxEllipsisLinesRatio: number
  /** Share of words that must contain a letter. */
  readonly minAlphaWordsRatio: number
  /** At least this many distinct French stop words (Gopher's rule, with a French list). */
  readonly minStopWords: number
  readonly maxDuplicateLinesRatio: number
  readonly maxDuplicateLineCharsRatio: number
  /** Share of characters in the most frequent 2-, 3- and 4-gram. */
  readonly maxTopNgramCharsRatio: Readonly<Record<"2" | "3" | "4", number>>
  /** Share of characters in duplicated 5- to 10-grams. */
  readonly maxDuplicateNgramCharsRatio: Readonly<Record<"5" | "6" | "7" | "8" | "9" | "10", number>>
  /** C4: drop documents mentioning lorem ipsum or containing a curly brace (code, templates). */
  readonly c4BadContent: boolean
}

export const defaultQualityThresholds: QualityThresholds = {
  minWords: 50,
  maxWords: 100_000,
  minMeanWordLength: 3,
  maxMeanWordLength: 10,
  maxSymbolWordRatio: 0.1,
  maxBulletLinesRatio: 0.9,
  maxEllipsisLinesRatio: 0.3,
  minAlphaWordsRatio: 0.8,
  minStopWords: 2,
  maxDuplicateLinesRatio: 0.3,
  maxDuplicateLineCharsRatio: 0.2,
  maxTopNgramCharsRatio: { "2": 0.2, "3": 0.18, "4": 0.16 },
  maxDuplicateNgramCharsRatio: { "5": 0.15, "6": 0.14, "7": 0.13, "8": 0.12, "9": 0.11, "10": 0.1 },
  c4BadContent: true
}

const FRENCH_STOP_WORDS = new Set(["le", "la", "les", "de", "des", "du", "un", "une", "et", "en", "à", "au", "aux", "est", "que", "qui", "pour", "dans", "par", "sur", "avec", "il", "elle", "pas", "ne", "ce", "se", "son", "sa", "ses"])
const MAX_STOP_WORD = Math.max(...[...FRENCH_STOP_WORDS].map((w) => w.length))

/**
 * A word of 1–4 units as one number, its units in bytes (each unit is nonzero, so lengths do not
 * collide); -1 when a unit is 256 or above (no stop word has one).
 */
const packedUnits = (w: string): number => {
  let key = 0
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i)
    if (c > 255) return -1
    key = key * 256 + c
  }
  return key
}
/** Each stop word's packed units → its index (< 31, a bit of an int). */
const STOP_WORD_INDEX = new Map([...FRENCH_STOP_WORDS].map((w, i) => [packedUnits(w), i] as const))
if (FRENCH_STOP_WORDS.size > 31 || STOP_WORD_INDEX.has(-1) || MAX_STOP_WORD > 4) throw new Error("quality: the stop words no longer fit packedUnits")

const bitCount = (bits: number): number => {
  let n = 0
  for (let b = bits; b !== 0; b &= b - 1) n++
  return n
}
const BULLETS = /^\s*[•●‣◦▪▫*\-–—·]/
const ELLIPSIS = /(\.\.\.|…)\s*$/

const DIGIT_GROUP = /^\p{N}{1,4}$/u
const SYMBOL_TOKEN = /^[\p{P}\p{S}]+$/u
/** Longest run of digit groups read as one number: an IBAN's BBAN has 6, a NIR in groups 7. */
const MAX_GROUPS = 8

/**
 * Gopher's "≥ 80 % of words contain a letter", with two departures so that clinical letters are
 * not dropped for their contact details and lab values (issue 21): a run of up to 8 consecutive
 * digit groups of 1–4 digits is one word, as it is one number ("01 23 45 67 89", "145 000", a
 * NIR or an IBAN in groups), and tokens of punctuation or symbols alone ("—", ":", "–") are not
 * words. Tables of full numbers ("1234,56 7890,12 …") still count one word each and still drop.
 * Measured in test/corpus/quality.test.ts on planted French clinical letters. The pipeline also
 * scrubs PII before this filter, so a phone number is already "[TELEPHONE]" here.
 */
export const alphabeticWordsRatio = (words: ReadonlyArray<string>): number => {
  const classes = new Uint8Array(words.length)
  for (let i = 0; i < words.length; i++) classes[i] = asciiClass(words[i]!)
  return alphabeticRatioOf(words, classes)
}

/** alphabeticWordsRatio, given each word's asciiClass (qualityCheck reads it in its word pass). */
const alphabeticRatioOf = (words: ReadonlyArray<string>, classes: Uint8Array): number => {
  let counted = 0
  let alphabetic = 0
  let groupRun = 0
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    // Most words are ASCII: their three answers are read from the units; the others take the
    // regular expressions (equal answers: test/corpus/fast-paths.test.ts).
    const ascii = classes[i]!
    if (ascii === SYMBOLS || (ascii === OTHER && SYMBOL_TOKEN.test(w))) continue
    if (ascii === DIGITS ? w.length <= 4 : ascii === OTHER && DIGIT_GROUP.test(w)) {
      groupRun++
      if (groupRun > 1 && groupRun <= MAX_GROUPS) continue
      if (groupRun > MAX_GROUPS) groupRun = 1
    } else groupRun = 0
    counted++
    if (ascii === LETTERED || (ascii === OTHER && /\p{L}/u.test(w))) alphabetic++
  }
  return counted === 0 ? 0 : alphabetic / counted
}

/** asciiClass's answers: an ASCII word of punctuation and symbols only, of digits only, with a letter, or anything else. */
const SYMBOLS = 1
const DIGITS = 2
const LETTERED = 3
const OTHER = 0

/**
 * For an ASCII word of printable units (33–126), which of SYMBOL_TOKEN, DIGIT_GROUP (less its
 * length) and \p{L} it matches: ASCII's \p{P} and \p{S} are exactly its 32 printable units that
 * are not letters or digits. OTHER for a word with any other unit: the caller asks the regexes.
 */
const asciiClass = (w: string): number => {
  let letters = 0
  let digits = 0
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i)
    if (c < 33 || c > 126) return OTHER
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) letters++
    else if (c >= 48 && c <= 57) digits++
  }
  if (letters > 0) return LETTERED
  if (digits === w.length) return w.length === 0 ? OTHER : DIGITS
  return digits === 0 ? SYMBOLS : OTHER
}

/** What the rules measured on a document that passed them: written with the cleaned document. */
export interface QualityScores {
  readonly words: number
  readonly mean_word_length: number
  readonly alpha_words_ratio: number
  readonly stop_words: number
}

/** The first rule a text breaks, or undefined when it passes them all. */
export const qualityProblem = (text: string, t: QualityThresholds = defaultQualityThresholds): string | undefined => qualityCheck(text, t).problem

/** qualityProblem, with the measures of a text that passes (for the cleaned documents' `quality`). */
export const qualityCheck = (text: string, t: QualityThresholds = defaultQualityThresholds): { problem?: string; scores?: QualityScores } => {
  const problem = (p: string) => ({ problem: p })
  const words = text.split(/\s+/)
  // split leaves at most one empty string at each end (leading/trailing whitespace).
  if (words.length > 0 && words[words.length - 1] === "") words.pop()
  if (words.length > 0 && words[0] === "") words.shift()
  if (words.length < t.minWords) return problem("too few words")
  if (words.length > t.maxWords) return problem("too many words")
  // One pass over the words: code points of the punctuation-stripped words and the lower-cased
  // words the stop-word and repetition rules read. An ASCII fast path decides most words without
  // a Unicode regular expression; the others take the exact regex route.
  // A word of printable ASCII units (most of them) is read once, unit by unit: its asciiClass,
  // whether it has a capital (no toLowerCase call otherwise: the same string), and its code
  // points (its length).
  let strippedCount = 0
  let strippedCodePoints = 0
  const lower = new Array<string>(words.length)
  const classes = scratch.classes = atLeast(scratch.classes, words.length)
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    let letters = 0
    let digits = 0
    let capitals = 0
    let ascii = true
    for (let j = 0; j < w.length; j++) {
      const c = w.charCodeAt(j)
      if (c < 33 || c > 126) {
        ascii = false
        break
      }
      if (c >= 97 && c <= 122) letters++
      else if (c >= 65 && c <= 90) {
        letters++
        capitals++
      } else if (c >= 48 && c <= 57) digits++
    }
    classes[i] = !ascii ? OTHER : letters > 0 ? LETTERED : digits === w.length ? (w.length === 0 ? OTHER : DIGITS) : digits === 0 ? SYMBOLS : OTHER
    const plainEnds = isAsciiAlnum(w.charCodeAt(0)) && isAsciiAlnum(w.charCodeAt(w.length - 1))
    const lowered = ascii && capitals === 0 ? w : w.toLowerCase()
    if (plainEnds) {
      strippedCount++
      strippedCodePoints += ascii ? w.length : codePointLength(w)
      lower[i] = lowered
    } else if (ascii) {
      // An ASCII word's punctuation and symbols are its units that are not letters or digits:
      // its stripped length is counted without building the string, and the lower-cased word's
      // ends are cut at the table's \p{P} units (equal to the regexes: test/corpus/fast-paths.test.ts).
      let from = 0
      let to = w.length
      while (from < to && !isAsciiAlnum(w.charCodeAt(from))) from++
      while (to > from && !isAsciiAlnum(w.charCodeAt(to - 1))) to--
      if (to > from) {
        strippedCount++
        strippedCodePoints += to - from
      }
      from = 0
      to = lowered.length
      while (from < to && ASCII_PUNCT[lowered.charCodeAt(from)] === 1) from++
      while (to > from && ASCII_PUNCT[lowered.charCodeAt(to - 1)] === 1) to--
      lower[i] = from === 0 && to === lowered.length ? lowered : lowered.slice(from, to)
    } else {
      const s = w.replace(PUNCT_OR_SYMBOL_ENDS, "")
      if (s.length > 0) {
        strippedCount++
        strippedCodePoints += codePointLength(s)
      }
      lower[i] = lowered.replace(PUNCT_ENDS, "")
    }
  }
  const mean = strippedCodePoints / Math.max(1, strippedCount)
  if (mean < t.minMeanWordLength) return problem("mean word length too short")
  if (mean > t.maxMeanWordLength) return problem("mean word length too long")
  // Counted with indexOf, not match(/…/g): no array of matches per document. "..." and "…"
  // share no unit, so their non-overlapping counts add up to the alternation's.
  const symbols = occurrences(text, "#") + occurrences(text, "...") + occurrences(text, "…")
  if (symbols / words.length > t.maxSymbolWordRatio) return problem("too many symbols per word")
  // A line is kept when it has a unit outside \s, which are exactly the units trim() removes:
  // no trimmed copy per line. Bullets and ellipses are counted in the same pass.
  const lines: Array<string> = []
  let bullets = 0
  let ellipses = 0
  for (const l of text.split("\n")) {
    if (!NOT_SPACE.test(l)) continue
    lines.push(l)
    if (BULLETS.test(l)) bullets++
    if (ELLIPSIS.test(l)) ellipses++
  }
  if (lines.length > 0 && bullets / lines.length > t.maxBulletLinesRatio) return problem("too many bullet lines")
  if (lines.length > 0 && ellipses / lines.length > t.maxEllipsisLinesRatio) return problem("too many lines ending in ellipsis")
  const alpha = alphabeticRatioOf(words, classes)
  if (alpha < t.minAlphaWordsRatio) return problem("too few alphabetic words")
  // The distinct stop words, as bits of their index: a word of up to 4 units below 256 is looked
  // up by its units packed into a number, not by hashing a fresh string.
  let stopBits = 0
  for (const w of lower) {
    if (w.length > MAX_STOP_WORD || w.length === 0) continue
    const index = STOP_WORD_INDEX.get(packedUnits(w))
    if (index !== undefined) stopBits |= 1 << index
  }
  const stopCount = bitCount(stopBits)
  if (stopCount < t.minStopWords) return problem("too few stop words")
  if (t.c4BadContent) {
    if (/lorem ipsum/i.test(text)) return problem("lorem ipsum")
    if (/[{}]/.test(text)) return problem("curly brace")
  }
  const repeated = repetitionProblem(text, lines, lower, t)
  if (repeated !== undefined) return problem(repeated)
  const round = (x: number) => Math.round(x * 1e4) / 1e4
  return { scores: { words: words.length, mean_word_length: round(mean), alpha_words_ratio: round(alpha), stop_words: stopCount } }
}

const NOT_SPACE = /\S/

/** Non-overlapping occurrences of `s` in `text`, as the length of text.match(/s/g). */
const occurrences = (text: string, s: string): number => {
  let n = 0
  for (let at = text.indexOf(s); at >= 0; at = text.indexOf(s, at + s.length)) n++
  return n
}

/** Per ASCII unit: 1 where PUNCT_ENDS's \p{P} takes it, read from the regex itself. */
const ASCII_PUNCT = Uint8Array.from({ length: 128 }, (_, c) => (/\p{P}/u.test(String.fromCharCode(c)) ? 1 : 0))

const PUNCT_OR_SYMBOL_ENDS = /^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu
const PUNCT_ENDS = /^[\p{P}]+|[\p{P}]+$/gu

const isAsciiAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)

/** [...s].length without building the array: UTF-16 units less one per surrogate pair. */
const codePointLength = (s: string) => {
  let n = s.length
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--
        i++
      }
    }
  }
  return n
}

/**
 * Counts of n-gram keys (52-bit integers, see ngramKey) in one open-addressing table: Map<number>
 * boxes its keys past 31 bits, and this table is the repetition rules' hot loop.
 */
class KeyCounts {
  keys = new Float64Array(0)
  counts = new Int32Array(0)
  mask = 0
  /** Whether anything was added since the last reset (a pass without candidates leaves it clean). */
  used = false
  /** Empties the table and sizes it for `expected` keys; its arrays are kept from document to document. */
  prepare(expected: number) {
    let size = 16
    while (size < expected * 2) size *= 2
    if (this.keys.length < size) {
      this.keys = new Float64Array(size)
      this.counts = new Int32Array(size)
    }
    this.keys.fill(-1, 0, size)
    this.mask = size - 1
    this.used = false
  }
  reset() {
    if (this.used) this.keys.fill(-1, 0, this.mask + 1)
    this.used = false
  }
  /** Adds one occurrence of `key` (whose slot hint is `hint`) and returns its count so far. */
  add(key: number, hint: number): number {
    this.used = true
    let i = hint & this.mask
    while (true) {
      const k = this.keys[i]!
      if (k === key) return ++this.counts[i]!
      if (k === -1) {
        this.keys[i] = key
        this.counts[i] = 1
        return 1
      }
      i = (i + 1) & this.mask
    }
  }
  /** How many times `key` was added (it must have been). */
  count(key: number, hint: number): number {
    let i = hint & this.mask
    while (this.keys[i] !== key) i = (i + 1) & this.mask
    return this.counts[i]!
  }
}

/**
 * The rules' per-word arrays, kept from document to document (grown, never shrunk) instead of
 * ~10 typed arrays allocated per document: each array buffer is a backing store the collector
 * has to track and free. Every use reads only its first words.length entries, written or
 * cleared before they are read. qualityCheck is synchronous, and each worker thread has its own.
 */
const scratch = {
  classes: new Uint8Array(0),
  ids: new Uint32Array(0),
  lengths: new Uint32Array(0),
  repeats: new Uint8Array(0),
  next: new Uint8Array(0),
  h1: new Int32Array(0),
  h2: new Int32Array(0),
  covered: new Uint8Array(0),
  counts: new KeyCounts()
}

/** `a`, or a new array of its kind with room for at least n entries (twice as many, to grow seldom). */
function atLeast<A extends Uint8Array | Uint32Array | Int32Array>(a: A, n: number): A {
  return a.length >= n ? a : (new (a.constructor as new (length: number) => A)(Math.max(64, n * 2)))
}

/** Gopher's repetition rules: duplicated lines, frequent n-grams, duplicated n-grams. */
const repetitionProblem = (text: string, lines: ReadonlyArray<string>, words: ReadonlyArray<string>, t: QualityThresholds): string | undefined => {
  const seenLines = new Set<string>()
  let dupLines = 0
  let dupLineChars = 0
  for (const l of lines) {
    if (seenLines.has(l)) {
      dupLines++
      dupLineChars += l.length
    } else seenLines.add(l)
  }
  if (lines.length > 0 && dupLines / lines.length > t.maxDuplicateLinesRatio) return "duplicated lines"
  if (dupLineChars / Math.max(1, text.length) > t.maxDuplicateLineCharsRatio) return "duplicated line characters"
  let totalChars = 0
  for (const w of words) totalChars += w.length
  totalChars ||= 1
  // Words as small integers, n-grams as numeric hashes of them: no string building per n-gram.
  const idOf = new Map<string, number>()
  const ids = scratch.ids = atLeast(scratch.ids, words.length)
  const lengths = scratch.lengths = atLeast(scratch.lengths, words.length)
  const occurrences: Array<number> = [0]
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    let id = idOf.get(w)
    if (id === undefined) {
      idOf.set(w, (id = idOf.size + 1))
      occurrences.push(0)
    }
    occurrences[id]!++
    ids[i] = id
    lengths[i] = w.length
  }
  // Only repeated n-grams matter to every rule below (the top n-gram counts only when it occurs
  // twice or more; a duplicated n-gram is a repeated one), and an n-gram can repeat only where
  // both (n-1)-grams it is made of repeat. `repeats[i]` says whether the current n-gram at i
  // occurs twice or more; each pass counts only its candidates, usually a small share of the
  // positions in natural text (issue 23: the rules took a fifth of the chain's CPU). The verdicts
  // equal those of counting every position (test/corpus/fast-paths.test.ts).
  let repeats = scratch.repeats = atLeast(scratch.repeats, words.length)
  let next = scratch.next = atLeast(scratch.next, words.length)
  let candidates = 0
  for (let i = 0; i < words.length; i++) if ((repeats[i] = occurrences[ids[i]!]! > 1 ? 1 : 0)) candidates++
  // The n-grams' hashes, grown one word at a time: after pass n, h1[i] and h2[i] hash the n words
  // from i (FNV-1a and a multiply-xorshift, both extended word by word), so a pass costs one step
  // per position instead of n. The key of the n-gram at i is (h1 >>> 0) * 2^20 + (h2 & 0xfffff);
  // h1 ^ h2 is its slot hint. Each n has its own table, so the hashes need no n in them.
  const h1 = scratch.h1 = atLeast(scratch.h1, words.length)
  const h2 = scratch.h2 = atLeast(scratch.h2, words.length)
  for (let i = 0; i < words.length; i++) {
    h1[i] = Math.imul(0x811c9dc5 ^ ids[i]!, 0x01000193)
    h2[i] = Math.imul(ids[i]!, 0x9e3779b1)
  }
  const extend = (n: number) => {
    for (let i = 0; i + n <= words.length; i++) {
      const id = ids[i + n - 1]!
      h1[i] = Math.imul(h1[i]! ^ id, 0x01000193)
      const b = h2[i]!
      h2[i] = Math.imul(b + id, 0x9e3779b1) ^ (b >>> 15)
    }
  }
  const keyAt = (i: number) => (h1[i]! >>> 0) * 0x100000 + ((h2[i]! >>> 0) & 0xfffff)
  const counts = scratch.counts
  counts.prepare(words.length)
  /** Counts pass n's candidates (calling `each` with each one's running count), then marks which repeat. */
  const pass = (n: number, each: (i: number, count: number) => void) => {
    const last = words.length - n
    counts.reset()
    next.fill(0, 0, words.length)
    if (candidates === 0) return
    extend(n)
    for (let i = 0; i <= last; i++) if (repeats[i] && repeats[i + 1]) each(i, counts.add(keyAt(i), h1[i]! ^ h2[i]!))
    candidates = 0
    for (let i = 0; i <= last; i++) {
      if (repeats[i] && repeats[i + 1] && counts.count(keyAt(i), h1[i]! ^ h2[i]!) > 1) {
        next[i] = 1
        candidates++
      }
    }
    const previous = repeats
    repeats = next
    next = previous
  }
  for (const n of [2, 3, 4] as const) {
    // Over every position the first one counts 1; a repeated n-gram's count passes 1 only at
    // its occurrences, which are all candidates.
    let topCount = words.length >= n ? 1 : 0
    let topAt = 0
    pass(n, (i, c) => {
      if (c > topCount) {
        topCount = c
        topAt = i
      }
    })
    let topChars = 0
    for (let j = topAt; j < Math.min(words.length, topAt + n); j++) topChars += lengths[j]!
    if (topCount > 1 && (topChars * topCount) / totalChars > t.maxTopNgramCharsRatio[String(n) as "2"]) return `top ${n}-gram too frequent`
  }
  const covered = scratch.covered = atLeast(scratch.covered, words.length)
  for (const n of [5, 6, 7, 8, 9, 10] as const) {
    let any = false
    pass(n, (i, c) => {
      if (c > 1) {
        if (!any) covered.fill(0, 0, words.length)
        any = true
        covered.fill(1, i, i + n)
      }
    })
    let chars = 0
    if (any) for (let i = 0; i < words.length; i++) if (covered[i]) chars += lengths[i]!
    if (chars / totalChars > t.maxDuplicateNgramCharsRatio[String(n) as "5"]) return `duplicated ${n}-grams`
  }
  return undefined
}

/** Drops documents that break a Gopher/C4 rule, counting each reason. */
export const qualityFilter = (thresholds: Partial<QualityThresholds> = {}, ledger?: DocumentLedger) => {
  const t = { ...defaultQualityThresholds, ...thresholds }
  return corpusStep<CorpusDocument, CorpusDocument>("quality", (doc) => {
    // PII is scrubbed before this step: a worker's check is of the scrubbed text.
    const a = analysisOf(doc)
    const { problem, scores } = a !== undefined && a.quality !== undefined && scrubbedTextOf(a) === doc.text ? (a.quality as ReturnType<typeof qualityCheck>) : qualityCheck(doc.text, t)
    // meta.quality: the measures, written with the cleaned document (documents-jsonl.ts).
    return problem === undefined ? Verdict.keep({ ...doc, meta: { ...doc.meta, quality: scores } }) : Verdict.drop(problem)
  }, ledger)
}
