import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import { analysisOf, scrubbedTextOf } from "./analysis-carrier.ts"
import { corpusStep, Verdict } from "./corpus-operator.ts"
import type { DocumentLedger } from "./ledger.ts"
import { LshIndex, MinHasher } from "./minhash.ts"

/**
 * Streaming MinHash LSH deduplication: the first document of each cluster is kept; a later one
 * that shares a band with it is dropped and names it. Duplicates' bands also point at the kept
 * document, so clusters are transitive as with datatrove's union-find.
 */
export const nearDedup = (
  hasher = new MinHasher(),
  index = new LshIndex(hasher.config.bands),
  ledger?: DocumentLedger
) =>
  // A representative's own band keys, for its duplicates' similarity, are the index's (earlier
  // runs' kept documents are added with theirs as they are loaded).
  corpusStep<CorpusDocument, CorpusDocument>("near-dedup", (doc) => {
    const a = analysisOf(doc)
    const keys = a !== undefined && a.bands !== undefined && scrubbedTextOf(a) === doc.text ? a.bands : hasher.bandKeys(hasher.signature(doc.text))
    const representative = index.find(keys)
    if (representative !== undefined && representative !== doc.id) {
      const theirs = index.foundBands()
      const facts = theirs === undefined ? undefined : { similarity: bandSimilarity(keys, theirs, hasher.config.rows) }
      index.add(keys, representative)
      return Verdict.drop("near duplicate", representative, facts)
    }
    index.add(keys, doc.id, true)
    ledger?.noteBands(doc.id, keys)
    return Verdict.keep(doc)
  }, ledger)

/**
 * Estimated Jaccard similarity of two documents' shingle sets from their LSH band keys: a band of
 * r rows matches with probability s^r, so s ≈ (matching bands / bands)^(1/r). Coarse (14 bands:
 * steps of 1/14 before the root) but computable for representatives of earlier runs, whose
 * signatures are not kept, only their bands.
 */
export const bandSimilarity = (a: ArrayLike<number>, b: ArrayLike<number>, rows: number): number => {
  const n = Math.min(a.length, b.length)
  let same = 0
  for (let i = 0; i < n; i++) if (a[i] === b[i]) same++
  return n === 0 ? 0 : Math.round(Math.pow(same / n, 1 / rows) * 1e4) / 1e4
}
