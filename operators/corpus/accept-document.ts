import { Effect } from "effect"
import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import { type Operator, Outcome } from "../operator.ts"
import type { CorpusRead } from "../readers/corpus.ts"
import { Tally } from "./tally.ts"

/** Unwraps what the corpus reader read; unreadable lines become dead letters with the reader's reason. */
export const acceptDocument = (): Operator<CorpusRead, CorpusDocument> & { tally: Tally } => {
  const tally = new Tally("accept-document")
  return {
    name: "accept-document",
    tally,
    process: (batch) =>
      Effect.sync(() =>
        batch.map((e) => {
          if (e.value._tag === "Unreadable") {
            tally.reject()
            return Outcome.reject(e.value.reason)
          }
          tally.keep()
          return Outcome.emit({ key: e.key, value: e.value.document, position: e.position })
        })
      )
  }
}
