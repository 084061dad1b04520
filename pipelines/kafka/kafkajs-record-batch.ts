import { createRequire } from "node:module"

/**
 * A lean replacement for two kafkajs 2.2.4 modules on a consumer's hot path, installed by
 * kafkajs-patches.ts before kafkajs loads. Same results (test/pipelines/kafka/kafkajs-patches.test.ts
 * compares them with kafkajs' own on the same bytes), far less work per record:
 *
 * - `protocol/recordBatch/v0/decoder`: kafkajs decodes every record through a fresh `Decoder`, reads
 *   its timestamp delta as a chain of 64-bit `Long` objects (one per byte), parses the batch's first
 *   offset and timestamp from strings into BigInts again for every record, adds and prints them
 *   back, and folds the headers with an object spread per header. Profiled on bench/kafka's
 *   consumer, that and the garbage it leaves were most of kafkajs' 3.0–3.6 µs of CPU per record.
 *   Here a record is read in place from the batch's buffer: varints as numbers, offsets and
 *   timestamps added as numbers where they are exact (below 2^53; BigInt otherwise), key and value
 *   as views of the fetched buffer (as before), headers into one object.
 * - `consumer/batch`: kafkajs drops the records before the fetched offset by parsing every
 *   record's offset string into a BigInt; here offsets of up to 15 digits compare as numbers.
 */

const require = createRequire(import.meta.url)

// kafkajs internals this module builds on (the same modules kafkajs' own decoder requires).
interface KafkajsDecoder {
  buffer: Buffer
  offset: number
  readInt8(): number
  readInt16(): number
  readInt32(): number
  readInt64(): bigint
  slice(size: number): KafkajsDecoder
  forward(size: number): void
}
type DecoderClass = new (buffer: Buffer) => KafkajsDecoder
interface Codec {
  decompress(buffer: Buffer): Promise<Buffer>
}

const TIMESTAMP_TYPE_FLAG_MASK = 0x8
const TRANSACTIONAL_FLAG_MASK = 0x10
const CONTROL_FLAG_MASK = 0x20
const LOG_APPEND_TIME = 1
const CREATE_TIME = 0
// Offsets and timestamps below this add as numbers without loss (a delta is at most 2^31).
const SAFE_BASE = Number.MAX_SAFE_INTEGER - 2 ** 32

export interface KafkajsRecord {
  readonly magicByte: number
  readonly attributes: number
  readonly timestamp: string
  readonly offset: string
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly headers: Record<string, unknown>
  readonly isControlRecord: boolean
  readonly batchContext: unknown
}

/** A reader of one buffer's varints, records and headers; `pos` is where it stands. */
class RecordReader {
  pos = 0
  constructor(readonly buf: Buffer) {}

  /** A zigzag varint (int32 or int64) as a number: exact when it fits 2^53, else undefined. */
  varNumber(): number | undefined {
    const buf = this.buf
    let b = buf[this.pos++]!
    let raw = b & 0x7f
    let mul = 128
    let n = 1
    while (b & 0x80) {
      if (n++ === 10) throw new RangeError("kafka record batch: a varint longer than 10 bytes")
      b = buf[this.pos++]!
      raw += (b & 0x7f) * mul
      mul *= 128
    }
    if (raw > Number.MAX_SAFE_INTEGER) return undefined
    return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2
  }

  /** The varint at `start` as a BigInt (zigzag), for the rare value past 2^53. */
  varBig(start: number): bigint {
    let raw = 0n
    let shift = 0n
    let p = start
    let b: number
    do {
      b = this.buf[p++]!
      raw |= BigInt(b & 0x7f) << shift
      shift += 7n
    } while (b & 0x80)
    this.pos = p
    return BigInt.asIntN(64, (raw >> 1n) ^ -(raw & 1n))
  }

  varInt(): number {
    const start = this.pos
    const v = this.varNumber()
    return v ?? Number(this.varBig(start))
  }

  bytes(): Buffer | null {
    const length = this.varInt()
    if (length === -1) return null
    const out = this.buf.subarray(this.pos, this.pos + length)
    this.pos += length
    return out
  }

  string(): string | null {
    const length = this.varInt()
    if (length === -1) return null
    const out = this.buf.toString("utf8", this.pos, this.pos + length)
    this.pos += length
    return out
  }
}

interface BatchContext {
  readonly firstOffset: string
  readonly firstTimestamp: string
  readonly partitionLeaderEpoch: number
  readonly inTransaction: boolean
  readonly isControlBatch: boolean
  readonly lastOffsetDelta: number
  readonly producerId: string
  readonly producerEpoch: number
  readonly firstSequence: number
  readonly maxTimestamp: string
  readonly timestampType: number
}

