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
 * A word of 1–4 units as one number, its units in bytes (with no unit 0, lengths do not
 * collide); -1 when a unit is 0 or 256 and above (no stop word has one).
 */
const packedUnits = (w: string): number => {
  let key = 0
  for (let i = 0; i < w.length; i++) {
    const c = w.charCodeAt(i)
    if (c === 0 || c > 255) return -1
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
/**
 * A bullet line is /^\s*[•●‣◦▪▫*\-–—·]/ and an ellipsis line /(\.\.\.|…)\s*$/: qualityCheck reads
 * them from a line's first and last units outside \s. These are the bullets.
 */
const BULLET_UNITS = new Set([..."•●‣◦▪▫*-–—·"].map((c) => c.charCodeAt(0)))

const DIGIT_GROUP = /^\p{N}{1,4}$/u
const SYMBOL_TOKEN = /^[\p{P}\p{S}]+$/u
/** Longest run of digit groups read as one number: an IBAN's BBAN has 6, a NIR in groups 7. */
const MAX_GROUPS = 8

/**
 * What the rules' regular expressions say of one UTF-16 unit, as bits, read from the expressions
 * themselves the first time the unit is met (UNIT_FLAGS[c] = 0: not yet). For a unit that is not
 * a surrogate, the unit is its code point, so a word of such units is decided from its units'
 * bits with the regexes' answers (test/corpus/fast-paths.test.ts); a word holding a surrogate
 * takes the regexes.
 */
const LETTER = 1 // \p{L}
const NUMBER = 2 // \p{N}
const PUNCT_OR_SYMBOL = 4 // [\p{P}\p{S}]
const PUNCT = 8 // \p{P}
const CASED = 16 // toLowerCase changes it
const SPACE = 32 // \s (what split(/\s+/) and trim() take)
const SURROGATE = 64
const KNOWN = 128
const UNIT_FLAGS = new Uint8Array(65536)
const unitFlags = (c: number): number => {
  const f = UNIT_FLAGS[c]!
  return f !== 0 ? f : (UNIT_FLAGS[c] = readUnit(c))
}
const readUnit = (c: number): number => {
  if (c >= 0xd800 && c <= 0xdfff) return KNOWN | SURROGATE
  const ch = String.fromCharCode(c)
  return KNOWN | (/\p{L}/u.test(ch) ? LETTER : 0) | (/\p{N}/u.test(ch) ? NUMBER : 0) | (/[\p{P}\p{S}]/u.test(ch) ? PUNCT_OR_SYMBOL : 0) |
    (/\p{P}/u.test(ch) ? PUNCT : 0) | (ch.toLowerCase() !== ch ? CASED : 0) | (/\s/.test(ch) ? SPACE : 0)
}
for (let c = 0; c < 128; c++) unitFlags(c)

/** A word's class for the alphabetic-words rule: punctuation and symbols only, a group of 1–4 digits, with a letter, or none of these. */
const SYMBOLS = 1
const GROUP = 2
const LETTERED = 3
const NEITHER = 0

/**
 * A word's class from the OR and the AND of its units' flags (no surrogate in it): the answers
 * of SYMBOL_TOKEN, DIGIT_GROUP and \p{L}, as alphabeticRatioOf asks them.
 */
const classOfFlags = (or: number, and: number, length: number): number =>
  and & PUNCT_OR_SYMBOL ? SYMBOLS : and & NUMBER ? (length <= 4 ? GROUP : NEITHER) : or & LETTER ? LETTERED : NEITHER

/** A word's class by the regular expressions (a word with a surrogate). */
const classOfRegex = (w: string): number => (SYMBOL_TOKEN.test(w) ? SYMBOLS : DIGIT_GROUP.test(w) ? GROUP : /\p{L}/u.test(w) ? LETTERED : NEITHER)

const classOfWord = (w: string): number => {
  let or = 0
  let and = 255
  for (let i = 0; i < w.length; i++) {
    const f = unitFlags(w.charCodeAt(i))
    or |= f
    and &= f
  }
  return w.length === 0 || or & SURROGATE ? classOfRegex(w) : classOfFlags(or, and, w.length)
}

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
  for (let i = 0; i < words.length; i++) classes[i] = classOfWord(words[i]!)
  return alphabeticRatioOf(classes, words.length)
}

/** alphabeticWordsRatio, given each word's class (qualityCheck reads them in its word pass). */
const alphabeticRatioOf = (classes: Uint8Array, count: number): number => {
  let counted = 0
  let alphabetic = 0
  let groupRun = 0
  for (let i = 0; i < count; i++) {
    const c = classes[i]!
    if (c === SYMBOLS) continue
    if (c === GROUP) {
      groupRun++
      if (groupRun > 1 && groupRun <= MAX_GROUPS) continue
      if (groupRun > MAX_GROUPS) groupRun = 1
    } else groupRun = 0
    counted++
    if (c === LETTERED) alphabetic++
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

/**
 * qualityProblem, with the measures of a text that passes (for the cleaned documents' `quality`).
 *
 * One pass over the text's units finds the words (runs of units outside \s, as split(/\s+/)
 * does), the lines with a unit outside \s (as split("\n") and trim() do), and each such line's
 * bullet start and ellipsis end. A second pass over the words reads each one's class, its
 * punctuation-stripped length, and its lower-cased, punctuation-stripped form as a small
 * integer (WordIds): no string per word but for words with a capital or a surrogate, and no
 * regular expression but for words with a surrogate (issue 23: the rules were 16% of the chain).
 */
export const qualityCheck = (text: string, t: QualityThresholds = defaultQualityThresholds): { problem?: string; scores?: QualityScores } => {
  // Each pass is its own function: V8 re-optimises a function when a branch it had not seen
  // runs (a word with a surrogate, a capital, a buffer to grow), and one large function took
  // 20-90 ms of compiler time each time (issue 23: ~0.5 CPU-s a run on the compiler's thread).
  const words = scanText(text)
  if (words < t.minWords) return { problem: "too few words" }
  if (words > t.maxWords) return { problem: "too many words" }
  readWords(text, words)
  const mean = pass.strippedCodePoints / Math.max(1, pass.strippedCount)
  if (mean < t.minMeanWordLength) return { problem: "mean word length too short" }
  if (mean > t.maxMeanWordLength) return { problem: "mean word length too long" }
  // Counted with indexOf, not match(/…/g): no array of matches per document. "..." and "…"
  // share no unit, so their non-overlapping counts add up to the alternation's.
  const symbols = occurrences(text, "#") + occurrences(text, "...") + occurrences(text, "…")
  if (symbols / words > t.maxSymbolWordRatio) return { problem: "too many symbols per word" }
  const lines = pass.lines
  if (lines > 0 && pass.bullets / lines > t.maxBulletLinesRatio) return { problem: "too many bullet lines" }
  if (lines > 0 && pass.ellipses / lines > t.maxEllipsisLinesRatio) return { problem: "too many lines ending in ellipsis" }
  const alpha = alphabeticRatioOf(scratch.classes, words)
  if (alpha < t.minAlphaWordsRatio) return { problem: "too few alphabetic words" }
  const stopCount = bitCount(pass.stopBits)
  if (stopCount < t.minStopWords) return { problem: "too few stop words" }
  if (t.c4BadContent) {
    if (/lorem ipsum/i.test(text)) return { problem: "lorem ipsum" }
    if (/[{}]/.test(text)) return { problem: "curly brace" }
  }
  const repeated = repetitionProblem(text, scratch.lineStarts, scratch.lineEnds, lines, words, scratch.wordIds.size, t)
  if (repeated !== undefined) return { problem: repeated }
  const round = (x: number) => Math.round(x * 1e4) / 1e4
  return { scores: { words, mean_word_length: round(mean), alpha_words_ratio: round(alpha), stop_words: stopCount } }
}

/** What scanText and readWords found in the text at hand (qualityCheck is synchronous). */
const pass = { lines: 0, bullets: 0, ellipses: 0, strippedCount: 0, strippedCodePoints: 0, stopBits: 0 }

/**
 * The first pass: each word's range and the OR and AND of its units' flags (scratch.starts, ends,
 * ors, ands), each line with text's range (scratch.lineStarts, lineEnds) and whether it starts
 * with a bullet or ends in an ellipsis (pass.lines, bullets, ellipses). Returns the word count.
 */
const scanText = (text: string): number => {
  const n = text.length
  let starts = scratch.starts
  let ends = scratch.ends
  let ors = scratch.ors
  let ands = scratch.ands
  let words = 0
  let lineStarts = scratch.lineStarts
  let lineEnds = scratch.lineEnds
  let lines = 0
  let bullets = 0
  let ellipses = 0
  let inWord = false
  let wordStart = 0
  let or = 0
  let and = 255
  let lineStart = 0
  let lineFirst = -1
  let lastText = -1
  for (let i = 0; i <= n; i++) {
    const c = i < n ? text.charCodeAt(i) : 10
    let f = UNIT_FLAGS[c]!
    if (f === 0) f = unitFlags(c)
    if (f & SPACE) {
      if (inWord) {
        if (words === starts.length) {
          growWordArrays()
          starts = scratch.starts
          ends = scratch.ends
          ors = scratch.ors
          ands = scratch.ands
        }
        starts[words] = wordStart
        ends[words] = i
        ors[words] = or
        ands[words] = and
        words++
        inWord = false
      }
      if (c === 10) {
        if (lineFirst >= 0) {
          if (lines === lineStarts.length) {
            growLineArrays()
            lineStarts = scratch.lineStarts
            lineEnds = scratch.lineEnds
          }
          lineStarts[lines] = lineStart
          lineEnds[lines] = i
          lines++
          if (BULLET_UNITS.has(lineFirst)) bullets++
          const last = text.charCodeAt(lastText)
          if (last === 0x2026 || (last === 46 && lastText - 2 >= lineStart && text.charCodeAt(lastText - 1) === 46 && text.charCodeAt(lastText - 2) === 46)) ellipses++
        }
        lineStart = i + 1
        lineFirst = -1
      }
      continue
    }
    if (!inWord) {
      inWord = true
      wordStart = i
      or = 0
      and = 255
    }
    or |= f
    and &= f
    if (lineFirst < 0) lineFirst = c
    lastText = i
  }
  pass.lines = lines
  pass.bullets = bullets
  pass.ellipses = ellipses
  return words
}

const growWordArrays = () => {
  scratch.starts = grown(scratch.starts)
  scratch.ends = grown(scratch.ends)
  scratch.ors = grown(scratch.ors)
  scratch.ands = grown(scratch.ands)
}
const growLineArrays = () => {
  scratch.lineStarts = grown(scratch.lineStarts)
  scratch.lineEnds = grown(scratch.lineEnds)
}

/**
 * The second pass, over the words: each one's class (scratch.classes), its punctuation-stripped
 * length (pass.strippedCount, strippedCodePoints), its lower-cased, punctuation-stripped form as
 * an id (scratch.ids, lengths; scratch.wordIds) and the stop words among them (pass.stopBits).
 */
const readWords = (text: string, words: number) => {
  const starts = scratch.starts
  const ends = scratch.ends
  const ors = scratch.ors
  const ands = scratch.ands
  const classes = scratch.classes = atLeast(scratch.classes, words)
  const ids = scratch.ids = atLeast(scratch.ids, words)
  const lengths = scratch.lengths = atLeast(scratch.lengths, words)
  const wordIds = scratch.wordIds
  wordIds.prepare(words)
  let strippedCount = 0
  let strippedCodePoints = 0
  let stopBits = 0
  for (let w = 0; w < words; w++) {
    const start = starts[w]!
    const end = ends[w]!
    const wor = ors[w]!
    let source = text
    let from = start
    let to = end
    if (wor & SURROGATE) {
      source = surrogateWord(text.slice(start, end), w)
      strippedCount += held.stripped
      strippedCodePoints += held.codePoints
      from = 0
      to = source.length
    } else {
      classes[w] = classOfFlags(wor, ands[w]!, end - start)
      // Punctuation and symbols cut from both ends; the units left are code points.
      let a = start
      let b = end
      while (a < b && UNIT_FLAGS[text.charCodeAt(a)]! & PUNCT_OR_SYMBOL) a++
      while (b > a && UNIT_FLAGS[text.charCodeAt(b - 1)]! & PUNCT_OR_SYMBOL) b--
      if (b > a) {
        strippedCount++
        strippedCodePoints += b - a
      }
      if (wor & CASED) {
        // A unit that toLowerCase changes: the lower-cased string (it may differ in length),
        // cut at its \p{P} ends.
        source = lowerStripped(text.slice(start, end).toLowerCase())
        from = 0
        to = source.length
      } else {
        // The word's own units, no surrogate among them: \p{P} cut from both ends.
        while (from < to && UNIT_FLAGS[text.charCodeAt(from)]! & PUNCT) from++
        while (to > from && UNIT_FLAGS[text.charCodeAt(to - 1)]! & PUNCT) to--
      }
    }
    const length = to - from
    lengths[w] = length
    ids[w] = wordIds.idOf(source, from, to)
    // The distinct stop words, as bits of their index: a word of up to 4 units of 1–255 is
    // looked up by its units packed into a number (a unit 0 would pack "\0qui" as "qui").
    if (length > 0 && length <= MAX_STOP_WORD) {
      let key = 0
      for (let j = from; j < to; j++) {
        const c = source.charCodeAt(j)
        if (c === 0 || c > 255) {
          key = -1
          break
        }
        key = key * 256 + c
      }
      const index = key < 0 ? undefined : STOP_WORD_INDEX.get(key)
      if (index !== undefined) stopBits |= 1 << index
    }
  }
  pass.strippedCount = strippedCount
  pass.strippedCodePoints = strippedCodePoints
  pass.stopBits = stopBits
}

/** What surrogateWord measured: 1 or 0 stripped words, and their code points. */
const held = { stripped: 0, codePoints: 0 }

/** A word with a surrogate, by the regular expressions: its class (scratch.classes[w]), stripped length (held), and lower-cased \p{P}-stripped form. */
const surrogateWord = (word: string, w: number): string => {
  scratch.classes[w] = classOfRegex(word)
  const stripped = word.replace(PUNCT_OR_SYMBOL_ENDS, "")
  held.stripped = stripped.length > 0 ? 1 : 0
  held.codePoints = stripped.length > 0 ? codePointLength(stripped) : 0
  return word.toLowerCase().replace(PUNCT_ENDS, "")
}

/** A lower-cased word cut at its \p{P} ends, unit by unit (a surrogate at an end: the regex decides). */
const lowerStripped = (lower: string): string => {
  let from = 0
  let to = lower.length
  while (from < to) {
    const f = unitFlags(lower.charCodeAt(from))
    if (f & SURROGATE) return lower.replace(PUNCT_ENDS, "")
    if (!(f & PUNCT)) break
    from++
  }
  while (to > from) {
    const f = unitFlags(lower.charCodeAt(to - 1))
    if (f & SURROGATE) return lower.replace(PUNCT_ENDS, "")
    if (!(f & PUNCT)) break
    to--
  }
  return from === 0 && to === lower.length ? lower : lower.slice(from, to)
}

/** Non-overlapping occurrences of `s` in `text`, as the length of text.match(/s/g). */
const occurrences = (text: string, s: string): number => {
  let n = 0
  for (let at = text.indexOf(s); at >= 0; at = text.indexOf(s, at + s.length)) n++
  return n
}

const PUNCT_OR_SYMBOL_ENDS = /^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu
const PUNCT_ENDS = /^[\p{P}]+|[\p{P}]+$/gu

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
 * The lower-cased words of one text as small integers (1, 2, … in order of first occurrence, as
 * a Map<string, number> numbered them), keyed by a range of units of a string (the text itself,
 * or a word's lower-cased copy): no string per word. An open-addressing table whose arrays are
 * kept from text to text.
 */
class WordIds {
  private hashes = new Int32Array(0)
  /** Per slot: the word's id (0: empty) and where its units are. */
  private slotIds = new Int32Array(0)
  private froms = new Int32Array(0)
  private tos = new Int32Array(0)
  private sources: Array<string> = []
  private mask = 0
  size = 0

  prepare(words: number) {
    let slots = 16
    while (slots < words * 2) slots *= 2
    if (this.slotIds.length < slots) {
      this.hashes = new Int32Array(slots)
      this.slotIds = new Int32Array(slots)
      this.froms = new Int32Array(slots)
      this.tos = new Int32Array(slots)
    } else this.slotIds.fill(0, 0, slots)
    // Overwritten by id from 1 on, never emptied: an emptied array regrows for every text.
    this.mask = slots - 1
    this.size = 0
  }

  idOf(source: string, from: number, to: number): number {
    let h = 0x811c9dc5
    for (let i = from; i < to; i++) h = Math.imul(h ^ source.charCodeAt(i), 0x01000193)
    h ^= h >>> 16
    const { hashes, slotIds, froms, tos, mask } = this
    const length = to - from
    let slot = h & mask
    while (true) {
      const id = slotIds[slot]!
      if (id === 0) break
      if (hashes[slot] === h && tos[slot]! - froms[slot]! === length) {
        const other = this.sources[id - 1]!
        const at = froms[slot]!
        let i = 0
        while (i < length && other.charCodeAt(at + i) === source.charCodeAt(from + i)) i++
        if (i === length) return id
      }
      slot = (slot + 1) & mask
    }
    const id = ++this.size
    hashes[slot] = h
    slotIds[slot] = id
    froms[slot] = from
    tos[slot] = to
    if (id > this.sources.length) this.sources.push(source)
    else this.sources[id - 1] = source
    return id
  }
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
  starts: new Int32Array(256),
  ends: new Int32Array(256),
  ors: new Uint8Array(256),
  ands: new Uint8Array(256),
  lineStarts: new Int32Array(64),
  lineEnds: new Int32Array(64),
  classes: new Uint8Array(0),
  ids: new Uint32Array(0),
  lengths: new Uint32Array(0),
  occurrences: new Int32Array(0),
  repeats: new Uint8Array(0),
  next: new Uint8Array(0),
  h1: new Int32Array(0),
  h2: new Int32Array(0),
  covered: new Uint8Array(0),
  counts: new KeyCounts(),
  wordIds: new WordIds(),
  seenLines: new Int32Array(0),
  lineHashes: new Int32Array(0)
}

/** `a` copied into an array of its kind twice as long. */
function grown<A extends Uint8Array | Int32Array>(a: A): A {
  const bigger = new (a.constructor as new (length: number) => A)(a.length * 2)
  bigger.set(a)
  return bigger
}

/** `a`, or a new array of its kind with room for at least n entries (twice as many, to grow seldom). */
function atLeast<A extends Uint8Array | Uint32Array | Int32Array>(a: A, n: number): A {
  return a.length >= n ? a : (new (a.constructor as new (length: number) => A)(Math.max(64, n * 2)))
}

/**
 * Gopher's repetition rules: duplicated lines, frequent n-grams, duplicated n-grams. The lines
 * are ranges of `text`; the words are scratch.ids (1 … distinctWords) and scratch.lengths.
 */
const repetitionProblem = (text: string, lineStarts: Int32Array, lineEnds: Int32Array, lineCount: number, wordCount: number, distinctWords: number, t: QualityThresholds): string | undefined => {
  // Lines seen, by their range of the text (no string each): a line equal to an earlier one is
  // a duplicate, as Set<string>.has said.
  let dupLines = 0
  let dupLineChars = 0
  let lineSlots = 16
  while (lineSlots < lineCount * 2) lineSlots *= 2
  const seenLines = scratch.seenLines = atLeast(scratch.seenLines, lineSlots)
  const lineHashes = scratch.lineHashes = atLeast(scratch.lineHashes, lineSlots)
  seenLines.fill(0, 0, lineSlots)
  const lineMask = lineSlots - 1
  for (let k = 0; k < lineCount; k++) {
    const start = lineStarts[k]!
    const end = lineEnds[k]!
    let h = 0x811c9dc5
    for (let i = start; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
    h ^= h >>> 16
    let slot = h & lineMask
    let duplicate = false
    while (seenLines[slot] !== 0) {
      const other = seenLines[slot]! - 1
      if (lineHashes[slot] === h && lineEnds[other]! - lineStarts[other]! === end - start) {
        const at = lineStarts[other]!
        let i = 0
        while (i < end - start && text.charCodeAt(at + i) === text.charCodeAt(start + i)) i++
        if (i === end - start) {
          duplicate = true
          break
        }
      }
      slot = (slot + 1) & lineMask
    }
    if (duplicate) {
      dupLines++
      dupLineChars += end - start
    } else {
      seenLines[slot] = k + 1
      lineHashes[slot] = h
    }
  }
  if (lineCount > 0 && dupLines / lineCount > t.maxDuplicateLinesRatio) return "duplicated lines"
  if (dupLineChars / Math.max(1, text.length) > t.maxDuplicateLineCharsRatio) return "duplicated line characters"
  const ids = scratch.ids
  const lengths = scratch.lengths
  let totalChars = 0
  for (let i = 0; i < wordCount; i++) totalChars += lengths[i]!
  totalChars ||= 1
  // Each word's occurrences, by id (the words are small integers, n-grams numeric hashes of
  // them: no string building per n-gram).
  const occurrences = scratch.occurrences = atLeast(scratch.occurrences, distinctWords + 1)
  occurrences.fill(0, 0, distinctWords + 1)
  for (let i = 0; i < wordCount; i++) occurrences[ids[i]!]!++
  // Only repeated n-grams matter to every rule below (the top n-gram counts only when it occurs
  // twice or more; a duplicated n-gram is a repeated one), and an n-gram can repeat only where
  // both (n-1)-grams it is made of repeat. `repeats[i]` says whether the current n-gram at i
  // occurs twice or more; each pass counts only its candidates, usually a small share of the
  // positions in natural text (issue 23: the rules took a fifth of the chain's CPU). The verdicts
  // equal those of counting every position (test/corpus/fast-paths.test.ts).
  let repeats = scratch.repeats = atLeast(scratch.repeats, wordCount)
  let next = scratch.next = atLeast(scratch.next, wordCount)
  let candidates = 0
  for (let i = 0; i < wordCount; i++) if ((repeats[i] = occurrences[ids[i]!]! > 1 ? 1 : 0)) candidates++
  // The n-grams' hashes, grown one word at a time: after pass n, h1[i] and h2[i] hash the n words
  // from i (FNV-1a and a multiply-xorshift, both extended word by word), so a pass costs one step
  // per position instead of n. The key of the n-gram at i is (h1 >>> 0) * 2^20 + (h2 & 0xfffff);
  // h1 ^ h2 is its slot hint. Each n has its own table, so the hashes need no n in them.
  const h1 = scratch.h1 = atLeast(scratch.h1, wordCount)
  const h2 = scratch.h2 = atLeast(scratch.h2, wordCount)
  for (let i = 0; i < wordCount; i++) {
    h1[i] = Math.imul(0x811c9dc5 ^ ids[i]!, 0x01000193)
    h2[i] = Math.imul(ids[i]!, 0x9e3779b1)
  }
  const extend = (n: number) => {
    for (let i = 0; i + n <= wordCount; i++) {
      const id = ids[i + n - 1]!
      h1[i] = Math.imul(h1[i]! ^ id, 0x01000193)
      const b = h2[i]!
      h2[i] = Math.imul(b + id, 0x9e3779b1) ^ (b >>> 15)
    }
  }
  const keyAt = (i: number) => (h1[i]! >>> 0) * 0x100000 + ((h2[i]! >>> 0) & 0xfffff)
  const counts = scratch.counts
  counts.prepare(wordCount)
  /** Counts pass n's candidates (calling `each` with each one's running count), then marks which repeat. */
  const pass = (n: number, each: (i: number, count: number) => void) => {
    const last = wordCount - n
    counts.reset()
    next.fill(0, 0, wordCount)
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
    let topCount = wordCount >= n ? 1 : 0
    let topAt = 0
    pass(n, (i, c) => {
      if (c > topCount) {
        topCount = c
        topAt = i
      }
    })
    let topChars = 0
    for (let j = topAt; j < Math.min(wordCount, topAt + n); j++) topChars += lengths[j]!
    if (topCount > 1 && (topChars * topCount) / totalChars > t.maxTopNgramCharsRatio[String(n) as "2"]) return `top ${n}-gram too frequent`
  }
  const covered = scratch.covered = atLeast(scratch.covered, wordCount)
  for (const n of [5, 6, 7, 8, 9, 10] as const) {
    let any = false
    pass(n, (i, c) => {
      if (c > 1) {
        if (!any) covered.fill(0, 0, wordCount)
        any = true
        covered.fill(1, i, i + n)
      }
    })
    let chars = 0
    if (any) for (let i = 0; i < wordCount; i++) if (covered[i]) chars += lengths[i]!
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
