import { createRequire } from "node:module"
import { isOutValue, type OutValue } from "./transport.ts"

/**
 * Lean replacements for four kafkajs 2.2.4 modules on the hot paths (two a consumer's, two a producer's), installed by
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

/**
 * The headers of every decoded record that has none (most of them): one frozen object instead of
 * one per record. A consumer that sees it knows the record has no headers without looking
 * (kafkajs-transport.ts hands such records on as they are).
 */
export const NO_RECORD_HEADERS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>

/**
 * A fetched record as kafkajs' decoder returns it, read lazily from its record batch's buffer.
 * A consumer's fetch holds tens of thousands of records until they are handled (a stage's until its
 * transaction commits), so what each one allocates outlives several young-generation collections:
 * profiled on bench/kafka, garbage collection was a fifth of a consuming process's CPU. So the key
 * and value Buffers (views of the fetched buffer) and the offset and timestamp strings are made
 * when first read, and kept; `source` and the spans let a reader that knows about them (serde's
 * decodeMessages, transport.ts' keyTextOf) read a value or key where it lies, without a Buffer.
 * Read through its getters it is the record kafkajs' own decoder builds (kafkajs-patches.test.ts).
 */
export class LeanRecord implements KafkajsRecord {
  // Fields assigned in the constructor only (no class-field initializers: V8 runs those as a
  // function of their own per instance, 5% of a stage's profile).
  declare readonly attributes: number
  /** The record batch's buffer (the fetch's, or the decompressed batch's). */
  declare readonly source: Buffer
  /** Where the key lies in `source`; `keyEnd` -1: a null key. */
  declare readonly keyStart: number
  declare readonly keyEnd: number
  /** Where the value lies in `source`; `valueEnd` -1: a null value. */
  declare readonly valueStart: number
  declare readonly valueEnd: number
  declare readonly headers: Record<string, unknown>
  /** The record batch's fields (shared by its records: magic byte, control batch or not). */
  declare readonly batchContext: RecordContext
  declare private keyBuffer: Buffer | null | undefined
  declare private valueBuffer: Buffer | null | undefined
  declare private offsetOf: number | string
  declare private timestampOf: number | string

  constructor(
    attributes: number,
    timestamp: number | string,
    offset: number | string,
    source: Buffer,
    keyStart: number,
    keyEnd: number,
    valueStart: number,
    valueEnd: number,
    headers: Record<string, unknown>,
    batchContext: RecordContext
  ) {
    this.attributes = attributes
    this.source = source
    this.keyStart = keyStart
    this.keyEnd = keyEnd
    this.valueStart = valueStart
    this.valueEnd = valueEnd
    this.headers = headers
    this.batchContext = batchContext
    this.keyBuffer = undefined
    this.valueBuffer = undefined
    this.offsetOf = offset
    this.timestampOf = timestamp
  }

  get magicByte(): number {
    return this.batchContext.magicByte
  }

  get isControlRecord(): boolean {
    return this.batchContext.isControlBatch
  }

  get key(): Buffer | null {
    if (this.keyBuffer === undefined) this.keyBuffer = this.keyEnd < 0 ? null : this.source.subarray(this.keyStart, this.keyEnd)
    return this.keyBuffer
  }

  get value(): Buffer | null {
    if (this.valueBuffer === undefined) this.valueBuffer = this.valueEnd < 0 ? null : this.source.subarray(this.valueStart, this.valueEnd)
    return this.valueBuffer
  }

  get offset(): string {
    const o = this.offsetOf
    return typeof o === "string" ? o : (this.offsetOf = String(o))
  }

  /** The offset as a number where it is exact (below 2^53), else undefined (read `offset`). */
  get offsetNumber(): number | undefined {
    const o = this.offsetOf
    return typeof o === "number" ? o : o.length < 16 ? Number(o) : undefined
  }

  get timestamp(): string {
    const t = this.timestampOf
    return typeof t === "string" ? t : (this.timestampOf = String(t))
  }
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
    // Most varints of a record (attributes aside: its length, deltas, key and value lengths, header count) are one byte.
    const b = this.buf[this.pos]!
    if (b < 0x80) {
      this.pos++
      return b & 1 ? -(b + 1) / 2 : b / 2
    }
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

