import { Redacted } from "effect"
import { kafkajsTransport } from "./kafkajs-transport.ts"
import { loadRdkafka, type RdConsumer, type RdError, type RdMessage, type RdProducer, type RdTopicPartition } from "./rdkafka-module.ts"
import { FETCH_BYTES, type KafkaSettings } from "./settings.ts"
import { type Consumer, type ConsumerOptions, type InMessage, type KafkaTransport, type OutMessage, outBytes, sendInTransactionOf, type Producer } from "./transport.ts"

/**
 * KafkaTransport over librdkafka (`@confluentinc/kafka-javascript`'s native API, not its KafkaJS
 * layer: that layer commits the last record + 1, so a group on a transactional topic stays one
 * record — the commit marker — behind forever, and it needs a consumer object for sendOffsets).
 * Producers and consumers are librdkafka's: fetching, record-batch decoding, batching and
 * transactions run in its C threads. Topic and group administration (not on the hot path) stays
 * with kafkajs' admin client.
 *
 * Offsets: a consumer never auto-commits. After each round of batches it commits, awaited, each
 * handled partition's *position* (past the records it returned and past any transaction marker
 * or aborted records it skipped), so a group's lag reaches zero on transactional topics and a
 * commit never goes backwards (rounds are sequential; a stage's transactions committed the same or
 * lower offsets before). Stages commit their offsets inside their transactions as before
 * (`sendOffsetsToTransaction`, with the consumer's group metadata: a zombie member is fenced).
 */

/** The retry budget kafkajs gets from `clientRetries` (250 ms doubling to 5 s), as librdkafka's delivery timeout. */
const retryBudgetMs = (retries: number) => {
  let total = 0
  for (let i = 0, wait = 250; i < retries; i++, wait = Math.min(wait * 2, 5000)) total += wait
  return Math.max(10000, total)
}

const securityOf = (settings: KafkaSettings): Record<string, unknown> => {
  const protocol = settings.sasl ? (settings.ssl ? "sasl_ssl" : "sasl_plaintext") : settings.ssl ? "ssl" : "plaintext"
  return {
    "security.protocol": protocol,
    ...(settings.sasl
      ? {
        "sasl.mechanisms": settings.sasl.mechanism === "plain" ? "PLAIN" : settings.sasl.mechanism.toUpperCase(),
        "sasl.username": settings.sasl.username,
        // Unwrapped only here, into the client's configuration (never logged: log level errors only).
        "sasl.password": Redacted.value(settings.sasl.password)
      }
      : {})
  }
}

const promised = (f: (cb: (err: RdError | null | undefined) => void) => void) =>
  new Promise<void>((resolve, reject) => f((err) => (err ? reject(err) : resolve())))

const headersOf = (raw: RdMessage["headers"]): Record<string, string> => {
  if (!raw || raw.length === 0) return EMPTY
  const out: Record<string, string> = {}
  for (const h of raw) for (const k in h) out[k] = String(h[k])
  return out
}
const EMPTY: Record<string, string> = Object.freeze({}) as Record<string, string>

const headerList = (h: OutMessage["headers"]) => (h ? Object.entries(h).map(([k, v]) => ({ [k]: v })) : undefined)

export interface RdkafkaTuning {
  /** Records one consume call returns at most (across the member's partitions). */
  readonly maxRecordsPerRound?: number
  readonly maxBytesPerPartition?: number
}

