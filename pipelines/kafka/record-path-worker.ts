import { Effect } from "effect"
import { type Operator, routeBatch, RoutedBatch } from "../../operators/operator.ts"
import type { Envelope } from "../../operators/envelope.ts"
import { type OperatorCounts, OperatorStats } from "../../operators/stats.ts"
import type { DeadLetter } from "../../schemas/dead-letter.ts"
import { type RecordName, Records } from "../../schemas/registry.ts"
import { compileJsonWriter, type JsonWriter, NO_ROOM, UNKNOWN } from "./compiled-encoder.ts"
import { makeRecordDecoder, writeFrameHeader } from "./record-decoder.ts"

/**
 * The inside of a stage's record-path worker thread (record-path.ts starts them): a slice of
 * fetched records comes in as bytes, is decoded (record-decoder.ts, as the stage's own thread
 * decodes), handed to the operator, and its outputs go back encoded in the wire format, in one
 * buffer, with the dead letters: bytes in, bytes out. The transaction, the positions and the
 * order of slices stay with the stage's thread.
 */

export interface RecordPathInit {
  /** The stage's name (dead letters of records it cannot decode name it). */
  readonly node: string
  readonly topic: string
  readonly inRecord: RecordName
  /** The schema id the stage writes its outputs with. */
  readonly writerId: number
  /** The outputs' record type: written by its compiled JSON writer where it has one (compiled-encoder.ts). */
  readonly outRecord: RecordName
  readonly maxRecordBytes: number
}

/** One slice of a fetched batch, in order. */
export interface RecordPathJob {
  readonly id: number
  readonly partition: number
  /** The slice's keys and values, copied out of the fetch. */
  readonly bytes: Uint8Array
  /** Per record: key start, key end, value start, value end in `bytes` (an end of -1: null). */
  readonly spans: Int32Array
  readonly offsets: Float64Array
  /** Schema ids with their subjects, where the worker may not know them all yet. */
  readonly known?: ReadonlyArray<readonly [number, string | null]>
}

/** What a slice makes, in the order the stage writes it. */
export interface RecordPathReply {
  readonly id: number
  /** The outputs in the wire format, one after the other. */
  readonly bytes: Uint8Array
  /**
   * Per output, 4 numbers: the input's index (−1: a dead letter, `letters[start]`), start and length in
   * `bytes`, and its key (−1: the input's key, else `keys[k]`).
   */
  readonly outputs: Int32Array
  readonly count: number
  readonly keys: ReadonlyArray<string>
  readonly letters: ReadonlyArray<{ readonly key: string; readonly letter: DeadLetter }>
  readonly counts: OperatorCounts
}

export const OUTPUT_FIELDS = 4

