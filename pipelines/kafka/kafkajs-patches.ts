import { createRequire } from "node:module"
import { installPipelinedCommits } from "./kafkajs-commits.ts"
import { installPrefetch } from "./kafkajs-prefetch.ts"
import { leanRecordModules } from "./kafkajs-record-batch.ts"

/**
 * Fixes to kafkajs 2.2.4's internals, installed before kafkajs loads: kafkajs-transport.ts gets
 * kafkajs from `loadKafkajs()`, a runtime require after the fix is in place. (Not a static import
 * after this module's: bin/compiled-cli.mjs bundles our sources with packages external, and an
 * ESM bundle's imports of packages are evaluated before any of the bundle's own code.) kafkajs groups a produce request's messages per partition with
 * `Object.assign(result, { [partition]: [...current, message] })`: a copy of the partition's array
 * for every message, quadratic in the request's size. A transactional stage produces a whole
 * fetched batch (~4,000 records) in one request: profiled on bench/kafka's stage, that grouping and
 * the garbage it leaves were about half of the stage's CPU time. This replacement returns the same
 * object (partitions as keys, each partition's messages in their order) in one pass.
 *
 * The second: kafkajs checksums every record batch it produces with a CRC32C computed a byte at a
 * time; `crc32c` below computes the same value with the CPU's CRC32C instructions through
 * @node-rs/crc32 (a prebuilt native addon), or, where that package cannot load, eight bytes at a
 * time (slicing-by-8: 2.3x faster than kafkajs' on 1 MiB, bench/kafka/crc32c.ts); paid on every
 * produced byte, it was ~5-7% of a stage's CPU with slicing-by-8.
 *
 * The others (kafkajs-record-batch.ts): a fetched record batch decoded in place, without kafkajs'
 * per-record 64-bit `Long` arithmetic and objects; the fetched-offset filter on numbers; and a
 * produced record batch written in one buffer instead of an Encoder (a zeroed 512-byte buffer) per
 * record and a Buffer per varint. And the default partitioner's murmur2 on 32-bit integers.
 *
 * Only applied to the kafkajs version it was written against; elsewhere kafkajs runs unchanged.
 * FLEUVE_KAFKAJS_PATCH=0 leaves kafkajs as shipped (bench/kafka/stage.ts measures both);
 * FLEUVE_KAFKAJS_LEAN_RECORDS=0 keeps the first two and kafkajs' own record encoding and decoding.
 */

const require = createRequire(import.meta.url)
const PATCHED_VERSION = "2.2.4"

interface GroupArgs<M> {
  readonly topic: string
  readonly partitionMetadata: ReadonlyArray<unknown>
  readonly messages: ReadonlyArray<M>
  readonly partitioner: (args: { topic: string; partitionMetadata: ReadonlyArray<unknown>; message: M }) => number
}

export const groupMessagesPerPartition = <M>({ topic, partitionMetadata, messages, partitioner }: GroupArgs<M>): Record<number, Array<M>> => {
  if (partitionMetadata.length === 0) return {}
  const result: Record<number, Array<M>> = {}
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message })
    ;(result[partition] ??= []).push(message)
  }
  return result
}

/**
 * Kafka's murmur2 of a key (Java's `Utils.murmur2`, what kafkajs' DefaultPartitioner hashes), on
 * 32-bit integers: kafkajs computes it with a 64-bit `Long` object per multiply and xor, and a
 * Buffer per key. The key's UTF-8 bytes go into a scratch buffer reused from call to call.
 */
