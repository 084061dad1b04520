import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { test } from "node:test"
import { crc32c, crc32cNative, crc32cSliced, groupMessagesPerPartition, kafkajsGroupingPatched, loadKafkajs, murmur2 } from "../../../pipelines/kafka/kafkajs-patches.ts"
import { LeanRecord } from "../../../pipelines/kafka/kafkajs-record-batch.ts"
import { FramedArena, FramedBytes, frameJson } from "../../../pipelines/kafka/serde.ts"
import { keyTextOf } from "../../../pipelines/kafka/transport.ts"

// kafkajs as kafkajs-transport.ts gets it: loaded after the fix is in place.
const { Partitioners } = loadKafkajs()

const require = createRequire(import.meta.url)
const path = require.resolve("kafkajs/src/producer/groupMessagesPerPartition")

// kafkajs' own functions, compiled from their files as shipped (require.cache holds the replacements).
const shipped = <F>(file: string): F => {
  const module = { exports: undefined as unknown }
  new Function("module", "exports", "require", readFileSync(file, "utf8"))(module, module.exports, require)
  return module.exports as F
}
const original = shipped<typeof groupMessagesPerPartition>(path)
const crcPath = require.resolve("kafkajs/src/protocol/recordBatch/crc32C/crc32C")
const originalCrc = shipped<(b: Buffer) => number>(crcPath)

test("kafkajs' producer groups and checksums through the replacements", () => {
  assert.equal(kafkajsGroupingPatched(), true)
  assert.equal(require(path), groupMessagesPerPartition)
  assert.equal(require(crcPath), crc32c)
  assert.notEqual(original, groupMessagesPerPartition)
})

test("FramedArena writes each record's wire format where frameJson would, across chunks, leaving earlier ones intact", () => {
  const arena = new FramedArena()
  const jsons = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, s: "é€😀".repeat(i % 7), pad: "x".repeat(i % 300) }))
  const written = jsons.map((j, i) => arena.write(70000 + i, j))
  const chunks = new Set(written.map((w) => w.source))
  assert.ok(chunks.size > 1, "the records span several chunks")
  written.forEach((w, i) => {
    const expected = frameJson(70000 + i, jsons[i]!)
    assert.equal(w.length, expected.length)
    assert.deepEqual(w.toBuffer(), expected)
    const into = Buffer.alloc(w.length + 3)
    w.writeTo(into, 3)
    assert.deepEqual(into.subarray(3), expected)
  })
  // A record larger than a chunk gets one of its own.
  const big = "y".repeat(300 * 1024)
  assert.deepEqual(arena.write(1, big).toBuffer(), frameJson(1, big))
})

