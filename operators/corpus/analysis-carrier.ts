/**
 * How a document carries what worker threads computed ahead of the corpus operators (see
 * operators/corpus/analysis.ts): a symbol-keyed field that object spreads carry along the chain and
 * JSON and Schema encoding drop. The operators read it through these helpers; this module imports
 * none of them, so they can import it.
 */
import type { CorpusDocument } from "../../schemas/corpus-document.ts"

export const ANALYSIS: unique symbol = Symbol.for("fleuve.corpus.analysis")

/** What the worker sends back; a field is absent where the chain would have stopped before it. */
export interface DocumentAnalysis {
  /** The normalised text, when normalisation changed it (else the input text stands). */
  readonly normalisedText?: string
  readonly repairs: number
  /** sha256 of the normalised text, when it changed. */
  readonly contentHash?: string
  /** The identifier's answer (null: no letters), score unrounded as the filter compares it. */
  readonly lang?: { readonly lang: string; readonly score: number } | null
  /** The quality rules' verdict on the scrubbed text: the first rule broken, or the measures. */
  readonly quality?: { readonly problem?: string; readonly scores?: object }
  /** The scrubbed text and the replacements per PII type. */
  readonly pii?: { readonly text: string; readonly counts: Readonly<Record<string, number>> }
  readonly bands?: ReadonlyArray<number>
  readonly ids?: Int32Array
}

/** A document's analysis and the text it was computed for (so a step can check it sees the same text). */
export interface AttachedAnalysis extends DocumentAnalysis {
  readonly input: string
}

export const analysisOf = (doc: CorpusDocument): AttachedAnalysis | undefined => (doc as { [ANALYSIS]?: AttachedAnalysis })[ANALYSIS]

/** The document with its analysis attached (a new object; the analysis is not enumerable by JSON). */
export const withAnalysis = <D extends CorpusDocument>(doc: D, analysis: DocumentAnalysis): D => ({ ...doc, [ANALYSIS]: { ...analysis, input: doc.text } })

/** The text the chain holds after normalisation, by the analysis. */
export const normalisedTextOf = (a: AttachedAnalysis) => a.normalisedText ?? a.input
/** The text the chain holds after PII scrubbing, by the analysis. */
export const scrubbedTextOf = (a: AttachedAnalysis) => a.pii?.text ?? normalisedTextOf(a)
