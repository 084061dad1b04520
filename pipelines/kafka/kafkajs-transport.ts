import { Redacted } from "effect"
import type { Admin, EachBatchPayload, Message, SASLOptions } from "kafkajs"
import { kafkajsLeanRecords, loadKafkajs, uncommittedAdmin } from "./kafkajs-patches.ts"
import { pipelinedCommits } from "./kafkajs-commits.ts"
import { prefetching } from "./kafkajs-prefetch.ts"
import { NO_RECORD_HEADERS } from "./kafkajs-record-batch.ts"
import { FETCH_BYTES, type KafkaSettings } from "./settings.ts"
import { randomUUID } from "node:crypto"
import { type Consumer, type ConsumerOptions, type InMessage, type KafkaTransport, type OutMessage, outBytes, sendInTransactionOf, type OutValue, type Producer } from "./transport.ts"

// kafkajs with some of its modules replaced by leaner ones (kafkajs-patches.ts).
const { CompressionTypes, Kafka, logLevel, Partitioners } = loadKafkajs()
/** Whether kafkajs writes produce requests with fleuve's record-batch encoder (which writes OutValues itself). */
const leanRecords = kafkajsLeanRecords()

/** Shared by every record without headers (most of them): read-only, never written to. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({})

const headersOf = (raw: Record<string, unknown> | undefined): Readonly<Record<string, string>> => {
  let out: Record<string, string> | undefined
  for (const k in raw) {
    if (!Object.hasOwn(raw, k)) continue
    const v = raw[k]
    if (v === undefined) continue
    const one = Array.isArray(v) ? v[v.length - 1] : v
    out ??= {}
    Object.defineProperty(out, k, { value: Buffer.isBuffer(one) ? one.toString("utf8") : String(one), writable: true, enumerable: true, configurable: true })
  }
  return out ?? NO_HEADERS
}

type KafkajsMessage = { key: Buffer | null; value: Buffer | null; headers?: unknown; offset: string; timestamp: string }

/**
 * A batch's records as InMessages. Records fleuve's decoder read without headers (kafkajs-record-
 * batch.ts) already are InMessages (key, value, offset and timestamp as kafkajs has them, headers
 * the shared empty object): a batch of only those goes on as it is, without a copy per record.
 */
const inMessages = (messages: ReadonlyArray<KafkajsMessage>): ReadonlyArray<InMessage> => {
  let plain = true
  for (let i = 0; i < messages.length; i++) {
    if (messages[i]!.headers !== NO_RECORD_HEADERS) {
      plain = false
      break
    }
  }
  if (plain) return messages as ReadonlyArray<InMessage>
  return messages.map((m) => ({ key: m.key, value: m.value, headers: headersOf(m.headers as Record<string, unknown> | undefined), offset: m.offset, timestamp: m.timestamp }))
}

/**
 * Groups messages per topic for one produce request (kafkajs partitions by key, Java-compatible
 * murmur2). Values that write themselves (OutValue) go as they are where fleuve's record-batch
 * encoder writes the requests (kafkajs-record-batch.ts), as Buffers where kafkajs' own does.
 */
const topicMessages = (messages: ReadonlyArray<OutMessage>, leanRecords: boolean) => {
  const byTopic = new Map<string, Array<{ key: string; value: Buffer | OutValue; headers?: Readonly<Record<string, string>> }>>()
  for (const m of messages) {
    let list = byTopic.get(m.topic)
    if (!list) byTopic.set(m.topic, (list = []))
    const value = leanRecords ? m.value : outBytes(m.value)
    // kafkajs reads key, value and headers and changes nothing: a message without headers goes as it is.
    list.push(m.headers ? { key: m.key, value, headers: { ...m.headers } } : value === m.value ? m : { key: m.key, value })
  }
  // kafkajs' types know Buffers and strings; its code hands values on untouched to the record-batch encoder.
  return [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs as unknown as Array<Message> }))
}

/**
 * Messages cut into consecutive groups of at most `maxBytes` (keys, values and headers): kafkajs
 * puts a request's messages for one partition in one record batch, which the broker refuses above
 * its message.max.bytes (1 MB by default) — 1,000 corpus documents of 1 KB already are. Sent one
 * group after the other, the order holds.
 */