let scratch = Buffer.allocUnsafe(1024)
export const murmur2 = (key: unknown): number => {
  let data: Uint8Array
  let length: number
  if (Buffer.isBuffer(key)) {
    data = key
    length = key.length
  } else {
    const text = String(key)
    // An ASCII key (nearly every key: ids) is its own UTF-8: hashed from its char codes, without
    // writing it into the scratch buffer (a call into C++ per produced record).
    const ascii = murmur2Ascii(text)
    if (ascii !== undefined) return ascii
    if (text.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(text.length * 3)
    length = scratch.write(text, 0, "utf8")
    data = scratch
  }
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ length) | 0
  const length4 = length >>> 2
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const tail = length & ~3
  switch (length % 4) {
    case 3:
      h ^= data[tail + 2]! << 16
    // falls through
    case 2:
      h ^= data[tail + 1]! << 8
    // falls through
    case 1:
      h ^= data[tail]!
      h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

/** murmur2 of an ASCII string's bytes, read as char codes; undefined when it is not ASCII. */
const murmur2Ascii = (text: string): number | undefined => {
  const length = text.length
  for (let i = 0; i < length; i++) if (text.charCodeAt(i) > 0x7f) return undefined
  const m = 0x5bd1e995
  let h = (0x9747b28c ^ length) | 0
  const length4 = length >>> 2
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4
    let k = text.charCodeAt(i4) | (text.charCodeAt(i4 + 1) << 8) | (text.charCodeAt(i4 + 2) << 16) | (text.charCodeAt(i4 + 3) << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  const tail = length & ~3
  switch (length % 4) {
    case 3:
      h ^= text.charCodeAt(tail + 2) << 16
    // falls through
    case 2:
      h ^= text.charCodeAt(tail + 1) << 8
    // falls through
    case 1:
      h ^= text.charCodeAt(tail)
      h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}

interface PartitionArgs {
  readonly topic: string
  readonly partitionMetadata: ReadonlyArray<{ readonly partitionId: number; readonly leader: number }>
  readonly message: { readonly partition?: number | null; readonly key?: unknown }
}

/**
 * kafkajs' DefaultPartitioner (`partitioners/legacy/partitioner` over the default murmur2): an
 * explicit partition is kept, a key is hashed, a key-less message goes round-robin over the
 * partitions that have a leader. The same choices, without the per-message filter of the
 * partitions kafkajs ran even for keyed messages.
 */
export const makeDefaultPartitioner = (randomBytes: (n: number) => Buffer) => () => {
  const counters: Record<string, number> = {}
  return ({ topic, partitionMetadata, message }: PartitionArgs): number => {
    if (!(topic in counters)) counters[topic] = randomBytes(32).readUInt32BE(0)
    if (message.partition !== null && message.partition !== undefined) return message.partition
    const numPartitions = partitionMetadata.length
    if (message.key !== null && message.key !== undefined) return (murmur2(message.key) & 0x7fffffff) % numPartitions
    const available = partitionMetadata.filter((p) => p.leader >= 0)
    if (available.length > 0) return available[(++counters[topic]! & 0x7fffffff) % available.length]!.partitionId
    return (++counters[topic]! & 0x7fffffff) % numPartitions
  }
}

// CRC32C (Castagnoli, reflected polynomial 0x82F63B78), slicing-by-8: TABLES[k][b] is the CRC of
// byte b followed by k zero bytes.
const TABLES = (() => {
  const t = Array.from({ length: 8 }, () => new Int32Array(256))
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    t[0]![n] = c
  }
  for (let n = 0; n < 256; n++) {
    let c = t[0]![n]!
    for (let k = 1; k < 8; k++) {
      c = t[0]![c & 0xff]! ^ (c >>> 8)
      t[k]![n] = c
    }
  }
  return t
})()

/** kafkajs' `crc32C(buffer)` in JavaScript, slicing-by-8: the unsigned CRC32C of the buffer. */
export const crc32cSliced = (buf: Uint8Array): number => {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array]
  let crc = -1
  let i = 0
  const end8 = buf.length - 8
  for (; i <= end8; i += 8) {
    const a = crc ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))
    crc = t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^ t3[buf[i + 4]!]! ^ t2[buf[i + 5]!]! ^ t1[buf[i + 6]!]! ^ t0[buf[i + 7]!]!
  }
  for (; i < buf.length; i++) crc = t0[(crc ^ buf[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ -1) >>> 0
}

/** The native CRC32C of @node-rs/crc32 (hardware instructions), or undefined where it does not load. */
export const crc32cNative: ((buf: Uint8Array) => number) | undefined = (() => {
  try {
    const native = (require("@node-rs/crc32") as { crc32c: (b: Uint8Array) => number }).crc32c
    // Refused unless it gives the standard check value (a broken build must not checksum batches).
    return native(Buffer.from("123456789")) >>> 0 === 0xe3069283 ? (b: Uint8Array) => native(b) >>> 0 : undefined
  } catch {
    return undefined
  }
})()

/** kafkajs' `crc32C(buffer)`: the unsigned CRC32C of the buffer (native where it loads). */
export const crc32c: (buf: Uint8Array) => number = process.env.FLEUVE_KAFKAJS_NATIVE_CRC === "0" ? crc32cSliced : crc32cNative ?? crc32cSliced

/** kafkajs' modules replaced, by the path kafkajs requires them under (built once the version matched). */
let REPLACEMENTS: ReadonlyArray<readonly [string, unknown]> = []

const install = (): void => {
  try {
    if ((require("kafkajs/package.json") as { version: string }).version !== PATCHED_VERSION) return
  } catch {
    return
  }
  // Each group goes in whole or not at all; the first two stand alone.
  const groups: ReadonlyArray<ReadonlyArray<readonly [string, unknown]>> = [
    [["kafkajs/src/producer/groupMessagesPerPartition", groupMessagesPerPartition]],
    [["kafkajs/src/protocol/recordBatch/crc32C/crc32C", crc32c]],
    [["kafkajs/src/producer/partitioners/default/index", makeDefaultPartitioner(require("kafkajs/src/producer/partitioners/legacy/randomBytes"))]],
    ...(process.env.FLEUVE_KAFKAJS_LEAN_RECORDS === "0" ? [] : leanRecordModules(crc32c))
  ]
  const Module = require("node:module") as { new(id: string): NodeJS.Module }
  const installed: Array<readonly [string, unknown]> = []
  for (const group of groups) {
    let paths: Array<string>
    try {
      paths = group.map(([id]) => require.resolve(id))
    } catch {
      continue
    }
    // Already loaded (kafkajs captured the original): left alone.
    if (paths.some((path) => require.cache[path])) continue
    group.forEach(([id, replacement], i) => {
      const path = paths[i]!
      const m = new Module(path)
      m.filename = path
      m.loaded = true
      m.exports = replacement
      require.cache[path] = m
      installed.push([id, replacement])
    })
  }
  REPLACEMENTS = installed
}

type Kafkajs = typeof import("kafkajs")
let kafkajs: Kafkajs | undefined
let installed = false
let prefetch = false
let commitsBehind = false

/** kafkajs, with the fix installed first. */
export const loadKafkajs = (): Kafkajs => {
  if (!installed) {
    if (process.env.FLEUVE_KAFKAJS_PATCH !== "0") install()
    installed = true
  }
  if (!kafkajs) {
    kafkajs = require("kafkajs") as Kafkajs
    // The fetch ahead (kafkajs-prefetch.ts) wraps a method of kafkajs' consumer runner: only on the
    // version it was written against, and only for consumers that ask for it.
    if (process.env.FLEUVE_KAFKAJS_PATCH !== "0" && process.env.FLEUVE_KAFKAJS_PREFETCH !== "0" && kafkajsVersion() === PATCHED_VERSION) prefetch = installPrefetch()
    // So do the commits behind the handling (kafkajs-commits.ts).
    if (process.env.FLEUVE_KAFKAJS_PATCH !== "0" && process.env.FLEUVE_KAFKAJS_PIPELINED_COMMITS !== "0" && kafkajsVersion() === PATCHED_VERSION) commitsBehind = installPipelinedCommits()
  }
  return kafkajs
}

const kafkajsVersion = (): string | undefined => {
  try {
    return (require("kafkajs/package.json") as { version: string }).version
  } catch {
    return undefined
  }
}

/** Whether consumers that ask for it fetch ahead (kafkajs-prefetch.ts; off with FLEUVE_KAFKAJS_PREFETCH=0). */
export const kafkajsPrefetch = (): boolean => {
  loadKafkajs()
  return prefetch
}

/** Whether consumers that ask for it commit behind their handling (kafkajs-commits.ts; off with FLEUVE_KAFKAJS_PIPELINED_COMMITS=0). */
export const kafkajsPipelinedCommits = (): boolean => {
  loadKafkajs()
  return commitsBehind
}

/** Whether kafkajs runs with all its replacements (false: another kafkajs version, FLEUVE_KAFKAJS_PATCH=0, or kafkajs loaded some other way first). */
export const kafkajsGroupingPatched = (): boolean => {
  loadKafkajs()
  try {
    return REPLACEMENTS.length > 0 && REPLACEMENTS.every(([id, replacement]) => require(require.resolve(id)) === replacement)
  } catch {
    return false
  }
}

/** Whether kafkajs produces through fleuve's record-batch encoder (kafkajs-record-batch.ts), which writes transport.ts' OutValues. */
export const kafkajsLeanRecords = (): boolean => {
  loadKafkajs()
  try {
    const path = require.resolve("kafkajs/src/protocol/recordBatch/v0")
    return REPLACEMENTS.some(([id, replacement]) => id === "kafkajs/src/protocol/recordBatch/v0" && require(path) === replacement) &&
      REPLACEMENTS.some(([id, replacement]) => id === "kafkajs/src/protocol/requests/produce/v3/request" && require(require.resolve(id)) === replacement)
  } catch {
    return false
  }
}

/**
 * An admin client whose offset requests read the log end (read_uncommitted) instead of the last
 * stable offset: kafkajs' own admin lists offsets read_committed and has no option for it (its
 * cluster takes the isolation level from the client that creates it). Built from kafkajs' admin
 * module over a cluster of `kafka`'s own making, with its brokers, TLS, SASL and retries.
 */
export const uncommittedAdmin = (kafka: InstanceType<Kafkajs["Kafka"]>): import("kafkajs").Admin => {
  const createCluster = Object.getOwnPropertySymbols(kafka).find((s) => s.description === "private:Kafka:createCluster")
  if (!createCluster) throw new Error(`kafkajs ${(require("kafkajs/package.json") as { version: string }).version}: no cluster factory to read log-end offsets with (written against ${PATCHED_VERSION})`)
  const cluster = (kafka as unknown as Record<symbol, (o: object) => unknown>)[createCluster]!({ allowAutoTopicCreation: false, isolationLevel: 0 })
  const createAdmin = require("kafkajs/src/admin") as (o: object) => import("kafkajs").Admin
  const retry = (kafka as unknown as Record<symbol, unknown>)[Object.getOwnPropertySymbols(kafka).find((s) => s.description === "private:Kafka:clusterRetry")!]
  return createAdmin({ logger: kafka.logger(), retry, cluster })
}