test("crc32c is CRC32C: the standard check value, and kafkajs' own value on every length and offset (native and slicing-by-8)", () => {
  // The native addon is a dependency: on a machine where it does not load the JavaScript one runs.
  assert.ok(crc32cNative !== undefined, "@node-rs/crc32 did not load (npm install)")
  for (const [name, crc] of [["chosen", crc32c], ["native", crc32cNative!], ["sliced", crc32cSliced]] as const) {
    assert.equal(crc(Buffer.from("123456789")), 0xe3069283, name)
    assert.equal(crc(Buffer.alloc(0)), 0, name)
    assert.equal(crc(Buffer.alloc(32)), 0x8a9136aa, name)
    let seed = 7
    const bytes = Buffer.from(Array.from({ length: 20000 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24))
    for (let n = 0; n <= 70; n++) {
      for (const at of [0, 1, 3, 5]) {
        const b = bytes.subarray(at, at + n)
        assert.equal(crc(b), originalCrc(b) >>> 0, `${name}: ${n} bytes at ${at}`)
      }
    }
    assert.equal(crc(bytes), originalCrc(bytes) >>> 0, name)
  }
})

test("the linear grouping returns what kafkajs' own returns: same partitions, same order, same messages", () => {
  // kafkajs' own partitioner (murmur2 on the key, an explicit partition kept); a key-less message
  // goes round-robin from a counter, so each grouping gets its own partitioner in the same state.
  const keyed = Partitioners.DefaultPartitioner()
  const partitionerOf = () => {
    let next = 0
    return (a: { topic: string; partitionMetadata: ReadonlyArray<unknown>; message: { key: string | null; partition?: number } }) =>
      a.message.key === null && a.message.partition === undefined ? next++ % a.partitionMetadata.length : keyed(a as never)
  }
  for (const partitions of [1, 3, 7]) {
    const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0 }))
    for (const n of [0, 1, 5, 2000]) {
      // Keys as the runtime writes them, some messages pinned to a partition, some without a key.
      const messages = Array.from({ length: n }, (_, i) => ({
        key: i % 11 === 0 ? null : `system|task|${i}`,
        value: Buffer.from(`{"i":${i}}`),
        ...(i % 17 === 0 ? { partition: i % partitions } : {})
      }))
      const args = { topic: "t", partitionMetadata, messages }
      const mine = groupMessagesPerPartition({ ...args, partitioner: partitionerOf() as never })
      const theirs = original({ ...args, partitioner: partitionerOf() as never }) as Record<number, Array<unknown>>
      assert.deepEqual(Object.keys(mine), Object.keys(theirs), `${partitions} partitions, ${n} messages: partitions`)
      for (const p of Object.keys(theirs)) {
        assert.equal(mine[Number(p)]!.length, theirs[Number(p)]!.length)
        mine[Number(p)]!.forEach((m, i) => assert.equal(m, theirs[Number(p)]![i], `partition ${p} message ${i}`))
      }
    }
  }
  assert.deepEqual(groupMessagesPerPartition({ topic: "t", partitionMetadata: [], messages: [{ key: "a" }], partitioner: () => 0 }), {})
})

// kafkajs' own consumer-side modules as shipped, compiled with a require relative to their file
// (their own dependencies are not replaced).
const shippedAt = <F>(id: string): F => {
  const file = require.resolve(id)
  const module = { exports: undefined as unknown }
  new Function("module", "exports", "require", readFileSync(file, "utf8"))(module, module.exports, createRequire(file))
  return module.exports as F
}
type BatchDecoder = (decoder: unknown) => Promise<{ records: ReadonlyArray<Record<string, unknown>> } & Record<string, unknown>>
const decoderId = "kafkajs/src/protocol/recordBatch/v0/decoder"
const batchId = "kafkajs/src/consumer/batch"
const originalDecoder = shippedAt<BatchDecoder>(decoderId)
const OriginalBatch = shippedAt<new (topic: string, fetchedOffset: string, data: unknown) => Record<string, unknown>>(batchId)
const Decoder = require("kafkajs/src/protocol/decoder") as new (b: Buffer) => unknown
const { RecordBatch } = shippedAt<{ RecordBatch: (o: Record<string, unknown>) => Promise<{ buffer: Buffer }> }>("kafkajs/src/protocol/recordBatch/v0")
// The producer's Record and RecordBatch as shipped (require.cache holds the lean ones).
const RecordEncoder = shippedAt<(o: Record<string, unknown>) => unknown>("kafkajs/src/protocol/recordBatch/record/v0")
const Long = require("kafkajs/src/utils/long") as { fromValue(v: unknown): unknown }
const { Types: Compression } = require("kafkajs/src/protocol/message/compression") as { Types: { None: number; GZIP: number } }

