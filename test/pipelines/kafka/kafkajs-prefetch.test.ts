// The fetch ahead of a stage's consumer (pipelines/kafka/kafkajs-prefetch.ts) on the real broker:
// while a fetch's batches are handled, the next fetch is already asked for from the positions past
// them. What is handed over must stay exactly what kafkajs' own fetch loop would hand over: every
// record once, in order per partition, nothing skipped when a handler fails, nothing committed
// that was only fetched ahead, and no skipped record when partitions move to another member.
import assert from "node:assert/strict"
import { after, before, test } from "node:test"
import { kafkajsPrefetch } from "../../../pipelines/kafka/kafkajs-patches.ts"
import { prefetchCounts } from "../../../pipelines/kafka/kafkajs-prefetch.ts"
import { kafkajsTransport } from "../../../pipelines/kafka/kafkajs-transport.ts"
import type { InBatch } from "../../../pipelines/kafka/transport.ts"
import { offsetsHandedToNewMember, sleep, testSettings, topicOfSmallBatches, uniqueTag } from "./helpers.ts"

const settings = testSettings()
const transport = kafkajsTransport(settings)
after(() => transport.close())

const PER_PARTITION = 1500
let topic = ""

before(async () => {
  topic = await topicOfSmallBatches(transport, "prefetch", PER_PARTITION)
})

/** Offsets of each batch a member was handed, per partition, in the order handed over. */
type Seen = Map<number, Array<ReadonlyArray<number>>>
const record = (seen: Seen, b: InBatch) => {
  let list = seen.get(b.partition)
  if (!list) seen.set(b.partition, (list = []))
  list.push(b.messages.map((m) => Number(m.offset)))
}

test("kafkajs runs with the fetch ahead installed", () => {
  assert.equal(kafkajsPrefetch(), true)
})

test("a consumer that fetches ahead is handed every record once, in order, batch after batch", { timeout: 120_000 }, async () => {
  const seen: Seen = new Map()
  let n = 0
  const asked = prefetchCounts.asked
  const used = prefetchCounts.used
  let resolveDone!: () => void
  const done = new Promise<void>((r) => (resolveDone = r))
  const consumer = await transport.consumer({
    groupId: `prefetch-${uniqueTag()}`,
    topics: [topic],
    fromBeginning: true,
    maxBytesPerPartition: 16 * 1024,
    concurrentBatches: true,
    prefetch: true,
    onBatch: async (b) => {
      record(seen, b)
      // A handler that takes a while (a stage's transaction): the fetch ahead arrives meanwhile.
      await sleep(3)
      n += b.messages.length
      if (n >= 3 * PER_PARTITION) resolveDone()
    }
  })
  await done
  await consumer.stop()
  for (const p of [0, 1, 2]) {
    const batches = seen.get(p) ?? []
    assert.deepEqual(batches.flat(), Array.from({ length: PER_PARTITION }, (_, i) => i), `partition ${p}: every offset once, in order`)
  }
  assert.ok(prefetchCounts.asked - asked > 10, `fetches were asked for ahead (${prefetchCounts.asked - asked})`)
  assert.ok(prefetchCounts.used - used > 10, `batches fetched ahead were handed over (${prefetchCounts.used - used})`)
})

test("a handler that fails: the group's committed positions are those of the batches handled, not of those fetched ahead", { timeout: 120_000 }, async () => {
  const group = `prefetch-fail-${uniqueTag()}`
  const handled = new Map<number, number>()
  let batches = 0
  const failing = await transport.consumer({
    groupId: group,
    topics: [topic],
    fromBeginning: true,
    maxBytesPerPartition: 16 * 1024,
    prefetch: true,
    onBatch: async (b) => {
      await sleep(3)
      // From the 12th batch on the handler fails (kafkajs retries a failed batch before it gives
      // up), after fetches ahead of it were asked for.
      if (++batches >= 12) throw new Error("handler failed")
      handled.set(b.partition, Number(b.nextOffset))
    }
  })
  await assert.rejects(failing.done, /handler failed/)
  await failing.stop()
  const committed = new Map((await transport.groupOffsets(group, [topic])).map((o) => [o.partition, Number(o.offset)]))
  for (const [p, next] of handled) assert.equal(committed.get(p), next, `partition ${p}: committed where its last handled batch ended`)
  for (const p of [0, 1, 2]) if (!handled.has(p)) assert.ok((committed.get(p) ?? -1) <= 0, `partition ${p}: nothing handled, nothing committed`)

  // A consumer of the same group starts where the handled batches ended: nothing skipped.
  const expected = [0, 1, 2].reduce((sum, p) => sum + PER_PARTITION - (handled.get(p) ?? 0), 0)
  const seen = await offsetsHandedToNewMember(transport, group, topic, expected)
  for (const p of [0, 1, 2]) {
    const from = handled.get(p) ?? 0
    assert.deepEqual(seen.get(p), Array.from({ length: PER_PARTITION - from }, (_, i) => from + i), `partition ${p}: from ${from} to the end, once`)
  }
})

