/**
 * The stateless half of the corpus chain, computed ahead of the operators (on worker threads by
 * the embedded runtime): for one document, what normalisation, language id, the quality rules,
 * PII scrubbing, MinHash banding and tokenization make of it, stopping where the chain would drop
 * it. The operators stay where they are and do their stateful half (tallies, the ledger, the dedup
 * indexes) on the main thread, in order; where a document carries an analysis of the very text
 * they see, they read it instead of recomputing. So a run with workers decides exactly what a run
 * without them decides (test/corpus/workers.test.ts compares shards and state row by row).
 *
 * The analysis rides on the document under a symbol key: object spreads carry it along the chain,
 * JSON and Schema encoding drop it, and a document without one is simply computed in place.
 */
import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import type { Language, LanguageIdentifier } from "./language-id.ts"
import type { MinHasher } from "./minhash.ts"
import { normaliseText } from "./normalise.ts"
import { scrubPii, type ScrubResult } from "./pii.ts"
import { qualityProblem, type QualityThresholds } from "./quality.ts"

export const ANALYSIS: unique symbol = Symbol.for("fleuve.corpus.analysis")

/** What the worker sends back; a field is absent where the chain would have stopped before it. */
export interface DocumentAnalysis {
  /** The normalised text, when normalisation changed it (else the input text stands). */
  readonly normalisedText?: string
  readonly repairs: number
  /** sha256 of the normalised text, when it changed. */
  readonly contentHash?: string
  /** The identifier's answer (null: no letters), score unrounded as the filter compares it. */
  readonly lang?: { readonly lang: Language; readonly score: number } | null
  /** The first quality rule broken (null: none). */
  readonly quality?: string | null
  readonly pii?: ScrubResult
  readonly bands?: ReadonlyArray<number>
  readonly ids?: Int32Array
}

/** A document's analysis and the texts it was computed for (so a step can check it sees the same text). */
export interface AttachedAnalysis extends DocumentAnalysis {
  readonly input: string
}

export interface AnalysisSettings {
  readonly keep: ReadonlyArray<string>
  readonly minScore: number
  readonly quality: QualityThresholds
}

export interface Analysers {
  readonly identifier: LanguageIdentifier
  readonly hasher: MinHasher
  /** Absent: tokenization is left to the main thread. */
  readonly encode?: (text: string) => ReadonlyArray<number>
  readonly sha256: (text: string) => string
}

/** The chain's pure steps for one text; `knownHash`: what an earlier run recorded, to stop at "unchanged". */
export const analyseDocument = (text: string, knownHash: string | undefined, settings: AnalysisSettings, a: Analysers): DocumentAnalysis => {
  const norm = normaliseText(text)
  if (norm.text.length === 0) return { normalisedText: "", repairs: norm.repairs }
  const changed = norm.text !== text
  const contentHash = changed ? a.sha256(norm.text) : undefined
  const head = changed ? { normalisedText: norm.text, repairs: norm.repairs, contentHash: contentHash! } : { repairs: norm.repairs }
  if (knownHash !== undefined && (contentHash ?? a.sha256(text)) === knownHash) return head
  const id = a.identifier.identify(norm.text)
  const lang = id ? { lang: id.lang, score: id.score } : null
  if (!id || !settings.keep.includes(id.lang) || id.score < settings.minScore) return { ...head, lang }
  const quality = qualityProblem(norm.text, settings.quality) ?? null
  if (quality !== null) return { ...head, lang, quality }
  const pii = scrubPii(norm.text)
  const bands = a.hasher.bandKeys(a.hasher.signature(pii.text))
  if (!a.encode) return { ...head, lang, quality, pii, bands }
  return { ...head, lang, quality, pii, bands, ids: Int32Array.from(a.encode(pii.text)) }
}

export const analysisOf = (doc: CorpusDocument): AttachedAnalysis | undefined => (doc as { [ANALYSIS]?: AttachedAnalysis })[ANALYSIS]

/** The document with its analysis attached (a new object; the analysis is not enumerable by JSON). */
export const withAnalysis = <D extends CorpusDocument>(doc: D, analysis: DocumentAnalysis): D => ({ ...doc, [ANALYSIS]: { ...analysis, input: doc.text } })

/** The text the chain holds after normalisation, by the analysis. */
export const normalisedTextOf = (a: AttachedAnalysis) => a.normalisedText ?? a.input
/** The text the chain holds after PII scrubbing, by the analysis. */
export const scrubbedTextOf = (a: AttachedAnalysis) => a.pii?.text ?? normalisedTextOf(a)
