import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import { corpusStep, Verdict } from "./corpus-operator.ts"
import type { DocumentLedger } from "./ledger.ts"
import { LshIndex, MinHasher } from "./minhash.ts"

/**
 * Streaming MinHash LSH deduplication: the first document of each cluster is kept; a later one
 * that shares a band with it is dropped and names it. Duplicates' bands also point at the kept
 * document, so clusters are transitive as with datatrove's union-find.
 */
export const nearDedup = (hasher = new MinHasher(), index = new LshIndex(hasher.config.bands), ledger?: DocumentLedger) =>
  corpusStep<CorpusDocument, CorpusDocument>("near-dedup", (doc) => {
    const keys = hasher.bandKeys(hasher.signature(doc.text))
    const representative = index.find(keys)
    if (representative !== undefined && representative !== doc.id) {
      index.add(keys, representative)
      return Verdict.drop("near duplicate", representative)
    }
    index.add(keys, doc.id)
    ledger?.note(doc.id, { bands: keys.map((k) => k.toString(36)) })
    return Verdict.keep(doc)
  }, ledger)