/** One record batch's bytes as kafkajs' producer writes it: keys, null keys and values, headers (repeated too), time deltas both ways. */
const encodedBatch = async (o: { firstOffset: bigint; firstTimestamp: number; compression: number; count: number; appendTime?: boolean }) => {
  const records = Array.from({ length: o.count }, (_, i) =>
    RecordEncoder({
      offsetDelta: i,
      timestampDelta: i % 5 === 0 ? -i * 1000 : i * 7,
      key: i % 7 === 3 ? null : Buffer.from(`key-${i}`),
      value: i % 13 === 5 ? null : Buffer.from(`{"i":${i},"text":"é ${"x".repeat(i % 300)}"}`),
      headers: i % 4 === 0 ? {} : i % 4 === 1 ? { "fleuve.run": `r${i}` } : i % 4 === 2 ? { a: ["1", "2", "3"], b: "x" } : { __proto__x: "p", "": "empty", a: ["1", "2"] }
    }))
  const { buffer } = await RecordBatch({
    compression: o.compression,
    firstOffset: Long.fromValue(o.firstOffset),
    firstTimestamp: o.firstTimestamp,
    maxTimestamp: o.firstTimestamp + 99,
    lastOffsetDelta: o.count - 1,
    producerId: Long.fromValue(4242),
    producerEpoch: 3,
    firstSequence: 17,
    transactional: o.count % 2 === 0,
    records
  })
  // Attributes (int16) sit at byte 21: firstOffset, length, leader epoch, magic, CRC before them.
  if (o.appendTime) buffer[22] = buffer[22]! | 0x8
  return buffer
}

/** A fetched record's fields as kafkajs' consumers read them (the lean decoder's records are LeanRecords, read through getters). */
const plainRecord = (r: Record<string, unknown>) => ({
  magicByte: r.magicByte,
  attributes: r.attributes,
  timestamp: r.timestamp,
  offset: r.offset,
  key: r.key,
  value: r.value,
  headers: r.headers,
  isControlRecord: r.isControlRecord,
  batchContext: r.batchContext
})
const plainBatch = (b: { records: ReadonlyArray<Record<string, unknown>> } & Record<string, unknown>) => ({ ...b, records: b.records.map(plainRecord) })