export const makeRecordPath = (operator: Operator<unknown, unknown, never>, init: RecordPathInit) => {
  const known = new Map<number, string | null>()
  const decode = makeRecordDecoder(init.maxRecordBytes, known)
  const type = { subject: Records[init.inRecord].subject, schema: Records[init.inRecord].schema as never }
  let out = Buffer.allocUnsafeSlow(0)
  let at = 0
  const room = (bytes: number) => {
    if (at + bytes <= out.length) return
    const bigger = Buffer.allocUnsafeSlow(Math.max(2 * out.length, at + bytes, 256 * 1024))
    out.copy(bigger, 0, 0, at)
    out = bigger
  }
  const writer = compileJsonWriter(Records[init.outRecord].schema as never)
  /** Where the compiled writer's JSON of `value` ends when written from `start` (grown once for a big one), or UNKNOWN. */
  const writeJson = (w: JsonWriter, value: unknown, start: number): number => {
    for (const want of [1024, 64 * 1024]) {
      room(5 + want)
      const end = w(value, out, start + 5, out.length)
      if (end !== NO_ROOM) return end
    }
    // Bigger still: JSON.stringify's path sizes the room it needs.
    return UNKNOWN
  }

  // one for every job, cleared when it is written out
  const routed = new RoutedBatch<unknown>()

  return (job: RecordPathJob): { reply: RecordPathReply; transfer: Array<ArrayBuffer> } => {
    for (const [id, subject] of job.known ?? []) known.set(id, subject)
    const bytes = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength)
    const spans = job.spans
    const n = job.offsets.length
    const stats = new OperatorStats(operator.name)
    const envelopes: Array<Envelope<unknown>> = []
    const inputKeys: Array<string> = []
    const indexOf: Array<number> = []
    const dead: Array<{ key: string; letter: DeadLetter }> = []
    for (let i = 0; i < n; i++) {
      const ks = spans[4 * i]!
      const ke = spans[4 * i + 1]!
      const vs = spans[4 * i + 2]!
      const ve = spans[4 * i + 3]!
      const key = ke < 0 ? "" : bytes.toString("utf8", ks, ke)
      const position = { _tag: "Topic" as const, topic: init.topic, partition: job.partition, offset: String(job.offsets[i]) }
      const decoded = ve < 0 ? decode(type, null, 0, 0) : decode(type, bytes, vs, ve)
      if (decoded._tag === "Ok") {
        envelopes.push({ key, value: decoded.value, position })
        inputKeys.push(key)
        indexOf.push(i)
      } else {
        const letter: DeadLetter = { operator: init.node, reason: `cannot decode ${type.subject}: ${decoded.reason}`, position, record: decoded.record }
        dead.push({ key, letter: decoded.field ? { ...letter, field: decoded.field } : letter })
        stats.recordRejected(letter.reason.replace(/:.*$/s, ""))
      }
    }
    stats.recordIn(dead.length)
    // The operator's outputs as parallel arrays (routeBatch: a map is called record by record, no envelope or Routed a record)
    if (envelopes.length > 0) Effect.runSync(routeBatch(operator, stats)(envelopes, routed))
    const outputs = new Int32Array(OUTPUT_FIELDS * (routed.length + dead.length))
    const keys: Array<string> = []
    const letters: Array<{ key: string; letter: DeadLetter }> = []
    out = Buffer.allocUnsafeSlow(Math.max(256 * 1024, bytes.length + (bytes.length >> 1)))
    at = 0
    let o = 0
    // An output is matched to its input by its position (record-level operators carry it over), in
    // order from a cursor, to name the input's key without sending it back.
    let cursor = 0
    for (let r = 0; r < routed.length; r++) {
      const position = routed.positions[r]
      if (position !== undefined) {
        const key = routed.keys[r]!
        const value = routed.values[r]
        while (cursor < envelopes.length && envelopes[cursor]!.position !== position) cursor++
        const input = cursor < envelopes.length ? cursor : -1
        if (input < 0) cursor = 0
        const start = at
        // The same bytes as JSON.stringify's, without the string, where the writer knows the value.
        const end = writer ? writeJson(writer, value, start) : UNKNOWN
        if (end !== UNKNOWN) at = end
        else {
          const json = JSON.stringify(value)
          // UTF-8 takes at most 3 bytes per UTF-16 code unit.
          room(5 + 3 * json.length)
          at = start + 5 + out.write(json, start + 5, "utf8")
        }
        writeFrameHeader(out, start, init.writerId)
        const sameKey = input >= 0 && inputKeys[input] === key
        outputs[o] = input < 0 ? -2 : indexOf[input]!
        outputs[o + 1] = start
        outputs[o + 2] = at - start
        outputs[o + 3] = sameKey ? -1 : keys.push(key) - 1
      } else {
        outputs[o] = -1
        outputs[o + 1] = letters.push({ key: routed.keys[r]!, letter: routed.values[r] as DeadLetter }) - 1
        outputs[o + 2] = 0
        outputs[o + 3] = -1
      }
      o += OUTPUT_FIELDS
    }
    for (const d of dead) {
      outputs[o] = -1
      outputs[o + 1] = letters.push(d) - 1
      outputs[o + 3] = -1
      o += OUTPUT_FIELDS
    }
    routed.clear() // the job's values go with it
    const buffer = out.buffer as ArrayBuffer
    return {
      reply: { id: job.id, bytes: new Uint8Array(buffer, 0, at), outputs, count: o / OUTPUT_FIELDS, keys, letters, counts: stats.counts() },
      transfer: [buffer, outputs.buffer as ArrayBuffer]
    }
  }
}
