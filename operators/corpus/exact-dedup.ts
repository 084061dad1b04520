import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import { corpusStep, Verdict } from "./corpus-operator.ts"
import type { DocumentLedger } from "./ledger.ts"

/** Content hash → the document that holds it; seeded from the warehouse on incremental runs. */
export class ExactIndex {
  private readonly owners = new Map<string, string>()
  add(hash: string, docId: string) {
    if (!this.owners.has(hash)) this.owners.set(hash, docId)
  }
  ownerOf(hash: string) {
    return this.owners.get(hash)
  }
  forget(docId: string, hash: string) {
    if (this.owners.get(hash) === docId) this.owners.delete(hash)
  }
  get size() {
    return this.owners.size
  }
}

/** Keeps the first document of each normalised content hash; later ones name the one they repeat. */
export const exactDedup = (index = new ExactIndex(), ledger?: DocumentLedger) =>
  corpusStep<CorpusDocument, CorpusDocument>("exact-dedup", (doc) => {
    const owner = index.ownerOf(doc.contentHash)
    if (owner !== undefined && owner !== doc.id) return Verdict.drop("exact duplicate", owner, { similarity: 1 })
    index.add(doc.contentHash, doc.id)
    return Verdict.keep(doc)
  }, ledger)