export const rdkafkaTransport = (settings: KafkaSettings, tuning: RdkafkaTuning = {}): KafkaTransport => {
  const rd = loadRdkafka()
  const admin = kafkajsTransport(settings)
  const common = {
    "bootstrap.servers": settings.brokers.join(","),
    "client.id": settings.clientId,
    ...securityOf(settings)
  }
  const open = new Set<{ close: () => Promise<void> }>()
  // A stage's transactions carry its consumer's group metadata (generation, member): the
  // consumer of each group this transport runs, for sendOffsetsToTransaction.
  const consumers = new Map<string, RdConsumer>()

  const producer = async (options: { transactionalId?: string; transactionTimeoutMs?: number }): Promise<Producer> => {
    const retryMs = retryBudgetMs(settings.clientRetries ?? 15)
    const txTimeoutMs = options.transactionTimeoutMs ?? 30000
    // librdkafka wants a record's delivery timeout within its transaction's.
    const timeoutMs = options.transactionalId ? Math.min(retryMs, txTimeoutMs) : retryMs
    const p = new rd.Producer({
      ...common,
      "enable.idempotence": true,
      acks: "all",
      // Java-compatible key hashing, as kafkajs' DefaultPartitioner: a key lands on the partition
      // the embedded runtime and every other client computes.
      partitioner: "murmur2_random",
      "linger.ms": 2,
      "message.timeout.ms": timeoutMs,
      dr_cb: true,
      ...(options.transactionalId ? { "transactional.id": options.transactionalId, "transaction.timeout.ms": txTimeoutMs } : {})
    })
    // Each send's delivery reports settle that send; a transaction's records are settled by its commit.
    p.on("delivery-report", (err: RdError | null, report: { opaque?: { done?: (e: RdError | null) => void } }) => report?.opaque?.done?.(err))
    p.on("event.error", () => undefined)
    await promised((cb) => p.connect({ timeout: timeoutMs }, cb))
    p.setPollInBackground(true)
    if (options.transactionalId) await promised((cb) => p.initTransactions(timeoutMs, cb))
    const produceAll = (messages: ReadonlyArray<OutMessage>, opaque: unknown) => {
      for (const m of messages) p.produce(m.topic, null, outBytes(m.value), m.key, null, opaque, headerList(m.headers))
    }
    let closed = false
    const handle: Producer = {
      send: (messages) =>
        messages.length === 0 ? Promise.resolve() : new Promise<void>((resolve, reject) => {
          let pending = messages.length
          let failure: RdError | null = null
          const opaque = {
            done: (err: RdError | null) => {
              if (err && !failure) failure = err
              if (--pending === 0) (failure ? reject(failure) : resolve())
            }
          }
          try {
            produceAll(messages, opaque)
          } catch (e) {
            reject(e)
          }
        }),
      transaction: async () => {
        await promised((cb) => p.beginTransaction(cb))
        return {
          // librdkafka queues the records and sends them from its own threads; the commit flushes them.
          send: async (messages) => produceAll(messages, undefined),
          sendOffsets: async (groupId, offsets) => {
            if (offsets.length === 0) return
            const consumer = consumers.get(groupId)
            if (!consumer) throw new Error(`no consumer of group ${groupId} in this transport: a transaction's offsets need its group's member`)
            const list: Array<RdTopicPartition> = offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: Number(o.offset) }))
            await promised((cb) => p.sendOffsetsToTransaction(list, consumer, timeoutMs, cb))
          },
          commit: () => promised((cb) => p.commitTransaction(timeoutMs, cb)).then(() => undefined),
          abort: () => promised((cb) => p.abortTransaction(timeoutMs, cb)).then(() => undefined)
        }
      },
      sendInTransaction: sendInTransactionOf(() => handle.transaction()),
      close: async () => {
        if (closed) return
        closed = true
        open.delete(closer)
        await promised((cb) => p.flush(5000, cb)).catch(() => undefined)
        await promised((cb) => p.disconnect(cb)).catch(() => undefined)
      }
    }
    const closer = { close: handle.close }
    open.add(closer)
    return handle
  }

  const consumer = async (options: ConsumerOptions): Promise<Consumer> => {
    const session = options.sessionTimeoutMs ?? settings.sessionTimeoutMs ?? 10000
    let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }))
    done.catch(() => undefined)
    let running = true
    let round: Promise<void> = Promise.resolve()
    // Partitions this member owns now; a revoked partition's remaining records of a round are dropped.
    const owned = new Set<string>()
    // Offset of each partition's last commit by this member: only a position beyond it is committed again.
    const committed = new Map<string, number>()
    const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`
    const c: RdConsumer = new rd.KafkaConsumer({
      ...common,
      "group.id": options.groupId,
      "enable.auto.commit": false,
      "enable.auto.offset.store": false,
      "isolation.level": "read_committed",
      "allow.auto.create.topics": false,
      "session.timeout.ms": session,
      "heartbeat.interval.ms": Math.max(300, Math.floor(session / 5)),
      "max.partition.fetch.bytes": options.maxBytesPerPartition ?? tuning.maxBytesPerPartition ?? settings.fetchBytes ?? FETCH_BYTES,
      "fetch.wait.max.ms": 100,
      rebalance_cb: (err: RdError, assignment: ReadonlyArray<RdTopicPartition>) => {
        if (err.code === -175) {
          for (const a of assignment) owned.add(tp(a.topic, a.partition))
          c.assign(assignment)
          const byTopic = new Map<string, Array<number>>()
          for (const a of assignment) byTopic.set(a.topic, [...(byTopic.get(a.topic) ?? []), a.partition])
          options.onAssigned?.([...byTopic].map(([topic, partitions]) => ({ topic, partitions })))
        } else {
          owned.clear()
          committed.clear()
          // The round under way finishes (and commits) first, as kafkajs lets a batch finish.
          const unassign = () => {
            try {
              c.unassign()
            } catch {
              // not connected any more: nothing to give back
            }
          }
          round.then(unassign, unassign)
        }
      }
    }, { "auto.offset.reset": options.fromBeginning ? "earliest" : "latest" })
    c.on("event.error", () => undefined)
    await promised((cb) => c.connect({ timeout: retryBudgetMs(settings.clientRetries ?? 15) }, cb))
    consumers.set(options.groupId, c)
    c.setDefaultConsumeTimeout(200)
    c.setDefaultIsTimeoutOnlyForFirstMessage(true)
    c.subscribe([...options.topics])
    const maxRecords = tuning.maxRecordsPerRound ?? 10000

    const consumeRound = () =>
      new Promise<ReadonlyArray<RdMessage>>((resolve, reject) => c.consume(maxRecords, (err, messages) => (err ? reject(err) : resolve(messages ?? []))))

    const handleRound = async (messages: ReadonlyArray<RdMessage>) => {
      // Records of one partition stay in order; partitions are handled one after the other (or
      // handed over all at once, with concurrentBatches).
      const batches = new Map<string, { topic: string; partition: number; messages: Array<InMessage>; last: number }>()
      for (const m of messages) {
        const key = tp(m.topic, m.partition)
        let b = batches.get(key)
        if (!b) batches.set(key, (b = { topic: m.topic, partition: m.partition, messages: [], last: -1 }))
        b.messages.push({ key: m.key ?? null, value: m.value, headers: headersOf(m.headers), offset: String(m.offset), timestamp: String(m.timestamp ?? -1) })
        b.last = m.offset
      }
      const handled: Array<Promise<void>> = []
      for (const [key, b] of batches) {
        if (!running || !owned.has(key)) continue
        const one = options.onBatch({
          topic: b.topic,
          partition: b.partition,
          messages: b.messages,
          nextOffset: String(b.last + 1),
          // librdkafka heartbeats from its own thread while a batch runs; a revocation meanwhile
          // (the rebalance callback) says the partition may have moved. A transaction's offsets
          // also carry the member's generation, which the broker checks.
          lost: () => (owned.has(key) ? undefined : "the group revoked the partition while the batch was handled")
        })
        if (options.concurrentBatches) handled.push(one)
        else await one
      }
      await Promise.all(handled)
      // Commit each owned partition's position where it moved: past the handled records, and past
      // transaction markers and aborted records even in a round that returned none of its records.
      if (owned.size === 0 || !running) return
      const positions = c.position([...owned].map((k) => {
        const [topic, partition] = k.split("\u0000")
        return { topic: topic!, partition: Number(partition) }
      }))
      const toCommit = positions.filter((p) => p.offset !== undefined && p.offset >= 0 && p.offset > (committed.get(tp(p.topic, p.partition)) ?? -1))
      if (toCommit.length === 0) return
      await promised((cb) => c.commitCb(toCommit.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset! })), cb))
      for (const p of toCommit) committed.set(tp(p.topic, p.partition), p.offset!)
    }

    const loop = async () => {
      while (running) {
        let messages: ReadonlyArray<RdMessage>
        try {
          messages = await consumeRound()
        } catch (e) {
          // librdkafka reconnects and retries by itself; only a fatal error ends the consumer.
          if ((e as RdError).isFatal) throw e
          await new Promise((r) => setTimeout(r, 100))
          continue
        }
        if (!running) break
        round = handleRound(messages)
        await round
      }
    }
    loop().then(
      () => settle!.resolve(),
      (e) => {
        running = false
        settle!.reject(e)
      }
    )

    let stopped: Promise<void> | undefined
    const handle: Consumer = {
      done,
      stop: () =>
        (stopped ??= (async () => {
          running = false
          await round.catch(() => undefined)
          consumers.delete(options.groupId)
          open.delete(closer)
          await promised((cb) => c.disconnect(cb)).catch(() => undefined)
          settle!.resolve()
        })())
    }
    const closer = { close: handle.stop }
    open.add(closer)
    return handle
  }

  return {
    ...admin,
    producer,
    consumer,
    close: async () => {
      for (const h of [...open].reverse()) await h.close().catch(() => undefined)
      await admin.close()
    }
  }
}
