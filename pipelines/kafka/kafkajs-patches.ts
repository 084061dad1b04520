import { createRequire } from "node:module"

/**
 * One fix to kafkajs 2.2.4's internals, installed before kafkajs loads: kafkajs-transport.ts gets
 * kafkajs from `loadKafkajs()`, a runtime require after the fix is in place. (Not a static import
 * after this module's: bin/compiled-cli.mjs bundles our sources with packages external, and an
 * ESM bundle's imports of packages are evaluated before any of the bundle's own code.) kafkajs groups a produce request's messages per partition with
 * `Object.assign(result, { [partition]: [...current, message] })`: a copy of the partition's array
 * for every message, quadratic in the request's size. A transactional stage produces a whole
 * fetched batch (~4,000 records) in one request: profiled on bench/kafka's stage, that grouping and
 * the garbage it leaves were about half of the stage's CPU time. This replacement returns the same
 * object (partitions as keys, each partition's messages in their order) in one pass.
 *
 * Only applied to the kafkajs version it was written against; elsewhere kafkajs runs unchanged.
 * FLEUVE_KAFKAJS_PATCH=0 leaves kafkajs as shipped (bench/kafka/stage.ts measures both).
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

const install = (): boolean => {
  let version: string
  let path: string
  try {
    version = (require("kafkajs/package.json") as { version: string }).version
    path = require.resolve("kafkajs/src/producer/groupMessagesPerPartition")
  } catch {
    return false
  }
  if (version !== PATCHED_VERSION) return false
  const cached = require.cache[path]
  // kafkajs already loaded (its producer captured the original): nothing to do safely.
  if (cached) return cached.exports === groupMessagesPerPartition
  const Module = require("node:module") as { new(id: string): NodeJS.Module }
  const m = new Module(path)
  m.filename = path
  m.loaded = true
  m.exports = groupMessagesPerPartition
  require.cache[path] = m
  return true
}

type Kafkajs = typeof import("kafkajs")
let kafkajs: Kafkajs | undefined
let installed = false

/** kafkajs, with the fix installed first. */
export const loadKafkajs = (): Kafkajs => {
  if (!installed) {
    if (process.env.FLEUVE_KAFKAJS_PATCH !== "0") install()
    installed = true
  }
  return (kafkajs ??= require("kafkajs") as Kafkajs)
}

/** Whether kafkajs' producer groups through the linear replacement (false: another kafkajs version, or kafkajs loaded some other way first). */
export const kafkajsGroupingPatched = (): boolean => {
  loadKafkajs()
  try {
    return require(require.resolve("kafkajs/src/producer/groupMessagesPerPartition")) === groupMessagesPerPartition
  } catch {
    return false
  }
}