/** Reads `count` records (or until the buffer ends, for count -1 on an uncompressed batch). */
const readRecords = (reader: RecordReader, count: number, ctx: BatchContext & { magicByte: number }, firstOffset: bigint, firstTimestamp: bigint): Array<KafkajsRecord> => {
  const records = new Array<KafkajsRecord>(Math.max(count, 0))
  const offsetNumber = firstOffset >= 0n && firstOffset < BigInt(SAFE_BASE) ? Number(firstOffset) : undefined
  const timestampNumber = firstTimestamp > -BigInt(SAFE_BASE) && firstTimestamp < BigInt(SAFE_BASE) ? Number(firstTimestamp) : undefined
  const appendTime = ctx.timestampType === LOG_APPEND_TIME && ctx.maxTimestamp ? ctx.maxTimestamp : undefined
  const { magicByte, isControlBatch } = ctx
  const buf = reader.buf
  for (let i = 0; i < count; i++) {
    const length = reader.varInt()
    const end = reader.pos + length
    const attributes = (buf[reader.pos++]! << 24) >> 24
    const tsStart = reader.pos
    const tsDelta = reader.varNumber()
    let timestamp: string
    if (appendTime !== undefined) {
      if (tsDelta === undefined) reader.varBig(tsStart)
      timestamp = appendTime
    } else if (tsDelta !== undefined && timestampNumber !== undefined && Math.abs(tsDelta) < 2 ** 32) {
      timestamp = String(timestampNumber + tsDelta)
    } else {
      timestamp = BigInt.asIntN(64, firstTimestamp + (tsDelta === undefined ? reader.varBig(tsStart) : BigInt(tsDelta))).toString()
    }
    const offsetDelta = reader.varInt()
    const offset = offsetNumber !== undefined ? String(offsetNumber + offsetDelta) : BigInt.asIntN(64, firstOffset + BigInt(offsetDelta)).toString()
    const key = reader.bytes()
    const value = reader.bytes()
    const headerCount = reader.varInt()
    const headers: Record<string, unknown> = {}
    for (let h = 0; h < headerCount; h++) {
      const name = String(reader.string())
      const v = reader.bytes()
      const prior = Object.hasOwn(headers, name) ? headers[name] : undefined
      const next = prior === undefined ? v : Array.isArray(prior) ? prior.concat([v]) : [prior, v]
      // Defined, not assigned: a header named __proto__ is a plain field, as kafkajs' spread made it.
      Object.defineProperty(headers, name, { value: next, writable: true, enumerable: true, configurable: true })
    }
    reader.pos = end
    records[i] = { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: isControlBatch, batchContext: ctx }
  }
  return records
}

/** kafkajs' `recordBatch/v0/decoder`: (fetch decoder) → the batch's fields and its records. */
export const makeRecordBatchDecoder = (modules: {
  readonly Decoder: DecoderClass
  readonly KafkaJSPartialMessageError: new (message: string) => Error
  readonly lookupCodecByAttributes: (attributes: number) => Codec | undefined
}) =>
async (fetchDecoder: KafkajsDecoder) => {
  const firstOffsetBig = fetchDecoder.readInt64()
  const firstOffset = firstOffsetBig.toString()
  const length = fetchDecoder.readInt32()
  const decoder = fetchDecoder.slice(length)
  fetchDecoder.forward(length)
  const remainingBytes = Buffer.byteLength(decoder.buffer)
  if (remainingBytes < length) {
    throw new modules.KafkaJSPartialMessageError(`Tried to decode a partial record batch: remainingBytes(${remainingBytes}) < recordBatchLength(${length})`)
  }
  const partitionLeaderEpoch = decoder.readInt32()
  const magicByte = decoder.readInt8()
  decoder.readInt32() // CRC: kafkajs does not check it either
  const attributes = decoder.readInt16()
  const lastOffsetDelta = decoder.readInt32()
  const firstTimestampBig = decoder.readInt64()
  const firstTimestamp = firstTimestampBig.toString()
  const maxTimestamp = decoder.readInt64().toString()
  const producerId = decoder.readInt64().toString()
  const producerEpoch = decoder.readInt16()
  const firstSequence = decoder.readInt32()
  const recordContext: BatchContext = {
    firstOffset,
    firstTimestamp,
    partitionLeaderEpoch,
    inTransaction: (attributes & TRANSACTIONAL_FLAG_MASK) > 0,
    isControlBatch: (attributes & CONTROL_FLAG_MASK) > 0,
    lastOffsetDelta,
    producerId,
    producerEpoch,
    firstSequence,
    maxTimestamp,
    timestampType: (attributes & TIMESTAMP_TYPE_FLAG_MASK) > 0 ? LOG_APPEND_TIME : CREATE_TIME
  }
  const ctx = { ...recordContext, magicByte }
  const codec = modules.lookupCodecByAttributes(attributes)
  const count = decoder.readInt32()
  let records: Array<KafkajsRecord>
  if (!codec) {
    const reader = new RecordReader(decoder.buffer)
    reader.pos = decoder.offset
    records = count === -1 ? [] : readRecords(reader, count, ctx, firstOffsetBig, firstTimestampBig)
  } else if (count <= 0) {
    records = []
  } else {
    const decompressed = await codec.decompress(decoder.buffer.subarray(decoder.offset))
    records = readRecords(new RecordReader(decompressed), count, ctx, firstOffsetBig, firstTimestampBig)
  }
  return { ...recordContext, records }
}