test("a batch whose handler failed is handed over again by kafkajs' retry, not skipped for the batch fetched ahead past it", { timeout: 120_000 }, async () => {
  const handled = new Map<number, Set<number>>([[0, new Set()], [1, new Set()], [2, new Set()]])
  let calls = 0
  let failedAt: string | undefined
  const consumer = await transport.consumer({
    groupId: `prefetch-retry-${uniqueTag()}`,
    topics: [topic],
    fromBeginning: true,
    maxBytesPerPartition: 16 * 1024,
    prefetch: true,
    onBatch: async (b) => {
      await sleep(3)
      // The 8th batch fails once, after the fetch ahead of it was asked for; kafkajs retries.
      if (++calls === 8) {
        failedAt = `partition ${b.partition} from ${b.messages[0]!.offset}`
        throw new Error("handler failed once")
      }
      for (const m of b.messages) handled.get(b.partition)!.add(Number(m.offset))
    }
  })
  const deadline = Date.now() + 60_000
  while ([...handled.values()].some((s) => s.size < PER_PARTITION) && Date.now() < deadline) await sleep(100)
  await consumer.stop()
  assert.ok(failedAt !== undefined, "a batch failed")
  for (const [p, offsets] of handled) {
    const missing = Array.from({ length: PER_PARTITION }, (_, i) => i).filter((i) => !offsets.has(i))
    assert.deepEqual(missing.slice(0, 10), [], `partition ${p}: records never handled (the batch that failed: ${failedAt})`)
  }
})

test("partitions that move to a member joining mid-way: no record skipped, each member's batches contiguous", { timeout: 120_000 }, async () => {
  const group = `prefetch-join-${uniqueTag()}`
  const seenA: Seen = new Map()
  const seenB: Seen = new Map()
  const all = new Map<number, Set<number>>([[0, new Set()], [1, new Set()], [2, new Set()]])
  let resolveDone!: () => void
  const done = new Promise<void>((r) => (resolveDone = r))
  const onBatch = (seen: Seen) => async (b: InBatch) => {
    record(seen, b)
    // Slow enough (~8 s in all) for the second member to join while records still flow.
    await sleep(30)
    for (const m of b.messages) all.get(b.partition)!.add(Number(m.offset))
    if ([...all.values()].every((s) => s.size === PER_PARTITION)) resolveDone()
  }
  const options = { groupId: group, topics: [topic], fromBeginning: true, maxBytesPerPartition: 8 * 1024, prefetch: true, sessionTimeoutMs: 6000 }
  const a = await transport.consumer({ ...options, onBatch: onBatch(seenA) })
  while ([...all.values()].reduce((s, x) => s + x.size, 0) < 300) await sleep(20)
  const b = await transport.consumer({ ...options, onBatch: onBatch(seenB) })
  await done
  await Promise.all([a.stop(), b.stop()])
  assert.ok(seenB.size > 0, "the second member was given partitions")
  for (const [name, seen] of [["first", seenA], ["second", seenB]] as const) {
    for (const [p, batches] of seen) {
      for (let i = 1; i < batches.length; i++) {
        const prev = batches[i - 1]!
        const next = batches[i]![0]!
        // A member never skips forward: its next batch starts right after its last one, or earlier (a batch handed again after a rebalance).
        assert.ok(next <= prev[prev.length - 1]! + 1, `${name} member, partition ${p}: batch from ${next} after one that ended at ${prev[prev.length - 1]}`)
      }
    }
  }
})