const inRequests = (messages: ReadonlyArray<OutMessage>, maxBytes = 512 * 1024): Array<ReadonlyArray<OutMessage>> => {
  const groups: Array<Array<OutMessage>> = []
  let group: Array<OutMessage> = []
  let bytes = 0
  for (const m of messages) {
    let size = m.value.length + Buffer.byteLength(m.key) + 64
    const headers = m.headers
    if (headers) for (const k in headers) if (Object.hasOwn(headers, k)) size += k.length + Buffer.byteLength(headers[k]!)
    if (group.length > 0 && bytes + size > maxBytes) {
      groups.push(group)
      group = []
      bytes = 0
    }
    group.push(m)
    bytes += size
  }
  if (group.length > 0) groups.push(group)
  return groups
}

export interface KafkajsTuning {
  /** Per-partition fetch size (bytes). */
  readonly maxBytesPerPartition?: number
  readonly compression?: "none" | "gzip"
}

/** KafkaTransport over kafkajs 2.2.4. Logs only errors, through kafkajs' logger (never the config). */
/** How long a rebalance waits for a member that is handling a batch (kafkajs's default). */
const rebalanceTimeout = 60_000
/** A member stops committing this long before the group would give up waiting for it. */
const SAFETY_MS = 10_000

export const kafkajsTransport = (settings: KafkaSettings, tuning: KafkajsTuning = {}): KafkaTransport => {
  const sasl: SASLOptions | undefined = settings.sasl
    ? ({ mechanism: settings.sasl.mechanism, username: settings.sasl.username, password: Redacted.value(settings.sasl.password) } as SASLOptions)
    : undefined
  const kafka = new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    ssl: settings.ssl,
    ...(sasl ? { sasl } : {}),
    logLevel: process.env.FLEUVE_KAFKA_LOG === "debug" ? logLevel.INFO : logLevel.NOTHING,
    // A broker restart takes a few seconds: keep retrying for about a minute before giving up.
    retry: { initialRetryTime: 250, maxRetryTime: 5000, retries: settings.clientRetries ?? 15 }
  })
  // Shared promises, not clients set once connected: callers that ask at once (`fleuve topics`
  // asks for every topic together) would each make and connect a client, and close only the last.
  // A connection that failed is forgotten, so that the next caller tries again.
  const connected = (a: Admin, forget: () => void) => a.connect().then(() => a, (e) => (forget(), Promise.reject(e)))
  let admin: Promise<Admin> | undefined
  const adminClient = () => (admin ??= connected(kafka.admin(), () => (admin = undefined)))
  // Reads log-end offsets (read_uncommitted) for `topicOffsets(...).end`.
  let endsAdmin: Promise<Admin> | undefined
  const endsClient = () => (endsAdmin ??= connected(uncommittedAdmin(kafka), () => (endsAdmin = undefined)))
  const open: Array<{ close: () => Promise<void> }> = []

  const producer = async (options: { transactionalId?: string; transactionTimeoutMs?: number }): Promise<Producer> => {
    const p = kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      ...(options.transactionalId ? { transactionalId: options.transactionalId, transactionTimeout: options.transactionTimeoutMs ?? 30000 } : {})
    })
    await p.connect()
    const compression = tuning.compression === "gzip" ? CompressionTypes.GZIP : CompressionTypes.None
    const handle: Producer = {
      send: async (messages) => {
        for (const group of inRequests(messages)) await p.sendBatch({ topicMessages: topicMessages(group, leanRecords), acks: -1, compression })
      },
      transaction: async () => {
        const tx = await p.transaction()
        return {
          send: async (messages) => {
            for (const group of inRequests(messages)) await tx.sendBatch({ topicMessages: topicMessages(group, leanRecords), acks: -1, compression })
          },
          sendOffsets: async (groupId, offsets) => {
            const topics = new Map<string, Array<{ partition: number; offset: string }>>()
            for (const o of offsets) {
              let list = topics.get(o.topic)
              if (!list) topics.set(o.topic, (list = []))
              list.push({ partition: o.partition, offset: o.offset })
            }
            if (topics.size > 0) await tx.sendOffsets({ consumerGroupId: groupId, topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })) })
          },
          commit: () => tx.commit(),
          abort: () => tx.abort()
        }
      },
      sendInTransaction: sendInTransactionOf(() => handle.transaction()),
      close: () => p.disconnect()
    }
    open.push(handle)
    return handle
  }

  const consumer = async (options: ConsumerOptions): Promise<Consumer> => {
    const session = options.sessionTimeoutMs ?? settings.sessionTimeoutMs ?? 10000
    const heartbeatInterval = Math.max(300, Math.floor(session / 5))
    const fetchBytes = options.maxBytesPerPartition ?? tuning.maxBytesPerPartition ?? settings.fetchBytes ?? FETCH_BYTES
    const c = kafka.consumer({
      groupId: options.groupId,
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: session,
      rebalanceTimeout,
      heartbeatInterval,
      maxBytesPerPartition: fetchBytes,
      // A fetch carries up to this much in all (kafkajs' default is 10 MB): a full fetch from each of 3 partitions.
      maxBytes: Math.max(10 * 1024 * 1024, 3 * fetchBytes),
      maxWaitTimeInMs: 200,
      // A crashed consumer is restarted by our worker loop, with fresh producers: not by kafkajs.
      retry: { retries: 5, restartOnFailure: async () => false }
    })
    let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }))
    done.catch(() => undefined)
    let stopping = false
    c.on(c.events.CRASH, (e) => {
      if (!stopping) settle!.reject(e.payload.error)
    })
    c.on(c.events.GROUP_JOIN, (e) => {
      const assignment = Object.entries(e.payload.memberAssignment as Record<string, Array<number>>).map(([topic, partitions]) => ({ topic, partitions }))
      options.onAssigned?.(assignment)
    })
    await c.connect()
    await c.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning })
    await c.run({
      // Positions advance only after `onBatch` resolved: `resolveOffset` then the runner's
      // commit. Batches that held only transaction markers or aborted records are resolved by
      // kafkajs itself, so a group's lag does reach zero on transactional topics.
      autoCommit: true,
      eachBatchAutoResolve: false,
      // kafkajs hands a fetch's batches to this many workers at once (one partition each).
      partitionsConsumedConcurrently: options.concurrentBatches ? 64 : 1,
      // The next fetch asked for while a fetch is handled (kafkajs-prefetch.ts), and the commit
      // after a handled batch sent without holding up the next (kafkajs-commits.ts).
      eachBatch: pipelinedCommits(((options.prefetch ?? true) ? prefetching : <F>(f: F) => f)(async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return
        // kafkajs heartbeats only between batches: a batch that takes longer than the session
        // (a stage calling a model server) would lose the member its partitions while it works,
        // and another member would handle them again. So heartbeat while the batch runs. A
        // rebalance asked meanwhile waits for this member (up to the rebalance timeout) before
        // its partitions move; past that, or once the group dropped it, `lost` says so.
        let rebalancingSince: number | undefined
        let dropped: string | undefined
        let beating = false
        const beat = setInterval(() => {
          if (beating) return
          beating = true
          heartbeat()
            .catch((e: { type?: string; message?: string }) => {
              if (e?.type === "REBALANCE_IN_PROGRESS") rebalancingSince ??= Date.now()
              else dropped ??= `heartbeat failed: ${e?.message ?? String(e)}`
            })
            .finally(() => (beating = false))
        }, heartbeatInterval)
        try {
          await options.onBatch({
            topic: batch.topic,
            partition: batch.partition,
            nextOffset: (BigInt(batch.lastOffset()) + 1n).toString(),
            messages: inMessages(batch.messages),
            lost: () =>
              dropped ??
                (isStale() ? "the group reassigned the partition" : undefined) ??
                (rebalancingSince !== undefined && Date.now() - rebalancingSince > rebalanceTimeout - SAFETY_MS
                  ? `a rebalance has waited ${Math.round((Date.now() - rebalancingSince) / 1000)} s for this member (the group waits ${rebalanceTimeout / 1000} s)`
                  : undefined)
          })
        } finally {
          clearInterval(beat)
        }
        resolveOffset(batch.lastOffset())
        await heartbeat()
      }))
    })
    const handle: Consumer = {
      done,
      stop: async () => {
        stopping = true
        await c.disconnect().catch(() => undefined)
        settle!.resolve()
      }
    }
    open.push({ close: handle.stop })
    return handle
  }

  const readRange = async (topic: string, partition: number, from: string, to: string, onBatch: (messages: ReadonlyArray<InMessage>) => Promise<void>) => {
    const start = BigInt(from)
    const end = BigInt(to)
    if (start >= end) return
    // A group of its own that never commits: it only borrows the consumer's fetching. read_committed,
    // so a dead worker's aborted transactions are not read back.
    const c = kafka.consumer({ groupId: `fleuve.read.${randomUUID()}`, readUncommitted: false, allowAutoTopicCreation: false, maxWaitTimeInMs: 200, retry: { retries: 5, restartOnFailure: async () => false } })
    let finish: { resolve: () => void; reject: (e: unknown) => void } | undefined
    const done = new Promise<void>((resolve, reject) => (finish = { resolve, reject }))
    let finished = false
    let position = start
    c.on(c.events.CRASH, (e) => finish!.reject(e.payload.error))
    try {
      await c.connect()
      await c.subscribe({ topics: [topic], fromBeginning: true })
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, resolveOffset }) => {
          if (finished || batch.partition !== partition) return
          // Each record once, in order (a batch not resolved would be fetched again).
          const inRange = batch.messages.filter((m) => BigInt(m.offset) >= position && BigInt(m.offset) < end)
          position = BigInt(batch.lastOffset()) + 1n
          try {
            if (inRange.length > 0) {
              await onBatch(inMessages(inRange))
            }
          } catch (e) {
            finished = true
            finish!.reject(e)
            return
          }
          resolveOffset(batch.lastOffset())
          if (position >= end) {
            finished = true
            finish!.resolve()
          }
        }
      })
      c.seek({ topic, partition, offset: from })
      await done
    } finally {
      finished = true
      await c.disconnect().catch(() => undefined)
    }
  }

  return {
    readRange,
    createTopics: async (specs) => {
      const a = await adminClient()
      const existing = new Set(await a.listTopics())
      const missing = specs.filter((s) => !existing.has(s.topic))
      if (missing.length === 0) return
      await a.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({ topic: s.topic, numPartitions: s.partitions, replicationFactor: s.replicationFactor }))
      })
    },
    listTopics: async () => (await adminClient()).listTopics(),
    topicOffsets: async (topic) => {
      const [stable, ends] = await Promise.all([(await adminClient()).fetchTopicOffsets(topic), (await endsClient()).fetchTopicOffsets(topic)])
      return stable.map((p) => ({ partition: p.partition, low: p.low, high: p.high, end: ends.find((e) => e.partition === p.partition)?.high ?? p.high }))
    },
    groupOffsets: async (groupId, topics) => {
      const res = await (await adminClient()).fetchOffsets({ groupId, topics: [...topics] })
      return res.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })))
    },
    listGroups: async () => (await (await adminClient()).listGroups()).groups.map((g) => g.groupId),
    groupMembers: async (groupId) => {
      const { groups } = await (await adminClient()).describeGroups([groupId])
      return (groups[0]?.members ?? []).map((m) => ({ clientId: m.clientId, host: m.clientHost }))
    },
    resetGroup: async (groupId, topic, to) => {
      const a = await adminClient()
      if (to._tag === "Beginning") return a.resetOffsets({ groupId, topic, earliest: true })
      const partitions = await a.fetchTopicOffsetsByTimestamp(topic, to.epochMs)
      await a.setOffsets({ groupId, topic, partitions: partitions.map((p) => ({ partition: p.partition, offset: p.offset })) })
    },
    producer,
    consumer,
    close: async () => {
      for (const h of open.splice(0).reverse()) await h.close().catch(() => undefined)
      if (admin) await admin.then((a) => a.disconnect()).catch(() => undefined)
      if (endsAdmin) await endsAdmin.then((a) => a.disconnect()).catch(() => undefined)
      admin = undefined
      endsAdmin = undefined
    }
  }
}
