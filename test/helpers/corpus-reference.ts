/**
 * The corpus operators' first, plain implementations (quality rules and MinHash signatures),
 * kept as references: the fast versions in operators/corpus must give the same answers
 * (test/corpus/fast-paths.test.ts).
 */
import { defaultQualityThresholds, type QualityScores, type QualityThresholds } from "../../operators/corpus/quality.ts"
import { fnv1a, type MinHashConfig, simplify } from "../../operators/corpus/minhash.ts"
import { type Language, LANGUAGES } from "../../operators/corpus/language-id.ts"
import { Field, Int32, List, Table, Utf8, vectorFromArray } from "apache-arrow"
import type { PackedSequence } from "../../schemas/corpus-document.ts"

const FRENCH_STOP_WORDS = new Set(["le", "la", "les", "de", "des", "du", "un", "une", "et", "en", "à", "au", "aux", "est", "que", "qui", "pour", "dans", "par", "sur", "avec", "il", "elle", "pas", "ne", "ce", "se", "son", "sa", "ses"])
const BULLETS = /^\s*[•●‣◦▪▫*\-–—·]/
const ELLIPSIS = /(\.\.\.|…)\s*$/

/** alphabeticWordsRatio with its regular expressions only (the fast one reads ASCII words unit by unit). */
export const referenceAlphabeticWordsRatio = (words: ReadonlyArray<string>): number => {
  let counted = 0
  let alphabetic = 0
  let groupRun = 0
  for (const w of words) {
    if (/^[\p{P}\p{S}]+$/u.test(w)) continue
    if (/^\p{N}{1,4}$/u.test(w)) {
      groupRun++
      if (groupRun > 1 && groupRun <= 8) continue
      if (groupRun > 8) groupRun = 1
    } else groupRun = 0
    counted++
    if (/\p{L}/u.test(w)) alphabetic++
  }
  return counted === 0 ? 0 : alphabetic / counted
}

/** The first rule a text breaks, or undefined when it passes them all. */
export const referenceQualityProblem = (text: string, t: QualityThresholds = defaultQualityThresholds): string | undefined => referenceQualityCheck(text, t).problem

