/**
 * The few Kafka operations the runtime needs, behind one interface, so the client library is a
 * detail: `kafkajs-transport.ts` implements it with kafkajs 2.2.4; `@confluentinc/kafka-javascript`
 * (librdkafka, KafkaJS-compatible API) can implement it the same way without touching the runtime.
 * Everything here is plain promises: the runtime wraps them in Effects.
 */

export interface InMessage {
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: Readonly<Record<string, string>>
  readonly offset: string
  readonly timestamp: string
}

/**
 * A message whose key and value still lie in a buffer its client holds (kafkajs' fetched record
 * batches: kafkajs-record-batch.ts' LeanRecord), where a reader that knows it reads them without a
 * Buffer of their own (serde's decodeMessages, keyTextOf). An end of -1 is a null key or value.
 */
export interface InPlaceMessage extends InMessage {
  readonly source: Buffer
  readonly keyStart: number
  readonly keyEnd: number
  readonly valueStart: number
  readonly valueEnd: number
}

export const isInPlace = (m: InMessage): m is InPlaceMessage => typeof (m as Partial<InPlaceMessage>).valueEnd === "number"

/** A message's key as text ("" for none), read in place where it can be. */
export const keyTextOf = (m: InMessage): string =>
  isInPlace(m) ? (m.keyEnd < 0 ? "" : m.source.toString("utf8", m.keyStart, m.keyEnd)) : (m.key?.toString("utf8") ?? "")

/** Records of one partition, in order, as one fetch returned them (control records removed). */
export interface InBatch {
  readonly topic: string
  readonly partition: number
  readonly messages: ReadonlyArray<InMessage>
  /** Offset to commit once the batch is handled: past its last record and any transaction marker. */
  readonly nextOffset: string
  /**
   * Why the partition may no longer be this member's (the group rebalanced, or dropped it, while
   * the batch was being handled for longer than the group waits), or undefined while it still is:
   * a stage asks before it commits, so that a member that lost its partition commits nothing
   * (kafkajs's transactional offset commit carries no member generation the broker could check).
   */
  readonly lost?: () => string | undefined
}

/**
 * A record value that writes itself into a client's produce request (serde's framed JSON): a
 * stage's transaction carries tens of thousands of records, and a Buffer of their own for each,
 * copied once more into the request, was a share of its CPU and garbage. A client that needs a
 * Buffer per record asks `toBuffer()` (outBytes).
 */
export interface OutValue {
  /** Its encoded length in bytes. */
  readonly length: number
  /** Writes its `length` bytes into `buf` at `at`. */
  readonly writeTo: (buf: Buffer, at: number) => void
  readonly toBuffer: () => Buffer
}

export const isOutValue = (v: unknown): v is OutValue => typeof v === "object" && v !== null && typeof (v as Partial<OutValue>).writeTo === "function" && !Buffer.isBuffer(v)

/** A message value's bytes. */
export const outBytes = (v: Buffer | OutValue): Buffer => (Buffer.isBuffer(v) ? v : v.toBuffer())

export interface OutMessage {
  readonly topic: string
  readonly key: string
  readonly value: Buffer | OutValue
  readonly headers?: Readonly<Record<string, string>>
}

export interface ConsumedOffset {
  readonly topic: string
  readonly partition: number
  readonly offset: string
}

/** An open Kafka transaction of a transactional producer (one at a time per producer). */
export interface Transaction {
  /** Sends messages in the transaction, after those of earlier sends (await each before the next). */
  readonly send: (messages: ReadonlyArray<OutMessage>) => Promise<void>
  /**
   * Adds the group's new positions to the transaction (none: nothing to add). They commit with it or
   * not at all; sent while records are still being sent, they leave the commit fewer round trips.
   */
  readonly sendOffsets: (groupId: string, offsets: ReadonlyArray<ConsumedOffset>) => Promise<void>
  /** Commits what was sent, with the positions sendOffsets added (a run job's transaction: records only). */
  readonly commit: () => Promise<void>
  /** Aborts it: nothing sent in it becomes visible to read_committed consumers. */
  readonly abort: () => Promise<void>
}

export interface Producer {
  /** Idempotent, acknowledged by all in-sync replicas. */
  readonly send: (messages: ReadonlyArray<OutMessage>) => Promise<void>
  /**
   * Opens a transaction whose records are sent piece by piece (a stage sends a fetch's outputs
   * while it still handles the rest of the fetch) and committed with the positions at the end.
   * Needs a transactional producer; the caller aborts it on any failure.
   */
  readonly transaction: () => Promise<Transaction>
  /**
   * One Kafka transaction: the messages and the consumer group's new positions commit together,
   * or neither does (read-process-write, effectively once). Needs a transactional producer.
   * With no offsets it is a plain transaction of records (a run job's, fenced by the next one).
   */
  readonly sendInTransaction: (messages: ReadonlyArray<OutMessage>, groupId: string, offsets: ReadonlyArray<ConsumedOffset>) => Promise<void>
  readonly close: () => Promise<void>
}