/** An offset (string, number, bigint or kafkajs Long) as a BigInt. */
const bigOf = (v: unknown): bigint =>
  typeof v === "bigint" ? v : typeof v === "object" && v !== null && typeof (v as { value?: unknown }).value === "bigint" ? (v as { value: bigint }).value : BigInt(v as string | number)

/** kafkajs' `consumer/batch` class, with the per-record offset comparison done on numbers. */
export const makeBatchClass = (modules: {
  readonly Long: { fromValue(v: unknown): { add(n: number | unknown): { toString(): string; add(x: unknown): { toString(): string } }; multiply(n: number): unknown } }
  readonly filterAbortedMessages: (args: { messages: ReadonlyArray<KafkajsRecord>; abortedTransactions: unknown }) => Array<KafkajsRecord>
}) => {
  const { Long, filterAbortedMessages } = modules
  return class Batch {
    readonly fetchedOffset: unknown
    readonly topic: string
    readonly partition: number
    readonly highWatermark: string
    readonly rawMessages: ReadonlyArray<KafkajsRecord>
    readonly messagesWithinOffset: ReadonlyArray<KafkajsRecord>
    readonly messages: ReadonlyArray<KafkajsRecord>

    constructor(topic: string, fetchedOffset: unknown, partitionData: { partition: number; highWatermark: string; abortedTransactions: unknown; messages: ReadonlyArray<KafkajsRecord> }) {
      this.fetchedOffset = fetchedOffset
      const fetched = bigOf(fetchedOffset)
      const fetchedNumber = fetched > -BigInt(SAFE_BASE) && fetched < BigInt(SAFE_BASE) ? Number(fetched) : undefined
      const { abortedTransactions, messages } = partitionData
      this.topic = topic
      this.partition = partitionData.partition
      this.highWatermark = partitionData.highWatermark
      this.rawMessages = messages
      // A fetch may return records before the offset asked for (the start of their record batch).
      this.messagesWithinOffset = messages.filter((m) => (fetchedNumber !== undefined && m.offset.length < 16 ? Number(m.offset) >= fetchedNumber : BigInt(m.offset) >= fetched))
      this.messages = filterAbortedMessages({ messages: this.messagesWithinOffset, abortedTransactions }).filter((m) => !m.isControlRecord)
    }

    isEmpty() {
      return this.messages.length === 0
    }

    isEmptyIncludingFiltered() {
      return this.messagesWithinOffset.length === 0
    }

    isEmptyDueToFiltering() {
      return this.isEmpty() && this.rawMessages.length > 0
    }

    isEmptyControlRecord() {
      return this.isEmpty() && this.messagesWithinOffset.some(({ isControlRecord }) => isControlRecord)
    }

    isEmptyDueToLogCompactedMessages() {
      return this.rawMessages.length > 0 && this.isEmptyIncludingFiltered()
    }

    firstOffset() {
      return this.isEmptyIncludingFiltered() ? null : this.messagesWithinOffset[0]!.offset
    }

    lastOffset() {
      if (this.isEmptyDueToLogCompactedMessages()) return this.fetchedOffset
      if (this.isEmptyIncludingFiltered()) return Long.fromValue(this.highWatermark).add(-1).toString()
      return this.messagesWithinOffset[this.messagesWithinOffset.length - 1]!.offset
    }

    offsetLag() {
      const lastOffsetOfPartition = Long.fromValue(this.highWatermark).add(-1)
      const lastConsumedOffset = Long.fromValue(this.lastOffset())
      return lastOffsetOfPartition.add(lastConsumedOffset.multiply(-1)).toString()
    }

    offsetLagLow() {
      if (this.isEmptyIncludingFiltered()) return "0"
      const lastOffsetOfPartition = Long.fromValue(this.highWatermark).add(-1)
      const firstConsumedOffset = Long.fromValue(this.firstOffset())
      return lastOffsetOfPartition.add(firstConsumedOffset.multiply(-1)).toString()
    }
  }
}

/** The two replacements, built on kafkajs' own modules (required here, before kafkajs itself loads). */
export const leanDecodingModules = (): ReadonlyArray<readonly [string, unknown]> => {
  const Decoder = require("kafkajs/src/protocol/decoder") as DecoderClass
  const { KafkaJSPartialMessageError } = require("kafkajs/src/errors") as { KafkaJSPartialMessageError: new (message: string) => Error }
  const { lookupCodecByAttributes } = require("kafkajs/src/protocol/message/compression") as { lookupCodecByAttributes: (a: number) => Codec | undefined }
  const Long = require("kafkajs/src/utils/long")
  const filterAbortedMessages = require("kafkajs/src/consumer/filterAbortedMessages")
  return [
    ["kafkajs/src/protocol/recordBatch/v0/decoder", makeRecordBatchDecoder({ Decoder, KafkaJSPartialMessageError, lookupCodecByAttributes })],
    ["kafkajs/src/consumer/batch", makeBatchClass({ Long, filterAbortedMessages })]
  ]
}
