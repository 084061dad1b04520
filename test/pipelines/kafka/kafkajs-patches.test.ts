import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { test } from "node:test"
import { crc32c, groupMessagesPerPartition, kafkajsGroupingPatched, loadKafkajs } from "../../../pipelines/kafka/kafkajs-patches.ts"

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

test("crc32c is CRC32C: the standard check value, and kafkajs' own value on every length and offset", () => {
  assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283)
  assert.equal(crc32c(Buffer.alloc(0)), 0)
  assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa)
  let seed = 7
  const bytes = Buffer.from(Array.from({ length: 20000 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24))
  for (let n = 0; n <= 70; n++) {
    for (const at of [0, 1, 3, 5]) {
      const b = bytes.subarray(at, at + n)
      assert.equal(crc32c(b), originalCrc(b) >>> 0, `${n} bytes at ${at}`)
    }
  }
  assert.equal(crc32c(bytes), originalCrc(bytes) >>> 0)
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