/**
 * Producer.sendInTransaction over a producer's `transaction`, as every transport does it: the
 * messages, then the positions (none for a run job's records), then the commit; aborted on any
 * failure (the abort's own failure is dropped: the first one is what the caller needs).
 */
export const sendInTransactionOf = (transaction: () => Promise<Transaction>): Producer["sendInTransaction"] =>
  async (messages, groupId, offsets) => {
    const tx = await transaction()
    try {
      await tx.send(messages)
      await tx.sendOffsets(groupId, offsets)
      await tx.commit()
    } catch (e) {
      await tx.abort().catch(() => undefined)
      throw e
    }
  }

export interface ConsumerOptions {
  readonly groupId: string
  readonly topics: ReadonlyArray<string>
  /** Where a group with no committed position starts. */
  readonly fromBeginning: boolean
  /**
   * Handles one batch. The consumer's position advances (and is committed) only after the
   * returned promise resolves; a rejection stops the consumer with that error.
   */
  readonly onBatch: (batch: InBatch) => Promise<void>
  /** Called after the group assigned this member its partitions (after each rebalance). */
  readonly onAssigned?: (assignment: ReadonlyArray<{ topic: string; partitions: ReadonlyArray<number> }>) => void
  readonly sessionTimeoutMs?: number
  readonly maxBytesPerPartition?: number
  /**
   * Hands over the batches of one fetch (one per partition) without waiting for each to resolve
   * before the next, so the handler can handle them together (a stage commits them in one
   * transaction). Each batch's position still advances only after its own promise resolved; the
   * next fetch still waits for all of them.
   */
  readonly concurrentBatches?: boolean
  /**
   * Asks the broker for the next fetch as soon as a fetch's batches are handed over, so that it
   * arrives while they are handled (a stage's handling and transaction, a sink's landing): what is
   * handed over next is still exactly what a fetch at the positions then would return
   * (kafkajs-prefetch.ts). Default true; false fetches only once the batches are handled. A client
   * without it fetches as before.
   */
  readonly prefetch?: boolean
}

export interface Consumer {
  /** Settles when the consumer stops: resolves on `stop()`, rejects when it crashed. */
  readonly done: Promise<void>
  readonly stop: () => Promise<void>
}

export interface PartitionOffsets {
  readonly partition: number
  readonly low: string
  /** The last stable offset: where read_committed readers stop (before the oldest open transaction). */
  readonly high: string
  /**
   * The log end (high watermark): past every record written, those of open transactions included.
   * Equal to `high` when no transaction is open. A group is done with a partition only at `end`:
   * committed records may wait behind another producer's open transaction (lag.ts).
   */
  readonly end: string
}

export interface TopicSpec {
  readonly topic: string
  readonly partitions: number
  readonly replicationFactor: number
}

export interface KafkaTransport {
  readonly createTopics: (specs: ReadonlyArray<TopicSpec>) => Promise<void>
  readonly listTopics: () => Promise<ReadonlyArray<string>>
  readonly topicOffsets: (topic: string) => Promise<ReadonlyArray<PartitionOffsets>>
  /** Committed positions of a group; `-1` where it has none. */
  readonly groupOffsets: (groupId: string, topics: ReadonlyArray<string>) => Promise<ReadonlyArray<ConsumedOffset>>
  readonly listGroups: () => Promise<ReadonlyArray<string>>
  /** The live members of a group (none once the last one left or its session expired). */
  readonly groupMembers: (groupId: string) => Promise<ReadonlyArray<{ readonly clientId: string; readonly host: string }>>
  /** Moves a (stopped) group's positions to the beginning, or to the first record at or after a time. */
  readonly resetGroup: (groupId: string, topic: string, to: { readonly _tag: "Beginning" } | { readonly _tag: "Timestamp"; readonly epochMs: number }) => Promise<void>
  /** A producer; with `transactionalId`, one that can run transactions (and fences older instances). */
  readonly producer: (options: { readonly transactionalId?: string; readonly transactionTimeoutMs?: number }) => Promise<Producer>
  readonly consumer: (options: ConsumerOptions) => Promise<Consumer>
  /**
   * Reads the committed records of one partition with offsets in [from, to), in order, outside
   * any consumer group's positions (commits nothing); `to` must be the offset of a record that
   * exists. A stage worker that takes a partition over rebuilds its state with it.
   */
  readonly readRange: (topic: string, partition: number, from: string, to: string, onBatch: (messages: ReadonlyArray<InMessage>) => Promise<void>) => Promise<void>
  readonly close: () => Promise<void>
}
