import type { TextTokenizer } from "../../model/index.ts"
import type { CorpusDocument, TokenizedDocument } from "../../schemas/corpus-document.ts"
import { analysisOf, scrubbedTextOf } from "./analysis-carrier.ts"
import { corpusStep, Verdict } from "./corpus-operator.ts"
import type { DocumentLedger } from "./ledger.ts"

/** Token ids of each surviving document; the document is recorded as kept in the ledger here. */
export const tokenize = (tokenizer: TextTokenizer, ledger?: DocumentLedger) => {
  const op = corpusStep<CorpusDocument, TokenizedDocument>("tokenize", (doc) => {
    const a = analysisOf(doc)
    const ids = a !== undefined && a.ids !== undefined && scrubbedTextOf(a) === doc.text ? Array.from(a.ids) : tokenizer.encode(doc.text)
    op.tally.count("tokens", ids.length)
    ledger?.keep(doc)
    ledger?.note(doc.id, { tokens: ids.length })
    return Verdict.keep({ id: doc.id, ids })
  }, ledger)
  return op
}
