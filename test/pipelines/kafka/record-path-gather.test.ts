import assert from "node:assert/strict"
import { test } from "node:test"
import { gather } from "../../../pipelines/kafka/record-path.ts"
import type { InMessage, InPlaceMessage } from "../../../pipelines/kafka/transport.ts"

// What a record-path worker is handed for a slice (pipelines/kafka/record-path.ts): every key and
// value where its span says, whether the fetch held them in place (one buffer, gaps of record
// headers between, now and then another buffer) or as Buffers of their own; null keys and values
// as an end of -1.

const inPlace = (source: Buffer, key: [number, number] | null, value: [number, number] | null, offset: number): InPlaceMessage => ({
  source,
  keyStart: key?.[0] ?? -1,
  keyEnd: key?.[1] ?? -1,
  valueStart: value?.[0] ?? -1,
  valueEnd: value?.[1] ?? -1,
  key: key ? source.subarray(key[0], key[1]) : null,
  value: value ? source.subarray(value[0], value[1]) : null,
  headers: {},
  offset: String(offset),
  timestamp: "0"
})

test("a slice's keys and values are where its spans say, in place or not, nulls included", () => {
  const a = Buffer.from("..k1..value-one....k2..value-two.." + "x".repeat(3000) + "k3..value-three")
  const b = Buffer.from("k4::value-four")
  const at = (buf: Buffer, text: string): [number, number] => {
    const i = buf.indexOf(text)
    return [i, i + text.length]
  }
  const messages: Array<InMessage> = [
    inPlace(a, at(a, "k1"), at(a, "value-one"), 10),
    inPlace(a, null, at(a, "value-two"), 11),
    // 3,000 bytes further on: a copy of its own rather than the gap.
    inPlace(a, at(a, "k3"), at(a, "value-three"), 12),
    inPlace(b, at(b, "k4"), null, 14),
    { key: Buffer.from("k5"), value: Buffer.from("value-five"), headers: {}, offset: "15", timestamp: "0" },
    { key: null, value: null, headers: {}, offset: "16", timestamp: "0" }
  ]
  const { bytes, spans, offsets } = gather(messages)
  const text = (s: number, e: number) => (e < 0 ? null : Buffer.from(bytes.buffer, bytes.byteOffset + s, e - s).toString())
  assert.deepEqual(
    messages.map((_, i) => [text(spans[4 * i]!, spans[4 * i + 1]!), text(spans[4 * i + 2]!, spans[4 * i + 3]!), offsets[i]]),
    [["k1", "value-one", 10], [null, "value-two", 11], ["k3", "value-three", 12], ["k4", null, 14], ["k5", "value-five", 15], [null, null, 16]]
  )
  assert.ok(bytes.length < 200, `the 3,000-byte gap was not copied (${bytes.length} bytes)`)
  // The bytes are the slice's own (handed over to the worker), not a view of the fetch.
  assert.notEqual(bytes.buffer, a.buffer)
})

test("an offset past 2^53 is refused, not rounded", () => {
  assert.throws(() => gather([{ key: null, value: Buffer.from("v"), headers: {}, offset: "9007199254740993", timestamp: "0" }]), /past what a worker thread is handed/)
})
