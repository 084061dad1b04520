import { Effect } from "effect"
import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import type { Envelope } from "../envelope.ts"
import { type Operator, Outcome } from "../operator.ts"
import type { DocumentLedger, DropFacts } from "./ledger.ts"

export type { DropFacts }
import { Tally } from "./tally.ts"

/** A corpus step's verdict on one document. */
export type Verdict<Out> =
  | { readonly _tag: "Keep"; readonly value: Out; readonly changed: boolean }
  | {
    readonly _tag: "Drop"
    readonly reason: string
    readonly duplicateOf?: string
    /** What the step learnt before dropping it (a language label, a similarity): recorded in the ledger. */
    readonly facts?: DropFacts
  }
  | { readonly _tag: "Reject"; readonly reason: string; readonly field?: string }

export const Verdict = {
  keep: <Out>(value: Out, changed = false): Verdict<Out> => ({ _tag: "Keep", value, changed }),
  drop: (reason: string, duplicateOf?: string, facts?: DropFacts): Verdict<never> => ({
    _tag: "Drop",
    reason,
    ...(duplicateOf === undefined ? {} : { duplicateOf }),
    ...(facts === undefined ? {} : { facts })
  }),
  reject: (reason: string, field?: string): Verdict<never> => (field === undefined ? { _tag: "Reject", reason } : { _tag: "Reject", reason, field })
}

export interface CorpusOperator<In, Out> extends Operator<In, Out> {
  readonly tally: Tally
}

/**
 * Builds a corpus operator from a per-document function: counts kept / changed / dropped (by
 * reason) in a Tally, records drops in the ledger (with the document a duplicate duplicates), and
 * turns exceptions into rejects so one bad document never stops the stream.
 */
export const corpusStep = <In extends CorpusDocument, Out>(
  name: string,
  f: (doc: In) => Verdict<Out>,
  ledger?: DocumentLedger
): CorpusOperator<In, Out> => {
  const tally = new Tally(name)
  const one = (input: Envelope<In>): Outcome<Out> => {
    let v: Verdict<Out>
    try {
      v = f(input.value)
    } catch (e) {
      tally.reject()
      return Outcome.reject(`${name}: unexpected error: ${e instanceof Error ? e.message : String(e)}`)
    }
    switch (v._tag) {
      case "Keep":
        tally.keep(v.changed)
        return Outcome.emit({ key: input.key, value: v.value, position: input.position })
      case "Drop":
        tally.drop(v.reason)
        ledger?.drop(input.value, v.reason, v.duplicateOf, v.facts)
        return Outcome.drop(v.reason)
      case "Reject":
        tally.reject()
        return Outcome.reject(v.reason, v.field)
    }
  }
  return { name, tally, process: (batch) => Effect.sync(() => batch.map(one)) }
}
