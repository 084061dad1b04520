import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import { corpusStep, Verdict } from "./corpus-operator.ts"
import type { ExactIndex } from "./exact-dedup.ts"
import type { DocumentLedger } from "./ledger.ts"
import type { LshIndex } from "./minhash.ts"

/** What an earlier run remembered of a document (loaded from the warehouse). */
export interface KnownDocument {
  readonly contentHash: string
  readonly status: string
  readonly bands: ReadonlyArray<number>
}

/**
 * Incremental reprocessing: a document whose id and normalised content hash match what an
 * earlier run recorded is dropped as "unchanged" before any costly step. A changed document first
 * leaves the dedup indexes under its old content, then goes through the chain again.
 */
export const skipUnchanged = (known: ReadonlyMap<string, KnownDocument>, indexes: { exact: ExactIndex; lsh: LshIndex }, ledger: DocumentLedger) =>
  corpusStep<CorpusDocument, CorpusDocument>("skip-unchanged", (doc) => {
    ledger.see(doc.id)
    const before = known.get(doc.id)
    if (before && before.contentHash === doc.contentHash) return Verdict.drop("unchanged")
    if (before && before.status === "kept") {
      indexes.exact.forget(doc.id, before.contentHash)
      indexes.lsh.forget(before.bands, doc.id)
    }
    ledger.process(doc.id)
    return Verdict.keep(doc)
  })