test("the lean record-batch decoder and Batch give kafkajs' own records and batches, byte for byte", async () => {
  assert.equal(require(require.resolve(decoderId)) === originalDecoder, false)
  const mineDecoder = require(require.resolve(decoderId)) as BatchDecoder
  const MineBatch = require(require.resolve(batchId)) as typeof OriginalBatch
  const cases = [
    { firstOffset: 0n, firstTimestamp: 1_765_000_000_000, compression: Compression.None, count: 1 },
    { firstOffset: 12_345n, firstTimestamp: 1_765_000_000_000, compression: Compression.None, count: 400 },
    { firstOffset: 2n ** 60n, firstTimestamp: 1_765_000_000_000, compression: Compression.None, count: 50 },
    { firstOffset: 77n, firstTimestamp: -1, compression: Compression.None, count: 30 },
    { firstOffset: 9_000_000n, firstTimestamp: 1_765_000_000_000, compression: Compression.GZIP, count: 257 },
    { firstOffset: 5n, firstTimestamp: 1_765_000_000_000, compression: Compression.None, count: 20, appendTime: true },
    { firstOffset: 5n, firstTimestamp: 1_765_000_000_000, compression: Compression.None, count: 0 }
  ]
  for (const c of cases) {
    const bytes = await encodedBatch(c)
    const label = JSON.stringify(c, (_, v) => (typeof v === "bigint" ? v.toString() : v))
    const theirs = await originalDecoder(new Decoder(bytes))
    const mine = await mineDecoder(new Decoder(bytes))
    assert.deepStrictEqual(plainBatch(mine), plainBatch(theirs), label)
    assert.equal(mine.records.length, c.count)
    for (const r of mine.records) {
      // Read in place: the key and value where they lie in the batch, the same Buffer on every read.
      const lean = r as unknown as LeanRecord
      assert.ok(lean instanceof LeanRecord)
      assert.equal(lean.value, lean.value)
      assert.equal(lean.key, lean.key)
      assert.deepStrictEqual(lean.valueEnd < 0 ? null : lean.source.subarray(lean.valueStart, lean.valueEnd), lean.value)
      assert.equal(keyTextOf(lean as never), lean.key?.toString("utf8") ?? "")
      assert.equal(lean.offsetNumber === undefined ? undefined : String(lean.offsetNumber), BigInt(lean.offset) < 2n ** 53n ? lean.offset : undefined)
    }
    // Two batches back to back in one fetch: the decoder leaves the fetch decoder after its batch.
    const two = Buffer.concat([bytes, bytes])
    const d1 = new Decoder(two) as { offset: number }
    const d2 = new Decoder(two) as { offset: number }
    await originalDecoder(d1)
    await mineDecoder(d2)
    assert.equal(d2.offset, d1.offset)
    // A batch cut short (the tail of a fetch) fails the same way, so decodeMessages stops there.
    if (c.count > 1) {
      const cut = bytes.subarray(0, bytes.length - 3)
      const why = async (f: BatchDecoder) => f(new Decoder(cut)).then(() => "decoded", (e: Error) => e.name)
      assert.equal(await why(mineDecoder), await why(originalDecoder))
      assert.equal(await why(mineDecoder), "KafkaJSPartialMessageError")
    }
    // The batch a consumer sees, fetched from offsets before, inside and past the records.
    // The Batch a consumer gets (the lean one over the lean records) against kafkajs' own over its own records.
    for (const fetched of [c.firstOffset, c.firstOffset + 3n, c.firstOffset + BigInt(c.count), c.firstOffset - 1n]) {
      for (const aborted of [[], [{ producerId: "4242", firstOffset: (c.firstOffset + 2n).toString() }]]) {
        const data = (records: unknown) => ({ partition: 2, highWatermark: (c.firstOffset + BigInt(c.count) + 5n).toString(), abortedTransactions: aborted, messages: records })
        const a = new OriginalBatch("t", fetched.toString(), data(theirs.records)) as Record<string, unknown> & Record<string, () => unknown>
        const b = new MineBatch("t", fetched.toString(), data(mine.records)) as typeof a
        assert.deepStrictEqual((b.messages as unknown as Array<Record<string, unknown>>).map(plainRecord), (a.messages as unknown as Array<Record<string, unknown>>).map(plainRecord), `${label} from ${fetched}`)
        for (const m of ["isEmpty", "isEmptyIncludingFiltered", "isEmptyDueToFiltering", "isEmptyControlRecord", "isEmptyDueToLogCompactedMessages", "firstOffset", "lastOffset", "offsetLag", "offsetLagLow"]) {
          assert.deepStrictEqual(b[m]!(), a[m]!(), `${label} from ${fetched}: ${m}`)
        }
      }
    }
  }
})

test("the lean producer Record and RecordBatch write kafkajs' own bytes", async () => {
  const leanRecord = require(require.resolve("kafkajs/src/protocol/recordBatch/record/v0")) as typeof RecordEncoder
  const { RecordBatch: leanBatch } = require(require.resolve("kafkajs/src/protocol/recordBatch/v0")) as { RecordBatch: (o: Record<string, unknown>) => Promise<{ buffer: Buffer; size(): number }> }
  assert.notEqual(leanRecord, RecordEncoder)
  const messages = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      offsetDelta: i,
      timestampDelta: i % 3 === 0 ? -i * 977 : i % 3 === 1 ? i * 2 ** 20 : 2 ** 40 + i,
      key: i % 7 === 3 ? null : i % 2 ? `clé-${i}` : Buffer.from(`key-${i}`),
      value: i % 13 === 5 ? null : i % 5 === 0 ? `{"i":${i},"t":"é"}` : Buffer.from(`{"i":${i},"text":"${"x".repeat(i * 3)}"}`),
      ...(i % 4 === 0 ? {} : { headers: i % 4 === 1 ? { "fleuve.run": `r${i}` } : i % 4 === 2 ? { a: ["1", "22", "ü"], b: Buffer.from("x") } : { "": "empty", "fleuve.marker": "state" } })
    }))
  for (const n of [0, 1, 2, 130, 1000]) {
    for (const compression of [Compression.None, Compression.GZIP]) {
      for (const extra of [{}, { transactional: true, producerId: Long.fromValue(98765), producerEpoch: 4, firstSequence: 1234, firstOffset: Long.fromValue(2n ** 40n), partitionLeaderEpoch: 9 }]) {
        const args = { compression, firstTimestamp: 1_765_000_000_123, maxTimestamp: 1_765_000_009_999, lastOffsetDelta: n - 1, ...extra }
        const theirs = await RecordBatch({ ...args, records: messages(n).map((m) => RecordEncoder(m)) })
        const mine = await leanBatch({ ...args, records: messages(n).map((m) => leanRecord(m)) })
        assert.deepEqual(mine.buffer, theirs.buffer, `${n} records, compression ${compression}, ${JSON.stringify(Object.keys(extra))}`)
        assert.equal(mine.size(), theirs.buffer.length)
      }
    }
  }
})

