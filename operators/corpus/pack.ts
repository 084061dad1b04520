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
  // Reused from sequence to sequence: take() copies the filled part out.
  const buffer = new Int32Array(length)
  let filled = 0
  let docIds: Array<string> = []
  let seq = 0

  const take = (): Envelope<PackedSequence> => {
    // A loop, not Array.from(buffer.subarray(…)): that goes through the typed array's iterator.
    // The array made at its length: pushing 2,048 ids grew it ~10 times (the 10 MB run's largest
    // source of garbage, 10% of what it allocated: issue 23).
    const ids = new Array<number>(filled)
    for (let i = 0; i < filled; i++) ids[i] = buffer[i]!
    const value: PackedSequence = { seq, ids, docIds }
    const out = { key: `seq-${seq}`, value, position: { _tag: "Generated" as const, generator: "pack", seq } }
    seq++
    tally.count("sequences")
    filled = 0
    docIds = []
    return out
  }

  const push = (doc: TokenizedDocument): Array<Envelope<PackedSequence>> => {
    const out: Array<Envelope<PackedSequence>> = []
    // The document's ids then EOS, copied straight into the buffer (no copies of the ids).
    const ids = doc.ids
    const total = ids.length + 1
    let i = 0
    while (i < total) {
      if (docIds[docIds.length - 1] !== doc.id) docIds.push(doc.id)
      const n = Math.min(length - filled, total - i)
      for (let j = 0; j < n; j++, i++) buffer[filled + j] = i < ids.length ? ids[i]! : options.eosId
      filled += n
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
