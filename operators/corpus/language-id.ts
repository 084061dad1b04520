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
 */
export class LanguageIdentifier {
  /** n-gram → log P(n-gram | language), one slot per language, in LANGUAGES order. */
  private readonly logProb = new Map<string, Float64Array>()
  private readonly unseen = new Float64Array(LANGUAGES.length)

  constructor(training: Readonly<Record<Language, string>> = loadTraining()) {
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
  }

  /** The most likely language and a confidence in [0, 1]; undefined when the text has no letters. */
  identify(text: string): { lang: Language; score: number; scores: Record<Language, number> } | undefined {
    const ll = new Float64Array(LANGUAGES.length)
    let n = 0
    const k = LANGUAGES.length
    grams(text, (g) => {
      n++
      const row = this.logProb.get(g) ?? this.unseen
      for (let i = 0; i < k; i++) ll[i] += row[i]!
    })
    if (n === 0) return undefined
    const means = Array.from(ll, (v) => (v / n) * SCALE)
    const max = Math.max(...means)
    const exps = means.map((m) => Math.exp(m - max))
    const sum = exps.reduce((a, b) => a + b, 0)
    const scores = Object.fromEntries(LANGUAGES.map((l, i) => [l, exps[i]! / sum])) as Record<Language, number>
    const best = LANGUAGES[means.indexOf(max)]!
    return { lang: best, score: scores[best], scores }
  }
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
    const id = a !== undefined && a.lang !== undefined && normalisedTextOf(a) === doc.text ? (a.lang ?? undefined) : identifier.identify(doc.text)
    if (!id) return Verdict.drop("no letters")
    const labelled = { ...doc, lang: id.lang, langScore: Math.round(id.score * 1e4) / 1e4 }
    // Dropped documents keep their label: the rows an engineer reads to tune the threshold.
    const facts = { lang: labelled.lang, langScore: labelled.langScore }
    if (!keep.has(id.lang)) return Verdict.drop(`language ${id.lang}`, undefined, facts)
    if (id.score < minScore) return Verdict.drop("language confidence below threshold", undefined, facts)
    return Verdict.keep(labelled)
  }, ledger)
}
