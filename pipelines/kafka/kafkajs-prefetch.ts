import { createRequire } from "node:module"

/**
 * A fetch ahead for kafkajs 2.2.4 consumers that ask for it (kafkajs-transport.ts' `prefetch`: a
 * stage's): kafkajs fetches, hands the fetch's batches to the handler, waits until every one is
 * handled (a stage's: its transaction committed), and only then asks the broker for the next
 * fetch, so the broker's work on a fetch and the handler's never overlap. Here, as a fetch returns
 * its batches, the next one is asked for at once, from the positions just past them; the handler's
 * next turn then finds it arrived (or on its way).
 *
 * What is handed over stays exactly what a fetch at the current positions would return: when the
 * batches are handled and the next turn comes, a fetched-ahead partition's batch is used only if
 * its fetch began exactly at the partition's position now (the handler resolved the whole batch
 * before it, as a stage does when its transaction commits), the member is still in the same
 * generation (the offset manager kafkajs makes anew at every rejoin), and the partition is still
 * assigned, active, not paused and not being moved by a seek. Anything else (a handler that
 * failed or stopped short, a rebalance, a seek, a fetch error) drops what was fetched ahead, and
 * kafkajs' own fetch, with its error recovery, runs as before. The fetch ahead never recovers from
 * errors itself (kafkajs' recovery may rejoin the group, which must not happen while a batch is in
 * a transaction), never seeks, and only happens while records flow (a fetch that returned none
 * asks for no other ahead of time, so no long poll sits before the group's commits and heartbeats
 * on the broker's connection).
 *
 * Installed by kafkajs-patches.ts on kafkajs' consumer Runner; used only by consumers whose
 * `eachBatch` carries PREFETCH (prefetching(fn)).
 */

const require = createRequire(import.meta.url)

const PREFETCH = Symbol.for("fleuve.kafkajs.prefetch")
const AHEAD = Symbol("fleuve.kafkajs.ahead")

/** `eachBatch` marked so that its consumer fetches ahead. */
export const prefetching = <F extends (...args: Array<never>) => unknown>(eachBatch: F): F => Object.assign(eachBatch, { [PREFETCH]: true })

// kafkajs internals this builds on (consumer/consumerGroup.js, consumer/batch.js).
interface LongLike {
  toString(): string
}
interface KafkajsBatch {
  readonly topic: string
  readonly partition: number
  isEmpty(): boolean
  isEmptyDueToFiltering(): boolean
  lastOffset(): unknown
}
interface OffsetManager {
  committedOffsets(): Record<string, Record<number, string | null | undefined>>
  nextOffset(topic: string, partition: number): LongLike
}
interface ConsumerGroup {
  readonly offsetManager: OffsetManager
  readonly subscriptionState: { assigned(): Array<{ topic: string; partitions: Array<number> }>; isPaused(topic: string, partition: number): boolean }
  readonly seekOffset: { has(topic: string, partition: number): boolean }
  readonly cluster: { findBroker(o: { nodeId: number }): Promise<{ fetch(o: object): Promise<{ responses: Array<{ topicName: string; partitions: Array<PartitionData> }> }> }> }
  readonly maxBytesPerPartition: number
  readonly maxWaitTime: number
  readonly minBytes: number
  readonly maxBytes: number
  readonly isolationLevel: number
  readonly rackId?: string
  filterPartitionsByNode(nodeId: number, tp: Array<{ topic: string; partitions: Array<number> }>): Array<{ topic: string; partitions: Array<number> }>
  getActiveTopicPartitions(): Record<string, Set<number>>
}
interface PartitionData {
  readonly partition: number
}
interface Runner {
  readonly consumerGroup: ConsumerGroup
  readonly eachBatch?: { [PREFETCH]?: boolean }
  readonly running: boolean
  fetch(nodeId: number): Promise<Array<KafkajsBatch>>
  heartbeat(): Promise<void>
  [AHEAD]?: Map<number, Ahead>
}
type BatchClass = new (topic: string, fetchedOffset: string, partitionData: PartitionData) => KafkajsBatch

/** A fetch asked for ahead of time: the generation it belongs to, where each partition's fetch began, and its answer (undefined: it failed). */
interface Ahead {
  readonly offsetManager: OffsetManager
  readonly from: Map<string, string>
  readonly answer: Promise<Array<{ topicName: string; partitions: Array<PartitionData> }> | undefined>
}

const keyOf = (topic: string, partition: number) => `${topic}|${partition}`

/** How many fetches ahead were asked for, and how many of their partitions' batches were handed over or dropped (tests, benches). */
export const prefetchCounts = { asked: 0, used: 0, dropped: 0 }

