import { Effect } from "effect"
import type { PackedSequence, TokenizedDocument } from "../../schemas/corpus-document.ts"
import type { Envelope } from "../envelope.ts"
import { type Operator, Outcome } from "../operator.ts"
import { Tally } from "./tally.ts"

export interface PackOptions {
  readonly sequenceLength: number
  readonly eosId: number
  /** Drop the last, shorter sequence instead of emitting it (default false). */
  readonly dropRemainder?: boolean
}

/**
 * Packs documents' token ids back to back, each followed by EOS, into fixed-length sequences.
 * A document may span two sequences (standard for pre-training). Stateful: what does not fill a
 * sequence waits for the next document, and `flush` emits the remainder at the end.
 */
export const pack = (options: PackOptions): Operator<TokenizedDocument, PackedSequence> & { tally: Tally } => {
  const tally = new Tally("pack")
  const length = options.sequenceLength
  let buffer = new Int32Array(length)
  let filled = 0
  let docIds: Array<string> = []
  let seq = 0

  const take = (): Envelope<PackedSequence> => {
    const value: PackedSequence = { seq, ids: Array.from(buffer.subarray(0, filled)), docIds }
    const out = { key: `seq-${seq}`, value, position: { _tag: "Generated" as const, generator: "pack", seq } }
    seq++
    tally.count("sequences")
    buffer = new Int32Array(length)
    filled = 0
    docIds = []
    return out
  }

  const push = (doc: TokenizedDocument): Array<Envelope<PackedSequence>> => {
    const out: Array<Envelope<PackedSequence>> = []
    const ids = [...doc.ids, options.eosId]
    let i = 0
    while (i < ids.length) {
      if (docIds[docIds.length - 1] !== doc.id) docIds.push(doc.id)
      const n = Math.min(length - filled, ids.length - i)
      buffer.set(ids.slice(i, i + n), filled)
      filled += n
      i += n
      if (filled === length) out.push(take())
    }
    return out
  }

  return {
    name: "pack",
    tally,
    process: (batch) =>
      Effect.sync(() =>
        batch.map((e) => {
          tally.keep()
          return Outcome.emit(...push(e.value))
        })
      ),
    flush: () =>
      Effect.sync(() => {
        if (filled === 0 || options.dropRemainder) return []
        return [take()]
      })
  }
}