test("the default partitioner picks kafkajs' own partitions: murmur2 on 32-bit integers equals kafkajs' Long version", () => {
  const shippedMurmur = require("kafkajs/src/producer/partitioners/default/murmur2") as (k: unknown) => number
  const ShippedDefault = shippedAt<() => (a: unknown) => number>("kafkajs/src/producer/partitioners/default/index")
  const { Partitioners: P } = loadKafkajs()
  assert.notEqual(P.DefaultPartitioner, ShippedDefault)
  let seed = 11
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0)
  const keys: Array<unknown> = ["", "a", "ab", "abc", "abcd", "système|mcqa|item-0000042", "€😀", Buffer.from([255, 0, 128, 7, 9]), 12345]
  for (let i = 0; i < 3000; i++) keys.push(Array.from({ length: rand() % 40 }, () => String.fromCharCode(32 + (rand() % 400))).join(""))
  keys.push("x".repeat(5000))
  // ASCII keys (hashed from their char codes), every length mod 4, and ones that turn non-ASCII at the end.
  for (let i = 0; i < 2000; i++) {
    const k = Array.from({ length: rand() % 60 }, () => String.fromCharCode(rand() % 128)).join("")
    keys.push(k, k + "é", k + "\u0080")
  }
  for (const k of keys) assert.equal(murmur2(k), shippedMurmur(k), JSON.stringify(k))
  const partitionMetadata = [0, 1, 2, 3, 4].map((partitionId) => ({ partitionId, leader: partitionId === 3 ? -1 : 0 }))
  const mine = P.DefaultPartitioner()
  const theirs = ShippedDefault()
  for (const k of keys) {
    for (const message of [{ key: k }, { key: k, partition: 4 }]) {
      assert.equal(mine({ topic: "t", partitionMetadata, message } as never), theirs({ topic: "t", partitionMetadata, message }), JSON.stringify(message))
    }
  }
  // Key-less messages go round-robin over the partitions with a leader (from a random start).
  const picks = Array.from({ length: 8 }, () => mine({ topic: "u", partitionMetadata, message: { key: null } } as never))
  assert.ok(picks.every((p) => p !== 3))
  assert.equal(new Set(picks).size, 4)
})