/** The partitions of `nodeId` this member may fetch now, as consumerGroup.fetch picks them (seeks pending left out). */
const fetchable = (cg: ConsumerGroup, nodeId: number) => {
  const committed = cg.offsetManager.committedOffsets()
  const active = cg.getActiveTopicPartitions()
  return cg
    .filterPartitionsByNode(nodeId, cg.subscriptionState.assigned())
    .map(({ topic, partitions }) => ({
      topic,
      partitions: partitions.filter((p) => committed[topic]?.[p] != null && active[topic]?.has(p) === true && !cg.seekOffset.has(topic, p) && !cg.subscriptionState.isPaused(topic, p))
    }))
    .filter(({ partitions }) => partitions.length > 0)
}

/** Asks the broker for the fetch after `batches` (each partition from just past its batch), without waiting for it. */
const fetchAhead = (cg: ConsumerGroup, nodeId: number, batches: ReadonlyArray<KafkajsBatch>): Ahead | undefined => {
  // Where each partition stands once its batch is resolved: past its last record (or control
  // record); a batch with nothing in it is not resolved, so its partition stays where it is.
  const past = new Map<string, string>()
  for (const b of batches) if (!b.isEmpty() || b.isEmptyDueToFiltering()) past.set(keyOf(b.topic, b.partition), (BigInt(String(b.lastOffset())) + 1n).toString())
  if (past.size === 0) return undefined
  const from = new Map<string, string>()
  const topics = fetchable(cg, nodeId).map(({ topic, partitions }) => ({
    topic,
    partitions: partitions.map((partition) => {
      const fetchOffset = past.get(keyOf(topic, partition)) ?? cg.offsetManager.nextOffset(topic, partition).toString()
      from.set(keyOf(topic, partition), fetchOffset)
      return { partition, fetchOffset, maxBytes: cg.maxBytesPerPartition }
    })
  }))
  if (topics.length === 0) return undefined
  prefetchCounts.asked++
  const answer = cg.cluster
    .findBroker({ nodeId })
    .then((broker) => broker.fetch({ maxWaitTime: cg.maxWaitTime, minBytes: cg.minBytes, maxBytes: cg.maxBytes, isolationLevel: cg.isolationLevel, topics, rackId: cg.rackId }))
    .then(
      (r) => r.responses,
      // Whatever failed, kafkajs' own fetch meets it again on the next turn and recovers there.
      () => undefined
    )
  return { offsetManager: cg.offsetManager, from, answer }
}

/** The batches of a fetch ahead that start exactly where their partitions stand now (see above). */
const usable = (cg: ConsumerGroup, nodeId: number, ahead: Ahead, responses: Array<{ topicName: string; partitions: Array<PartitionData> }>, Batch: BatchClass): Array<KafkajsBatch> => {
  if (cg.offsetManager !== ahead.offsetManager) {
    prefetchCounts.dropped += ahead.from.size
    return []
  }
  const now = new Set<string>()
  for (const { topic, partitions } of fetchable(cg, nodeId)) for (const p of partitions) now.add(keyOf(topic, p))
  const out: Array<KafkajsBatch> = []
  for (const { topicName, partitions } of responses) {
    for (const data of partitions) {
      const key = keyOf(topicName, data.partition)
      const from = ahead.from.get(key)
      if (from === undefined || !now.has(key)) {
        prefetchCounts.dropped++
        continue
      }
      if (cg.offsetManager.nextOffset(topicName, data.partition).toString() !== from) {
        prefetchCounts.dropped++
        continue
      }
      out.push(new Batch(topicName, from, data))
      prefetchCounts.used++
    }
  }
  return out
}

/** Wraps kafkajs' Runner.prototype.fetch (kafkajs/src/consumer/runner.js) with the fetch ahead. */
export const installPrefetch = (): boolean => {
  const Runner = require("kafkajs/src/consumer/runner") as { prototype: Runner }
  const Batch = require("kafkajs/src/consumer/batch") as BatchClass
  const fetch = Runner.prototype.fetch
  if ((fetch as { [PREFETCH]?: boolean })[PREFETCH]) return true
  const wrapped = async function(this: Runner, nodeId: number): Promise<Array<KafkajsBatch>> {
    if (!this.eachBatch?.[PREFETCH]) return fetch.call(this, nodeId)
    const pending = (this[AHEAD] ??= new Map())
    const ahead = pending.get(nodeId)
    pending.delete(nodeId)
    let batches: Array<KafkajsBatch> = []
    if (ahead) {
      const responses = await ahead.answer
      if (responses && this.running) batches = usable(this.consumerGroup, nodeId, ahead, responses, Batch)
    }
    if (!batches.some((b) => !b.isEmpty() || b.isEmptyDueToFiltering())) batches = await fetch.call(this, nodeId)
    if (this.running) {
      const next = fetchAhead(this.consumerGroup, nodeId, batches)
      if (next) pending.set(nodeId, next)
    }
    return batches
  }
  Runner.prototype.fetch = Object.assign(wrapped, { [PREFETCH]: true })
  return true
}
