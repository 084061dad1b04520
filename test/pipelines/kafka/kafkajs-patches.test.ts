import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { test } from "node:test"
import { groupMessagesPerPartition, kafkajsGroupingPatched, loadKafkajs } from "../../../pipelines/kafka/kafkajs-patches.ts"

// kafkajs as kafkajs-transport.ts gets it: loaded after the fix is in place.
const { Partitioners } = loadKafkajs()

const require = createRequire(import.meta.url)
const path = require.resolve("kafkajs/src/producer/groupMessagesPerPartition")

// kafkajs' own function, compiled from its file as shipped (require.cache holds the replacement).
const original = (() => {
  const module = { exports: undefined as unknown }
  new Function("module", "exports", "require", readFileSync(path, "utf8"))(module, module.exports, require)
  return module.exports as typeof groupMessagesPerPartition
})()

test("kafkajs' producer groups through the linear replacement", () => {
  assert.equal(kafkajsGroupingPatched(), true)
  assert.equal(require(path), groupMessagesPerPartition)
  assert.notEqual(original, groupMessagesPerPartition)
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
