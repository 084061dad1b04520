// Commits behind the handling (pipelines/kafka/kafkajs-commits.ts) on the real broker: a consumer's
// commit after a handled batch is sent without holding up the next batch. What must stay true:
// a batch's position is never committed before its handler resolved, every handled batch is
// committed once the consumer stops, a handler that fails leaves exactly the handled batches
// committed, and a member that takes over the group starts where the handled batches ended.
import assert from "node:assert/strict"
import { after, before, test } from "node:test"
import { commitCounts } from "../../../pipelines/kafka/kafkajs-commits.ts"
import { kafkajsPipelinedCommits } from "../../../pipelines/kafka/kafkajs-patches.ts"
import { kafkajsTransport } from "../../../pipelines/kafka/kafkajs-transport.ts"
import { offsetsHandedToNewMember, testSettings, topicOfSmallBatches, uniqueTag } from "./helpers.ts"

const settings = testSettings()
const transport = kafkajsTransport(settings)
after(() => transport.close())

const PER_PARTITION = 600
let topic = ""

before(async () => {
  topic = await topicOfSmallBatches(transport, "commits", PER_PARTITION)
})

const committedOf = async (group: string) => new Map((await transport.groupOffsets(group, [topic])).map((o) => [o.partition, Number(o.offset)]))

test("kafkajs runs with the commits behind the handling installed", () => {
  assert.equal(kafkajsPipelinedCommits(), true)
})

test("a batch's position is committed only after its handler resolved, and every handled batch is committed when the consumer stops", { timeout: 120_000 }, async () => {
  const group = `commits-${uniqueTag()}`
  const behind = commitCounts.behind
  const handled = new Map<number, number>()
  const early: Array<string> = []
  let n = 0
  let resolveDone!: () => void
  const done = new Promise<void>((r) => (resolveDone = r))
  const consumer = await transport.consumer({
    groupId: group,
    topics: [topic],
    fromBeginning: true,
    maxBytesPerPartition: 16 * 1024,
    onBatch: async (b) => {
      // While this batch is handled, the group's committed position of its partition must not be
      // past the batch's start (commits of earlier batches may still be on their way: not past them either).
      const committed = (await committedOf(group)).get(b.partition) ?? -1
      if (committed > Number(b.messages[0]!.offset)) early.push(`partition ${b.partition}: committed ${committed} while the batch from ${b.messages[0]!.offset} was handled`)
      handled.set(b.partition, Number(b.nextOffset))
      n += b.messages.length
      if (n >= 3 * PER_PARTITION) resolveDone()
    }
  })
  await done
  await consumer.stop()
  assert.deepEqual(early, [])
  assert.deepEqual(await committedOf(group), new Map([[0, PER_PARTITION], [1, PER_PARTITION], [2, PER_PARTITION]]), "every partition committed to its end")
  assert.ok(commitCounts.behind - behind > 10, `commits ran behind the handling (${commitCounts.behind - behind})`)
})

test("a handler that fails: the group's committed positions are exactly those of the batches handled, and the next member starts there", { timeout: 120_000 }, async () => {
  const group = `commits-fail-${uniqueTag()}`
  const handled = new Map<number, number>()
  let batches = 0
  const failing = await transport.consumer({
    groupId: group,
    topics: [topic],
    fromBeginning: true,
    maxBytesPerPartition: 16 * 1024,
    onBatch: async (b) => {
      // From the 10th batch on the handler fails (kafkajs retries a failed batch before it gives
      // up), with the 9th batch's commit sent behind the handling.
      if (++batches >= 10) throw new Error("handler failed")
      handled.set(b.partition, Number(b.nextOffset))
    }
  })
  await assert.rejects(failing.done, /handler failed/)
  await failing.stop()
  const committed = await committedOf(group)
  for (const p of [0, 1, 2]) assert.equal(committed.get(p) ?? 0, handled.get(p) ?? 0, `partition ${p}: committed where its last handled batch ended`)

  const expected = [0, 1, 2].reduce((sum, p) => sum + PER_PARTITION - (handled.get(p) ?? 0), 0)
  const seen = await offsetsHandedToNewMember(transport, group, topic, expected)
  for (const p of [0, 1, 2]) {
    const from = handled.get(p) ?? 0
    assert.deepEqual(seen.get(p), Array.from({ length: PER_PARTITION - from }, (_, i) => from + i), `partition ${p}: from ${from} to the end, once`)
  }
})
