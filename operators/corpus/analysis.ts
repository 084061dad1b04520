/**
 * The stateless half of the corpus chain, computed ahead of the operators (on worker threads by
 * the embedded runtime): for one document, what normalisation, language id, the quality rules,
 * PII scrubbing, MinHash banding and tokenization make of it, stopping where the chain would drop
 * it (in the chain's order: normalise, language, PII, quality). The operators stay where they are and do their stateful half (tallies, the ledger, the dedup
 * indexes) on the main thread, in order; where a document carries an analysis of the very text
 * they see, they read it instead of recomputing. So a run with workers decides exactly what a run
 * without them decides (test/corpus/workers.test.ts compares shards and state row by row).
 *
 * The analysis rides on the document under a symbol key (operators/corpus/analysis-carrier.ts):
 * object spreads carry it along the chain, JSON and Schema encoding drop it, and a document
 * without one is simply computed in place.
 */
import type { LanguageIdentifier } from "./language-id.ts"
import type { MinHasher } from "./minhash.ts"
import { normaliseText } from "./normalise.ts"
import { scrubPii } from "./pii.ts"
import { qualityCheck, type QualityThresholds } from "./quality.ts"
import type { DocumentAnalysis } from "./analysis-carrier.ts"

export { type AttachedAnalysis, type DocumentAnalysis, withAnalysis } from "./analysis-carrier.ts"

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
  const id = a.identifier.identifyFor(norm.text, [settings.minScore])
  const lang = id ? { lang: id.lang, score: id.score } : null
  if (!id || !settings.keep.includes(id.lang) || id.score < settings.minScore) return { ...head, lang }
  // The chain's order: PII is scrubbed before the quality rules judge the text.
  const pii = scrubPii(norm.text)
  const quality = qualityCheck(pii.text, settings.quality)
  if (quality.problem !== undefined) return { ...head, lang, pii, quality }
  const bands = a.hasher.bandKeys(a.hasher.signature(pii.text))
  if (!a.encode) return { ...head, lang, pii, quality, bands }
  return { ...head, lang, pii, quality, bands, ids: Int32Array.from(a.encode(pii.text)) }
}