  /** Passes over a length-prefixed byte string and returns its length (-1: null); it ends at `pos`. */
  skipBytes(): number {
    const length = this.varInt()
    if (length > 0) this.pos += length
    return length
  }

  string(): string | null {
    const length = this.varInt()
    if (length === -1) return null
    const out = this.buf.toString("utf8", this.pos, this.pos + length)
    this.pos += length
    return out
  }
}

/** A record's batchContext: its batch's fields and magic byte (kafkajs' `{ ...recordContext, magicByte }`). */
type RecordContext = BatchContext & { readonly magicByte: number }

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
const readRecords = (reader: RecordReader, count: number, ctx: RecordContext, firstOffset: bigint, firstTimestamp: bigint): Array<KafkajsRecord> => {
  const records = new Array<KafkajsRecord>(Math.max(count, 0))
  const offsetNumber = firstOffset >= 0n && firstOffset < BigInt(SAFE_BASE) ? Number(firstOffset) : undefined
  const timestampNumber = firstTimestamp > -BigInt(SAFE_BASE) && firstTimestamp < BigInt(SAFE_BASE) ? Number(firstTimestamp) : undefined
  const appendTime = ctx.timestampType === LOG_APPEND_TIME && ctx.maxTimestamp ? ctx.maxTimestamp : undefined
  const buf = reader.buf
  for (let i = 0; i < count; i++) {
    const length = reader.varInt()
    const end = reader.pos + length
    const attributes = (buf[reader.pos++]! << 24) >> 24
    const tsStart = reader.pos
    const tsDelta = reader.varNumber()
    // Numbers where exact (made strings when read: LeanRecord), else the strings kafkajs makes.
    let timestamp: number | string
    if (appendTime !== undefined) {
      if (tsDelta === undefined) reader.varBig(tsStart)
      timestamp = appendTime
    } else if (tsDelta !== undefined && timestampNumber !== undefined && Math.abs(tsDelta) < 2 ** 32) {
      timestamp = timestampNumber + tsDelta
    } else {
      timestamp = BigInt.asIntN(64, firstTimestamp + (tsDelta === undefined ? reader.varBig(tsStart) : BigInt(tsDelta))).toString()
    }
    const offsetDelta = reader.varInt()
    const offset = offsetNumber !== undefined ? offsetNumber + offsetDelta : BigInt.asIntN(64, firstOffset + BigInt(offsetDelta)).toString()
    const keyLength = reader.skipBytes()
    const keyEnd = keyLength < 0 ? -1 : reader.pos
    const valueLength = reader.skipBytes()
    const valueEnd = valueLength < 0 ? -1 : reader.pos
    const headerCount = reader.varInt()
    const headers: Record<string, unknown> = headerCount > 0 ? {} : NO_RECORD_HEADERS
    for (let h = 0; h < headerCount; h++) {
      const name = String(reader.string())
      const v = reader.bytes()
      const prior = Object.hasOwn(headers, name) ? headers[name] : undefined
      const next = prior === undefined ? v : Array.isArray(prior) ? prior.concat([v]) : [prior, v]
      // Defined, not assigned: a header named __proto__ is a plain field, as kafkajs' spread made it.
      Object.defineProperty(headers, name, { value: next, writable: true, enumerable: true, configurable: true })
    }
    reader.pos = end
    records[i] = new LeanRecord(attributes, timestamp, offset, buf, keyEnd - keyLength, keyEnd, valueEnd - valueLength, valueEnd, headers, ctx)
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
      this.messagesWithinOffset = messages.filter((m) => {
        const n = fetchedNumber === undefined ? undefined : m instanceof LeanRecord ? m.offsetNumber : m.offset.length < 16 ? Number(m.offset) : undefined
        return n !== undefined ? n >= fetchedNumber! : BigInt(m.offset) >= fetched
      })
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

// ---- producing: kafkajs builds each record in an Encoder of its own (a zeroed 512-byte buffer),
// every varint in a Buffer.from([...]) of its own and every 64-bit varint through Long objects,
// then copies the records into the batch, growing it by doubling. Here `Record` only keeps its
// fields, and `RecordBatch` sizes the batch once and writes every record in place.

/** What the lean `Record` keeps of a message (kafkajs' `Record` returned its encoded bytes). */
export interface PendingRecord {
  readonly offsetDelta: number
  readonly timestampDelta: number | bigint
  readonly key: unknown
  readonly value: unknown
  readonly headers: Readonly<Record<string, unknown>>
}

/**
 * The headers of a record produced without any: one object for all of them (each record had an
 * empty object of its own, and `Object.keys` an empty array when it was sized).
 */
const NO_HEADERS: Readonly<Record<string, unknown>> = Object.freeze({})

/**
 * A message as the request's record batch takes it. Made by a constructor, not an object literal:
 * a request's records live until its batch is written, often across a scavenge, and V8 then
 * pretenured the literal's objects (allocated every one of them in the old generation).
 */
class Pending implements PendingRecord {
  constructor(
    readonly offsetDelta: number,
    readonly timestampDelta: number | bigint,
    readonly key: unknown,
    readonly value: unknown,
    readonly headers: Readonly<Record<string, unknown>>
  ) {}
}

/** kafkajs' `recordBatch/record/v0`, deferred: the lean RecordBatch below encodes it. */
export const pendingRecord = ({ offsetDelta = 0, timestampDelta = 0, key, value, headers = NO_HEADERS }: Partial<PendingRecord>): PendingRecord =>
  new Pending(offsetDelta, timestampDelta, key, value, headers)

const sizeOfUVar = (u: number | bigint): number => {
  let n = 1
  if (typeof u === "bigint") {
    while (u >= 128n) {
      u >>= 7n
      n++
    }
    return n
  }
  while (u >= 128) {
    u = Math.floor(u / 128)
    n++
  }
  return n
}

/** kafkajs' 32-bit zigzag (`(v << 1) ^ (v >> 31)`), as the unsigned value it writes. */
const zigzag32 = (v: number): number => ((v << 1) ^ (v >> 31)) >>> 0

/** 64-bit zigzag of a delta, as a number where exact, else a BigInt. */
const zigzag64 = (v: number | bigint): number | bigint => {
  if (typeof v === "number" && Number.isSafeInteger(v) && Math.abs(v) < 2 ** 51) return v >= 0 ? v * 2 : -v * 2 - 1
  const b = BigInt.asIntN(64, BigInt(v))
  return BigInt.asUintN(64, (b << 1n) ^ (b >> 63n))
}

/** Strings up to this length are copied by RecordWriter itself when they are ASCII. */
const SHORT_ASCII = 64

class RecordWriter {
  pos = 0
  constructor(readonly buf: Buffer) {}

  uvar(u: number | bigint): void {
    const buf = this.buf
    if (typeof u === "bigint") {
      while (u >= 128n) {
        buf[this.pos++] = Number(u & 0x7fn) | 0x80
        u >>= 7n
      }
      buf[this.pos++] = Number(u)
      return
    }
    while (u >= 128) {
      buf[this.pos++] = (u % 128) | 0x80
      u = Math.floor(u / 128)
    }
    buf[this.pos++] = u
  }

  bytes(b: Bytes, length: number): void {
    if (b === null) {
      this.uvar(zigzag32(-1))
      return
    }
    this.uvar(zigzag32(length))
    if (typeof b === "string") {
      // A short ASCII string (a record's key, a header: its UTF-8 length is its length) copied
      // here costs a third of Buffer#write's call into C++ (~30 against ~110 ns for a key).
      if (length === b.length && length <= SHORT_ASCII) {
        const buf = this.buf
        const at = this.pos
        for (let i = 0; i < length; i++) buf[at + i] = b.charCodeAt(i)
      } else this.buf.write(b, this.pos, length, "utf8")
    } else if (Buffer.isBuffer(b)) b.copy(this.buf, this.pos)
    else b.writeTo(this.buf, this.pos)
    this.pos += length
  }
}

/** A value as written: a Buffer, a string (UTF-8), or a value that writes itself (transport.ts' OutValue). */
type Bytes = Buffer | string | OutValue | null

/** kafkajs' writeVarIntBytes input: null, a Buffer, or anything else as its String; and fleuve's OutValues, which write themselves. */
const bytesOf = (v: unknown): Bytes => (v == null ? null : Buffer.isBuffer(v) ? v : isOutValue(v) ? v : String(v))
const lengthOf = (b: Bytes): number => (b === null ? -1 : typeof b === "string" ? Buffer.byteLength(b, "utf8") : b.length)
const sizeOfBytes = (length: number) => (length < 0 ? 1 : sizeOfUVar(zigzag32(length)) + length)

/** What writing records takes: every record's parts and sizes, measured once (sizeRecords). */
interface RecordsPlan {
  readonly records: ReadonlyArray<PendingRecord>
  readonly keys: Array<Bytes>
  readonly values: Array<Bytes>
  readonly keyLengths: Int32Array
  readonly valueLengths: Int32Array
  readonly bodySizes: Float64Array
  readonly headerLists: Array<Array<readonly [string, Bytes, number, number]> | undefined>
  /** The records' bytes in all. */
  readonly total: number
}

const NO_NAMES: ReadonlyArray<string> = []

const sizeRecords = (records: ReadonlyArray<PendingRecord>): RecordsPlan => {
  const n = records.length
  const keys = new Array<Bytes>(n)
  const values = new Array<Bytes>(n)
  const keyLengths = new Int32Array(n)
  const valueLengths = new Int32Array(n)
  const bodySizes = new Float64Array(n)
  const headerLists = new Array<Array<readonly [string, Bytes, number, number]> | undefined>(n)
  let total = 0
  for (let i = 0; i < n; i++) {
    const r = records[i]!
    const key = (keys[i] = bytesOf(r.key))
    const value = (values[i] = bytesOf(r.value))
    const kl = (keyLengths[i] = lengthOf(key))
    const vl = (valueLengths[i] = lengthOf(value))
    let headersSize = 1
    let list: Array<readonly [string, Bytes, number, number]> | undefined
    const names = r.headers === NO_HEADERS ? NO_NAMES : Object.keys(r.headers)
    for (const name of names) {
      const h = r.headers[name]
      for (const one of Array.isArray(h) ? h : [h]) {
        const hv = bytesOf(one)
        const nameLength = Buffer.byteLength(name, "utf8")
        const valueLength = lengthOf(hv)
        ;(list ??= []).push([name, hv, nameLength, valueLength])
        headersSize += sizeOfBytes(nameLength) + sizeOfBytes(valueLength)
      }
    }
    if (list) headersSize = sizeOfUVar(zigzag32(list.length)) + headersSize - 1
    headerLists[i] = list
    const ts = zigzag64(r.timestampDelta)
    const body = 1 + sizeOfUVar(ts) + sizeOfUVar(zigzag32(r.offsetDelta)) + sizeOfBytes(kl) + sizeOfBytes(vl) + headersSize
    bodySizes[i] = body
    total += sizeOfUVar(zigzag32(body)) + body
  }
  return { records, keys, values, keyLengths, valueLengths, bodySizes, headerLists, total }
}

/** Writes the planned records into `buf` from `at` (plan.total bytes). */
const writeRecords = (plan: RecordsPlan, buf: Buffer, at: number): void => {
  const { records, keys, values, keyLengths, valueLengths, bodySizes, headerLists } = plan
  const w = new RecordWriter(buf)
  w.pos = at
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!
    w.uvar(zigzag32(bodySizes[i]!))
    w.buf[w.pos++] = 0 // record attributes: none used
    w.uvar(zigzag64(r.timestampDelta))
    w.uvar(zigzag32(r.offsetDelta))
    w.bytes(keys[i]!, keyLengths[i]!)
    w.bytes(values[i]!, valueLengths[i]!)
    const list = headerLists[i]
    w.uvar(zigzag32(list?.length ?? 0))
    if (list) {
      for (const [name, hv, nameLength, valueLength] of list) {
        w.bytes(name, nameLength)
        w.bytes(hv, valueLength)
      }
    }
  }
  if (w.pos !== at + plan.total) throw new Error(`kafka record batch: wrote ${w.pos - at} bytes of ${plan.total}`)
}

/** The records' bytes, one after the other, exactly as kafkajs' `Record` encoders wrote them. */
export const encodeRecords = (records: ReadonlyArray<PendingRecord>): Buffer => {
  const plan = sizeRecords(records)
  const out = Buffer.allocUnsafe(plan.total)
  writeRecords(plan, out, 0)
  return out
}

interface KafkajsEncoder {
  buf: Buffer
  offset: number
  readonly buffer: Buffer
  writeInt16(v: number): KafkajsEncoder
  writeInt32(v: number): KafkajsEncoder
  writeInt64(v: unknown): KafkajsEncoder
}
type EncoderClass = new (initialSize?: number) => KafkajsEncoder

/**
 * Bytes measured and ready to write: their size, and a writer of them where they go (a planned
 * record batch; the lean Produce request, which the request framing writes in place).
 */
export interface WrittenBytes {
  readonly size: number
  readonly writeTo: (out: Buffer, at: number) => void
}

type RecordBatchOptions = {
  compression?: number
  firstOffset?: unknown
  firstTimestamp?: number
  maxTimestamp?: number
  partitionLeaderEpoch?: number
  lastOffsetDelta?: number
  transactional?: boolean
  producerId?: unknown
  producerEpoch?: number
  firstSequence?: number
  records?: ReadonlyArray<PendingRecord>
}

/**
 * kafkajs' `recordBatch/v0` RecordBatch over pending records, planned: the same bytes, written
 * where the caller puts them (a Produce request writes its batches straight into the framed
 * request, so a stage's outputs are copied once, not into a batch and then into the request).
 */
export const makeRecordBatchPlanner = (modules: {
  readonly Encoder: EncoderClass
  readonly crc32c: (b: Uint8Array) => number
  readonly lookupCodec: (type: number) => { compress(encoder: { buffer: Buffer }): Promise<Buffer> } | null
  readonly Long: { fromInt(n: number): unknown; fromValue(v: unknown): unknown }
}) =>
async ({
  compression = 0,
  firstOffset = modules.Long.fromInt(0),
  firstTimestamp = Date.now(),
  maxTimestamp = Date.now(),
  partitionLeaderEpoch = 0,
  lastOffsetDelta = 0,
  transactional = false,
  producerId = modules.Long.fromValue(-1),
  producerEpoch = 0,
  firstSequence = 0,
  records = []
}: RecordBatchOptions): Promise<WrittenBytes> => {
  const attributes = (compression & 0x07) | (transactional ? 16 : 0)
  const head = new modules.Encoder(64)
    .writeInt16(attributes)
    .writeInt32(lastOffsetDelta)
    .writeInt64(firstTimestamp)
    .writeInt64(maxTimestamp)
    .writeInt64(producerId)
    .writeInt16(producerEpoch)
    .writeInt32(firstSequence)
    .writeInt32(records.length).buffer
  const first = new modules.Encoder(8).writeInt64(firstOffset).buffer
  // Uncompressed, the records are written straight into the batch (no buffer of their own to copy).
  const plan = sizeRecords(records)
  let recordBytes: Buffer | undefined
  if (compression !== 0) {
    const codec = modules.lookupCodec(compression)
    if (!codec) throw new Error(`kafka record batch: no codec for compression ${compression}`)
    recordBytes = Buffer.allocUnsafe(plan.total)
    writeRecords(plan, recordBytes, 0)
    recordBytes = await codec.compress({ buffer: recordBytes })
  }
  // firstOffset (8), length (4), then the batch: leader epoch (4), magic (1), CRC (4), body.
  const bodyLength = head.length + (recordBytes ? recordBytes.length : plan.total)
  return {
    size: 8 + 4 + 4 + 1 + 4 + bodyLength,
    writeTo: (out, at) => {
      first.copy(out, at)
      out.writeInt32BE(4 + 1 + 4 + bodyLength, at + 8)
      out.writeInt32BE(partitionLeaderEpoch, at + 12)
      out.writeInt8(MAGIC_BYTE, at + 16)
      head.copy(out, at + 21)
      if (recordBytes) recordBytes.copy(out, at + 21 + head.length)
      else writeRecords(plan, out, at + 21 + head.length)
      out.writeUInt32BE(modules.crc32c(out.subarray(at + 21, at + 21 + bodyLength)) >>> 0, at + 17)
    }
  }
}

/** kafkajs' `recordBatch/v0` RecordBatch over pending records: the same bytes, in one buffer. */
export const makeRecordBatchEncoder = (modules: Parameters<typeof makeRecordBatchPlanner>[0]) => {
  const plan = makeRecordBatchPlanner(modules)
  return async (options: RecordBatchOptions) => {
    const planned = await plan(options)
    const out = Buffer.allocUnsafe(planned.size)
    planned.writeTo(out, 0)
    return encoderOf(modules.Encoder, out)
  }
}

const MAGIC_BYTE = 2

/** An Encoder holding `bytes` as if it had written them (what kafkajs' callers read back). */
const encoderOf = (Encoder: EncoderClass, bytes: Buffer): KafkajsEncoder => {
  const e = new Encoder(0)
  e.buf = bytes
  e.offset = bytes.length
  return e
}

/** A request payload that writes itself where the framing puts it (the lean Produce request), instead of a buffer to copy. */
const isWrittenBytes = (p: unknown): p is WrittenBytes =>
  typeof (p as Partial<WrittenBytes>).writeTo === "function" && typeof (p as Partial<WrittenBytes>).size === "number"

/**
 * kafkajs' `protocol/request`: a request's size and header before its payload. kafkajs writes the
 * header and payload into a 512-byte Encoder that grows by doubling, then copies it all once more;
 * here a payload that writes itself (the lean Produce request: a stage's transaction, megabytes)
 * is written straight into a buffer of the right size, and any other is copied once.
 */
export const makeRequestFraming = (Encoder: EncoderClass) =>
async ({ correlationId, clientId, request: { apiKey, apiVersion, encode } }: {
  correlationId: number
  clientId: string
  request: { apiKey: number; apiVersion: number; encode: () => Promise<{ buffer: Buffer }> }
}) => {
  const encoded = await encode()
  const head = new Encoder(64).writeInt32(0).writeInt16(apiKey).writeInt16(apiVersion).writeInt32(correlationId) as KafkajsEncoder & { writeString(s: string): KafkajsEncoder }
  const header = head.writeString(clientId).buffer
  const written = isWrittenBytes(encoded) ? encoded : undefined
  const payload = written ? undefined : encoded.buffer
  const out = Buffer.allocUnsafe(header.length + (written ? written.size : payload!.length))
  header.copy(out, 0)
  if (written) written.writeTo(out, header.length)
  else payload!.copy(out, header.length)
  out.writeInt32BE(out.length - 4, 0)
  return encoderOf(Encoder, out)
}

interface ProduceMessage {
  readonly key?: unknown
  readonly value?: unknown
  readonly headers?: Readonly<Record<string, unknown>>
  readonly timestamp?: number | string | null
}

/**
 * kafkajs' Produce request v3 (v4–v7 reuse it): the same bytes, written where the request framing puts
 * it (each partition's record batch planned by the lean RecordBatch and written in place), without a
 * copy of every message object, an Encoder per level that kafkajs copies into the next, nor a
 * buffer per batch copied into the request.
 */
export const makeProduceRequestV3 = (modules: {
  readonly Encoder: EncoderClass
  readonly apiKey: number
  readonly planBatch: ReturnType<typeof makeRecordBatchPlanner>
  readonly Long: { fromInt(n: number): unknown }
}) => {
  const { Encoder, apiKey, planBatch, Long } = modules
  type Writer = KafkajsEncoder & { writeString(s: string | null): Writer; writeInt16(v: number): Writer; writeInt32(v: number): Writer }
  return ({ acks, timeout, transactionalId = null, producerId = Long.fromInt(-1), producerEpoch = 0, compression = 0, topicData }: {
    acks: number
    timeout: number
    transactionalId?: string | null
    producerId?: unknown
    producerEpoch?: number
    compression?: number
    topicData: ReadonlyArray<{ topic: string; partitions: ReadonlyArray<{ partition: number; messages: ReadonlyArray<ProduceMessage>; firstSequence?: number }> }>
  }) => ({
    apiKey,
    apiVersion: 3,
    apiName: "Produce",
    expectResponse: () => acks !== 0,
    encode: async () => {
      const parts: Array<Buffer | WrittenBytes> = [(new Encoder(64) as Writer).writeString(transactionalId).writeInt16(acks).writeInt32(timeout).writeInt32(topicData.length).buffer]
      for (const { topic, partitions } of topicData) {
        parts.push((new Encoder(64) as Writer).writeString(topic).writeInt32(partitions.length).buffer)
        for (const { partition, messages, firstSequence } of partitions) {
          // As kafkajs: the batch's first and max timestamps are the least and greatest given (sorted as kafkajs sorts), else now.
          const dateNow = Date.now()
          const given = messages.map((m) => m.timestamp).filter((t) => t != null).sort()
          const timestamps = given.length === 0 ? [dateNow] : given
          const firstTimestamp = timestamps[0] as number
          const maxTimestamp = timestamps[timestamps.length - 1]
          const records = new Array<PendingRecord>(messages.length)
          for (let i = 0; i < messages.length; i++) {
            const m = messages[i]!
            records[i] = new Pending(i, ((m.timestamp || dateNow) as number) - firstTimestamp, m.key, m.value, m.headers ?? NO_HEADERS)
          }
          const batch = await planBatch({
            compression,
            records,
            firstTimestamp,
            maxTimestamp: maxTimestamp as number,
            producerId,
            producerEpoch,
            ...(firstSequence === undefined ? {} : { firstSequence }),
            transactional: !!transactionalId,
            lastOffsetDelta: records.length - 1
          })
          const head = Buffer.allocUnsafe(8)
          head.writeInt32BE(partition, 0)
          head.writeInt32BE(batch.size, 4)
          parts.push(head, batch)
        }
      }
      let size = 0
      for (const p of parts) size += Buffer.isBuffer(p) ? p.length : p.size
      const writeTo = (out: Buffer, at: number) => {
        for (const p of parts) {
          if (Buffer.isBuffer(p)) p.copy(out, at)
          else p.writeTo(out, at)
          at += Buffer.isBuffer(p) ? p.length : p.size
        }
      }
      // Written where the request framing puts it; `buffer` (kafkajs' interface) writes a copy of its own.
      let buffer: Buffer | undefined
      return {
        size,
        writeTo,
        get buffer() {
          if (!buffer) writeTo((buffer = Buffer.allocUnsafe(size)), 0)
          return buffer
        }
      }
    }
  })
}

/**
 * The replacements, built on kafkajs' own modules (required here, before kafkajs itself loads), in
 * groups that go in together or not at all (the lean `Record` only suits the lean `RecordBatch`).
 */
export const leanRecordModules = (crc32c: (b: Uint8Array) => number): ReadonlyArray<ReadonlyArray<readonly [string, unknown]>> => {
  const Decoder = require("kafkajs/src/protocol/decoder") as DecoderClass
  const Encoder = require("kafkajs/src/protocol/encoder") as EncoderClass
  const { KafkaJSPartialMessageError } = require("kafkajs/src/errors") as { KafkaJSPartialMessageError: new (message: string) => Error }
  const { lookupCodecByAttributes, lookupCodec } = require("kafkajs/src/protocol/message/compression") as {
    lookupCodecByAttributes: (a: number) => Codec | undefined
    lookupCodec: (t: number) => { compress(encoder: { buffer: Buffer }): Promise<Buffer> } | null
  }
  const Long = require("kafkajs/src/utils/long")
  const filterAbortedMessages = require("kafkajs/src/consumer/filterAbortedMessages")
  const { Produce: apiKey } = require("kafkajs/src/protocol/requests/apiKeys") as { Produce: number }
  const batchModules = { Encoder, crc32c, lookupCodec, Long }
  const RecordBatch = makeRecordBatchEncoder(batchModules)
  return [
    [["kafkajs/src/protocol/recordBatch/v0/decoder", makeRecordBatchDecoder({ Decoder, KafkaJSPartialMessageError, lookupCodecByAttributes })]],
    [["kafkajs/src/consumer/batch", makeBatchClass({ Long, filterAbortedMessages })]],
    [
      ["kafkajs/src/protocol/recordBatch/record/v0", pendingRecord],
      ["kafkajs/src/protocol/recordBatch/v0", { RecordBatch, MAGIC_BYTE }],
      ["kafkajs/src/protocol/requests/produce/v3/request", makeProduceRequestV3({ Encoder, apiKey, planBatch: makeRecordBatchPlanner(batchModules), Long })]
    ],
    [["kafkajs/src/protocol/request", makeRequestFraming(Encoder)]]
  ]
}
