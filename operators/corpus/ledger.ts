import type { CorpusDocument } from "../../schemas/corpus-document.ts"

/** Facts about a dropped document that the ledger keeps with its decision. */
export interface DropFacts {
  readonly lang?: string
  readonly langScore?: number
  /** Estimated Jaccard similarity to the document it duplicates. */
  readonly similarity?: number
}

/** The fate of one document in one run, as incremental reprocessing remembers it. */
export interface Decision {
  readonly docId: string
  readonly contentHash: string
  readonly source: string
  readonly status: "kept" | "dropped" | "duplicate" | "rejected"
  readonly reason?: string
  readonly duplicateOf?: string
  readonly lang?: string
  readonly langScore?: number
  /** Duplicates: estimated Jaccard similarity to duplicateOf (1 for exact duplicates). */
  readonly similarity?: number
  /** LSH band keys of a kept document, so later runs can find its near-duplicates. */
  readonly bands?: ReadonlyArray<string>
  readonly tokens?: number
}

/**
 * Collects what happened to every document the run looked at: the ids it saw (so disappeared
 * ones can be retired), the ones it processed, and a decision per processed document. Operators
 * write into it; the pipeline persists it after the run. Knows nothing of the warehouse.
 */
export class DocumentLedger {
  readonly seen = new Set<string>()
  readonly processed = new Set<string>()
  private readonly decisions = new Map<string, Decision>()
  /** Kept documents' extra facts, filled by later operators (bands by dedup, tokens by tokenizer). */
  private readonly facts = new Map<string, { bands?: ReadonlyArray<string>; tokens?: number }>()

  see(docId: string) {
    this.seen.add(docId)
  }
  process(docId: string) {
    this.processed.add(docId)
  }
  drop(doc: CorpusDocument, reason: string, duplicateOf?: string, facts: DropFacts = {}) {
    this.decisions.set(doc.id, {
      docId: doc.id,
      contentHash: doc.contentHash,
      source: doc.source,
      status: duplicateOf === undefined ? "dropped" : "duplicate",
      reason,
      ...(duplicateOf === undefined ? {} : { duplicateOf }),
      ...langOf(doc),
      ...langOf(facts),
      ...(facts.similarity === undefined ? {} : { similarity: facts.similarity })
    })
  }
  keep(doc: CorpusDocument) {
    this.decisions.set(doc.id, { docId: doc.id, contentHash: doc.contentHash, source: doc.source, status: "kept", ...langOf(doc) })
  }
  note(docId: string, fact: { bands?: ReadonlyArray<string>; tokens?: number }) {
    this.facts.set(docId, { ...this.facts.get(docId), ...fact })
  }

  /** Every decision, kept documents completed with their bands and token counts. */
  all(): ReadonlyArray<Decision> {
    return [...this.decisions.values()].map((d) => (d.status === "kept" ? { ...d, ...this.facts.get(d.docId) } : d))
  }
  decisionOf(docId: string): Decision | undefined {
    const d = this.decisions.get(docId)
    return d && d.status === "kept" ? { ...d, ...this.facts.get(docId) } : d
  }
}

const langOf = (doc: { readonly lang?: string | undefined; readonly langScore?: number | undefined }) => ({
  ...(doc.lang === undefined ? {} : { lang: doc.lang }),
  ...(doc.langScore === undefined ? {} : { langScore: doc.langScore })
})