/** qualityProblem, with the measures of a text that passes (for the cleaned documents' `quality`). */
export const referenceQualityCheck = (text: string, t: QualityThresholds = defaultQualityThresholds): { problem?: string; scores?: QualityScores } => {
  const problem = (p: string) => ({ problem: p })
  const words = text.split(/\s+/).filter((w) => w.length > 0)
  if (words.length < t.minWords) return problem("too few words")
  if (words.length > t.maxWords) return problem("too many words")
  const stripped = words.map((w) => w.replace(/^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu, "")).filter((w) => w.length > 0)
  const mean = stripped.reduce((a, w) => a + [...w].length, 0) / Math.max(1, stripped.length)
  if (mean < t.minMeanWordLength) return problem("mean word length too short")
  if (mean > t.maxMeanWordLength) return problem("mean word length too long")
  const symbols = (text.match(/#/g)?.length ?? 0) + (text.match(/\.\.\.|…/g)?.length ?? 0)
  if (symbols / words.length > t.maxSymbolWordRatio) return problem("too many symbols per word")
  const lines = text.split("\n").filter((l) => l.trim().length > 0)
  if (lines.length > 0 && lines.filter((l) => BULLETS.test(l)).length / lines.length > t.maxBulletLinesRatio) return problem("too many bullet lines")
  if (lines.length > 0 && lines.filter((l) => ELLIPSIS.test(l)).length / lines.length > t.maxEllipsisLinesRatio) return problem("too many lines ending in ellipsis")
  const alpha = referenceAlphabeticWordsRatio(words)
  if (alpha < t.minAlphaWordsRatio) return problem("too few alphabetic words")
  const lower = words.map((w) => w.toLowerCase().replace(/^[\p{P}]+|[\p{P}]+$/gu, ""))
  const stops = new Set(lower.filter((w) => FRENCH_STOP_WORDS.has(w)))
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
  const totalChars = words.reduce((a, w) => a + w.length, 0) || 1
  // Words as small integers, n-grams as numeric hashes of them: no string building per n-gram.
  const idOf = new Map<string, number>()
  const ids = Uint32Array.from(words, (w) => {
    let id = idOf.get(w)
    if (id === undefined) idOf.set(w, (id = idOf.size + 1))
    return id
  })
  const ngramKey = (i: number, n: number) => {
    let h1 = 0x811c9dc5
    let h2 = n
    for (let j = i; j < i + n; j++) {
      h1 = Math.imul(h1 ^ ids[j]!, 0x01000193)
      h2 = Math.imul(h2 + ids[j]!, 0x9e3779b1) ^ (h2 >>> 15)
    }
    return (h1 >>> 0) * 0x100000 + ((h2 >>> 0) & 0xfffff)
  }
  for (const n of [2, 3, 4] as const) {
    const counts = new Map<number, number>()
    let topKey = -1
    let topCount = 0
    let topAt = 0
    for (let i = 0; i + n <= words.length; i++) {
      const key = ngramKey(i, n)
      const c = (counts.get(key) ?? 0) + 1
      counts.set(key, c)
      if (c > topCount) [topKey, topCount, topAt] = [key, c, i]
    }
    void topKey
    const topChars = words.slice(topAt, topAt + n).reduce((a, w) => a + w.length, 0)
    if (topCount > 1 && (topChars * topCount) / totalChars > t.maxTopNgramCharsRatio[String(n) as "2"]) return `top ${n}-gram too frequent`
  }
  for (const n of [5, 6, 7, 8, 9, 10] as const) {
    const seen = new Set<number>()
    const covered = new Uint8Array(words.length)
    for (let i = 0; i + n <= words.length; i++) {
      const key = ngramKey(i, n)
      if (seen.has(key)) covered.fill(1, i, i + n)
      else seen.add(key)
    }
    let chars = 0
    covered.forEach((c, i) => (chars += c ? words[i]!.length : 0))
    if (chars / totalChars > t.maxDuplicateNgramCharsRatio[String(n) as "5"]) return `duplicated ${n}-grams`
  }
  return undefined
}


const fmix32 = (h: number) => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** MinHash signatures as first written: a Set of shingles, each folded into the signature in turn. */
export class ReferenceMinHasher {
  private readonly seeds: Uint32Array

  constructor(readonly config: MinHashConfig) {
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
}

/**
 * The language identifier's first version: n-grams built as strings and looked up in a Map. The
 * packed-integer identifier (operators/corpus/language-id.ts) must give bit-identical scores.
 */
export class ReferenceLanguageIdentifier {
  private readonly logProb = new Map<string, Float64Array>()
  private readonly unseen = new Float64Array(LANGUAGES.length)

  constructor(training: Readonly<Record<Language, string>>) {
    const vocabulary = new Set<string>()
    const counts = new Map<Language, Map<string, number>>()
    for (const lang of LANGUAGES) {
      const c = new Map<string, number>()
      referenceGrams(training[lang], (g) => {
        c.set(g, (c.get(g) ?? 0) + 1)
        vocabulary.add(g)
      })
      counts.set(lang, c)
    }
    const alpha = 0.1
    LANGUAGES.forEach((lang, i) => {
      const c = counts.get(lang)!
      const total = [...c.values()].reduce((a, b) => a + b, 0)
      this.unseen[i] = Math.log(alpha / (total + alpha * (vocabulary.size + 1)))
    })
    for (const g of vocabulary) {
      const row = new Float64Array(LANGUAGES.length)
      LANGUAGES.forEach((lang, i) => {
        const k = counts.get(lang)!.get(g)
        row[i] = k === undefined ? this.unseen[i]! : Math.log((k + alpha) / (Math.exp(-this.unseen[i]!) * alpha))
      })
      this.logProb.set(g, row)
    }
  }

  identify(text: string): { lang: Language; score: number; scores: Record<Language, number> } | undefined {
    const ll = new Float64Array(LANGUAGES.length)
    let n = 0
    referenceGrams(text, (g) => {
      n++
      const row = this.logProb.get(g) ?? this.unseen
      for (let i = 0; i < LANGUAGES.length; i++) ll[i] += row[i]!
    })
    if (n === 0) return undefined
    const means = Array.from(ll, (v) => (v / n) * 25)
    const max = Math.max(...means)
    const exps = means.map((m) => Math.exp(m - max))
    const sum = exps.reduce((a, b) => a + b, 0)
    const scores = Object.fromEntries(LANGUAGES.map((l, i) => [l, exps[i]! / sum])) as Record<Language, number>
    const best = LANGUAGES[means.indexOf(max)]!
    return { lang: best, score: scores[best], scores }
  }
}

const referenceGrams = (text: string, visit: (g: string) => void) => {
  const words = text.slice(0, 1000).toLowerCase().replace(/’/g, "'").match(/[\p{L}']+/gu) ?? []
  for (const w of words) {
    const padded = ` ${w} `
    for (const n of [1, 2, 3, 4]) for (let i = 0; i + n <= padded.length; i++) visit(padded.slice(i, i + n))
  }
}

/** The LSH index's first version: one Map per band (operators/corpus/minhash.ts's LshIndex must answer alike). */
export class ReferenceLshIndex {
  private readonly tables: Array<Map<number, string>>
  constructor(readonly bands: number) {
    this.tables = Array.from({ length: bands }, () => new Map())
  }
  find(keys: ReadonlyArray<number>): string | undefined {
    for (let b = 0; b < keys.length; b++) {
      const hit = this.tables[b]!.get(keys[b]!)
      if (hit !== undefined) return hit
    }
    return undefined
  }
  add(keys: ReadonlyArray<number>, representative: string) {
    for (let b = 0; b < keys.length; b++) if (!this.tables[b]!.has(keys[b]!)) this.tables[b]!.set(keys[b]!, representative)
  }
  forget(keys: ReadonlyArray<number>, representative: string) {
    for (let b = 0; b < keys.length; b++) if (this.tables[b]!.get(keys[b]!) === representative) this.tables[b]!.delete(keys[b]!)
  }
}

/** A shard's table built by apache-arrow's builders, as ArrowShardWriter first did (its shardTable fills the buffers directly). */
export const referenceShardTable = (rows: ReadonlyArray<PackedSequence>): Table =>
  new Table({
    seq: vectorFromArray(Int32Array.from(rows.map((r) => r.seq))),
    input_ids: vectorFromArray(rows.map((r) => Int32Array.from(r.ids)), new List(new Field("item", new Int32(), false))),
    doc_ids: vectorFromArray(rows.map((r) => [...r.docIds]), new List(new Field("item", new Utf8(), false)))
  })