test("the lean Produce request and request framing write kafkajs' own bytes", async () => {
  // kafkajs' Produce v3 request as shipped, over its own Record and RecordBatch (not the lean ones).
  const file = require.resolve("kafkajs/src/protocol/requests/produce/v3/request")
  const local = createRequire(file)
  const module = { exports: undefined as unknown }
  const requireShipped = (id: string) => (id === "../../../recordBatch/record/v0" ? RecordEncoder : id === "../../../recordBatch/v0" ? { RecordBatch } : local(id))
  new Function("module", "exports", "require", readFileSync(file, "utf8"))(module, module.exports, requireShipped)
  type Request = (o: Record<string, unknown>) => { apiKey: number; apiVersion: number; encode: () => Promise<{ buffer: Buffer }>; expectResponse: () => boolean }
  const shippedProduce = module.exports as Request
  const leanProduce = require(file) as Request
  const shippedFraming = shippedAt<(o: unknown) => Promise<{ buffer: Buffer }>>("kafkajs/src/protocol/request")
  const leanFraming = require(require.resolve("kafkajs/src/protocol/request")) as typeof shippedFraming
  assert.notEqual(leanProduce, shippedProduce)
  assert.notEqual(leanFraming, shippedFraming)
  const now = Date.now
  Date.now = () => 1_765_000_000_000 // the batch's timestamps, when messages carry none
  try {
    const messages = (n: number, timestamps: boolean) =>
      Array.from({ length: n }, (_, i) => ({
        key: i % 9 === 4 ? null : `k-${i}`,
        value: i % 11 === 2 ? `{"s":"é${i}"}` : Buffer.from(`{"i":${i}}`),
        ...(i % 3 === 1 ? { headers: { "fleuve.run": `r${i}`, m: ["a", "b"] } } : {}),
        ...(timestamps ? { timestamp: 1_765_000_000_000 + ((i * 37) % 500) } : {})
      }))
    for (const args of [
      { acks: -1, timeout: 30000, compression: Compression.None, topicData: [{ topic: "eval.scores", partitions: [{ partition: 0, firstSequence: 5, messages: messages(300, false) }, { partition: 2, messages: messages(1, true) }] }] },
      { acks: -1, timeout: 30000, transactionalId: "fleuve.x.stage.w1", producerId: Long.fromValue(77), producerEpoch: 2, compression: Compression.GZIP, topicData: [{ topic: "a", partitions: [{ partition: 1, firstSequence: 0, messages: messages(40, true) }] }, { topic: "b.dlq", partitions: [{ partition: 0, firstSequence: 9, messages: messages(3, false) }] }] },
      { acks: 1, timeout: 1000, topicData: [] }
    ]) {
      await sameBytes(args)
      // The same request with framed-JSON values (a stage's outputs: serde.encodeValue) written by
      // the lean encoder straight into the request, against kafkajs' own over their bytes.
      // Written as the stage makes them: at once into a shared off-heap chunk.
      const arena = new FramedArena()
      const framed = (m: { value: unknown }, i: number) => (typeof m.value === "string" ? { ...m, value: arena.write(1000 + i, m.value) } : m)
      const asBytes = (m: { value: unknown }) => (m.value instanceof FramedBytes ? { ...m, value: m.value.toBuffer() } : m)
      const withFramed = { ...args, topicData: args.topicData.map((t) => ({ ...t, partitions: t.partitions.map((p) => ({ ...p, messages: p.messages.map(framed) })) })) }
      const withBytes = { ...args, topicData: withFramed.topicData.map((t) => ({ ...t, partitions: t.partitions.map((p) => ({ ...p, messages: p.messages.map(asBytes) })) })) }
      assert.ok(withFramed.topicData.some((t) => t.partitions.some((p) => p.messages.some((m) => m.value instanceof FramedBytes))) || args.topicData.length === 0)
      const theirs = shippedProduce(withBytes)
      const mine = leanProduce(withFramed)
      assert.deepEqual((await mine.encode()).buffer, (await theirs.encode()).buffer)
    }
    async function sameBytes(args: Record<string, unknown> & { topicData: unknown }) {
      const theirs = shippedProduce(args)
      const mine = leanProduce(args)
      assert.deepEqual([mine.apiKey, mine.apiVersion, mine.expectResponse()], [theirs.apiKey, theirs.apiVersion, theirs.expectResponse()])
      assert.deepEqual((await mine.encode()).buffer, (await theirs.encode()).buffer)
      const framed = (f: typeof shippedFraming, request: unknown) => f({ correlationId: 4242, clientId: "fleuve-élan", request })
      assert.deepEqual((await framed(leanFraming, mine)).buffer, (await framed(shippedFraming, shippedProduce(args))).buffer)
    }
  } finally {
    Date.now = now
  }
})
