// A group's lag counts the records behind a transaction that is still open (issue 23, the
// exactly-once race of session 4). read_committed readers stop at the partition's last stable
// offset (the first offset of the oldest open transaction); a lag measured against that offset
// reads zero while committed records wait behind the open transaction. The corpus run job ended on
// such a zero: a SIGKILLed stage worker's open transaction on the journal topic hid every decision
// its standby committed after it, and the run closed its warehouse without them (rc 0). Lag is
// measured against the log end instead: zero only once the open transaction ended and the group
// read past it.
import assert from "node:assert/strict"
import { after, test } from "node:test"
import { loadKafkajs } from "../../../pipelines/kafka/kafkajs-patches.ts"
import { kafkajsTransport } from "../../../pipelines/kafka/kafkajs-transport.ts"
import { groupLag, totalLag } from "../../../pipelines/kafka/lag.ts"
import { sleep, testSettings, uniqueTag } from "./helpers.ts"

const settings = testSettings()
const transport = kafkajsTransport(settings)
after(() => transport.close())

test("records committed behind an open transaction are lag until it ends and the group read them", { timeout: 120_000 }, async () => {
  const topic = `lag.${uniqueTag()}`
  const group = `lag-${uniqueTag()}`
  await transport.createTopics([{ topic, partitions: 1, replicationFactor: 1 }])
  const { Kafka, logLevel } = loadKafkajs()
  const kafka = new Kafka({ clientId: "lag-test", brokers: [...settings.brokers], logLevel: logLevel.NOTHING })
  // A worker's transaction, left open as a SIGKILL leaves it (its timeout is the broker's to enforce).
  const zombie = kafka.producer({ transactionalId: `${topic}.zombie`, idempotent: true, maxInFlightRequests: 1, transactionTimeout: 60_000 })
  await zombie.connect()
  const open = await zombie.transaction()
  await open.send({ topic, messages: [{ key: "z", value: "never committed" }] })
  // Another worker commits three records after it.
  const producer = await transport.producer({ transactionalId: `${topic}.other` })
  await producer.sendInTransaction([1, 2, 3].map((i) => ({ topic, key: `k${i}`, value: Buffer.from(`v${i}`) })), "", [])
  await producer.close()

  const [offsets] = await transport.topicOffsets(topic)
  assert.equal(offsets!.high, "0", "read_committed readers stop before the open transaction")
  assert.ok(BigInt(offsets!.end) >= 4n, `the log end is past the committed records: ${offsets!.end}`)
  assert.equal(totalLag(await groupLag(transport, group, [topic])) > 0n, true, "a group that read nothing is behind")

  // The group reads everything it can and commits its position: still behind the three records.
  const seen: Array<string> = []
  const consumer = await transport.consumer({ groupId: group, topics: [topic], fromBeginning: true, onBatch: async (b) => void seen.push(...b.messages.map((m) => m.key!.toString())) })
  try {
    await sleep(3000)
    assert.deepEqual(seen, [])
    assert.ok(totalLag(await groupLag(transport, group, [topic])) >= 4n, "the records behind the open transaction are lag")
    // The transaction ends (aborted, as the broker's timeout would): the group reads past it and its lag reaches zero.
    await open.abort()
    const deadline = Date.now() + 60_000
    while (totalLag(await groupLag(transport, group, [topic])) !== 0n) {
      assert.ok(Date.now() < deadline, `lag never reached zero: ${JSON.stringify((await groupLag(transport, group, [topic])).map((l) => String(l.lag)))}`)
      await sleep(200)
    }
    assert.deepEqual(seen, ["k1", "k2", "k3"])
  } finally {
    await consumer.stop()
    await zombie.disconnect()
  }
})
