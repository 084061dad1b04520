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
  let counted = 0
  let alphabetic = 0
  let groupRun = 0
  for (const w of words) {
    if (SYMBOL_TOKEN.test(w)) continue
    if (DIGIT_GROUP.test(w)) {
      groupRun++
      if (groupRun > 1 && groupRun <= MAX_GROUPS) continue
      if (groupRun > MAX_GROUPS) groupRun = 1
    } else groupRun = 0
    counted++
    if (/\p{L}/u.test(w)) alphabetic++
  }
  return counted === 0 ? 0 : alphabetic / counted
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
  let strippedCount = 0
  let strippedCodePoints = 0
  const lower = new Array<string>(words.length)
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    const plainEnds = isAsciiAlnum(w.charCodeAt(0)) && isAsciiAlnum(w.charCodeAt(w.length - 1))
    const s = plainEnds ? w : w.replace(PUNCT_OR_SYMBOL_ENDS, "")
    if (s.length > 0) {
      strippedCount++
      strippedCodePoints += codePointLength(s)
    }
    lower[i] = plainEnds ? w.toLowerCase() : w.toLowerCase().replace(PUNCT_ENDS, "")
  }
  const mean = strippedCodePoints / Math.max(1, strippedCount)
  if (mean < t.minMeanWordLength) return problem("mean word length too short")
  if (mean > t.maxMeanWordLength) return problem("mean word length too long")
  const symbols = (text.match(/#/g)?.length ?? 0) + (text.match(/\.\.\.|…/g)?.length ?? 0)
  if (symbols / words.length > t.maxSymbolWordRatio) return problem("too many symbols per word")
  const lines = text.split("\n").filter((l) => l.trim().length > 0)
  if (lines.length > 0 && lines.filter((l) => BULLETS.test(l)).length / lines.length > t.maxBulletLinesRatio) return problem("too many bullet lines")
  if (lines.length > 0 && lines.filter((l) => ELLIPSIS.test(l)).length / lines.length > t.maxEllipsisLinesRatio) return problem("too many lines ending in ellipsis")
  const alpha = alphabeticWordsRatio(words)
  if (alpha < t.minAlphaWordsRatio) return problem("too few alphabetic words")
  const stops = new Set<string>()
  for (const w of lower) if (FRENCH_STOP_WORDS.has(w)) stops.add(w)
  if (stops.size < t.minStopWords) return problem("too few stop words")
  if (t.c4BadContent) {
    if (/lorem ipsum/i.test(text)) return problem("lorem ipsum")
    if (/[{}]/.test(text)) return problem("curly brace")
  }
  const repeated = repetitionProblem(text, lines, lower, t)
  if (repeated !== undefined) return problem(repeated)
  const round = (x: number) => Math.round(x * 1e4) / 1e4
  return { scores: { words: words.length, mean_word_length: round(mean), alpha_words_ratio: round(alpha), stop_words: stops.size } }
}

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
  keys: Float64Array
  counts: Int32Array
  mask: number
  constructor(expected: number) {
    let size = 16
    while (size < expected * 2) size *= 2
    this.keys = new Float64Array(size).fill(-1)
    this.counts = new Int32Array(size)
    this.mask = size - 1
  }
  reset() {
    this.keys.fill(-1)
  }
  /** Adds one occurrence of `key` (whose slot hint is `hint`) and returns its count so far. */
  add(key: number, hint: number): number {
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
  const ids = new Uint32Array(words.length)
  const lengths = new Uint32Array(words.length)
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!
    let id = idOf.get(w)
    if (id === undefined) idOf.set(w, (id = idOf.size + 1))
    ids[i] = id
    lengths[i] = w.length
  }
  // The n-grams' hashes, grown one word at a time: after pass n, h1[i] and h2[i] hash the n words
  // from i (FNV-1a and a multiply-xorshift, both extended word by word), so a pass costs one step
  // per position instead of n. The key of the n-gram at i is (h1 >>> 0) * 2^20 + (h2 & 0xfffff);
  // h1 ^ h2 is its slot hint. Each n has its own table, so the hashes need no n in them.
  const h1 = new Int32Array(words.length)
  const h2 = new Int32Array(words.length)
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
  const counts = new KeyCounts(words.length)
  for (const n of [2, 3, 4] as const) {
    extend(n)
    counts.reset()
    let topCount = 0
    let topAt = 0
    for (let i = 0; i + n <= words.length; i++) {
      const c = counts.add(keyAt(i), h1[i]! ^ h2[i]!)
      if (c > topCount) {
        topCount = c
        topAt = i
      }
    }
    let topChars = 0
    for (let j = topAt; j < Math.min(words.length, topAt + n); j++) topChars += lengths[j]!
    if (topCount > 1 && (topChars * topCount) / totalChars > t.maxTopNgramCharsRatio[String(n) as "2"]) return `top ${n}-gram too frequent`
  }
  const covered = new Uint8Array(words.length)
  const seen = counts
  for (const n of [5, 6, 7, 8, 9, 10] as const) {
    extend(n)
    seen.reset()
    covered.fill(0)
    for (let i = 0; i + n <= words.length; i++) {
      if (seen.add(keyAt(i), h1[i]! ^ h2[i]!) > 1) covered.fill(1, i, i + n)
    }
    let chars = 0
    for (let i = 0; i < words.length; i++) if (covered[i]) chars += lengths[i]!
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
