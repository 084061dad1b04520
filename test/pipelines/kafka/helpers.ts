import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { createWriteStream } from "node:fs"
import { join, resolve } from "node:path"
import { groupLag, totalLag } from "../../../pipelines/kafka/lag.ts"
import { murmur2 } from "../../../pipelines/kafka/kafkajs-patches.ts"
import { kafkajsTransport } from "../../../pipelines/kafka/kafkajs-transport.ts"
import type { KafkaTransport } from "../../../pipelines/kafka/transport.ts"
import type { KafkaSettings } from "../../../pipelines/kafka/settings.ts"
import { DEFAULT_BROKERS, DEFAULT_REGISTRY } from "../../../pipelines/kafka/settings.ts"
import { repoRoot } from "../../helpers/paths.ts"
import { Effect } from "effect"
import { after } from "node:test"
import { runnerOf, type KafkaContext } from "../../../pipelines/kafka/nodes.ts"
import { makeSerde, recordType } from "../../../pipelines/kafka/serde.ts"
import { transportOf } from "../../../pipelines/kafka/transports.ts"

export const root = repoRoot

// scripts/services/kafka.sh starts the services on FLEUVE_KAFKA_PORT and FLEUVE_REGISTRY_PORT
// (so several checkouts can each run their own): point this process and its workers at them.
if (!process.env.FLEUVE_KAFKA_BROKERS && process.env.FLEUVE_KAFKA_PORT) process.env.FLEUVE_KAFKA_BROKERS = `127.0.0.1:${process.env.FLEUVE_KAFKA_PORT}`
if (!process.env.FLEUVE_SCHEMA_REGISTRY_URL && process.env.FLEUVE_REGISTRY_PORT) {
  process.env.FLEUVE_SCHEMA_REGISTRY_URL = `http://127.0.0.1:${process.env.FLEUVE_REGISTRY_PORT}/apis/ccompat/v7`
}

export const testSettings = (over: Partial<KafkaSettings> = {}): KafkaSettings => ({
  brokers: [process.env.FLEUVE_KAFKA_BROKERS ?? DEFAULT_BROKERS],
  clientId: "fleuve-test",
  ssl: false,
  registryUrl: process.env.FLEUVE_SCHEMA_REGISTRY_URL ?? DEFAULT_REGISTRY,
  partitions: 3,
  replicationFactor: 1,
  maxRecordBytes: 64 * 1024,
  // FLEUVE_KAFKA_CLIENT=rdkafka runs the same tests on the librdkafka transport (workers read it too).
  client: process.env.FLEUVE_KAFKA_CLIENT === "rdkafka" ? "rdkafka" : "kafkajs",
  ...over
})

export const uniqueTag = () => `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`

/**
 * A fresh 3-partition topic with `perPartition` ~500-byte records in each partition (value
 * `<partition>:<index>:<pad>`), sent 25 a partition at a time: record batches of ~13 KiB, so that a
 * 16 KiB fetch returns one or two and a partition takes many fetches (the fetch-ahead and commit tests).
 */
export const topicOfSmallBatches = async (transport: KafkaTransport, prefix: string, perPartition: number): Promise<string> => {
  const topic = `${prefix}.${uniqueTag()}`
  await transport.createTopics([{ topic, partitions: 3, replicationFactor: 1 }])
  const producer = await transport.producer({})
  const pad = "x".repeat(480)
  // One key per partition (the default partitioner's murmur2), so each partition gets perPartition records.
  const keys = [0, 1, 2].map((p) => {
    for (let k = 0; ; k++) if ((murmur2(`k${k}`) & 0x7fffffff) % 3 === p) return `k${k}`
  })
  for (let i = 0; i < perPartition; i += 25) {
    await producer.send([0, 1, 2].flatMap((p) => Array.from({ length: 25 }, (_, j) => ({ topic, key: keys[p]!, value: Buffer.from(`${p}:${i + j}:${pad}`) }))))
  }
  await producer.close()
  return topic
}

/**
 * The offsets a new member of `group` is handed, per partition in the order handed over, until it
 * has `expected` records (or 60 s passed): where a group's committed positions really send it.
 */
export const offsetsHandedToNewMember = async (transport: KafkaTransport, group: string, topic: string, expected: number): Promise<Map<number, Array<number>>> => {
  const seen = new Map<number, Array<number>>([[0, []], [1, []], [2, []]])
  let n = 0
  let resolveDone!: () => void
  const done = new Promise<void>((r) => (resolveDone = r))
  const member = await transport.consumer({
    groupId: group,
    topics: [topic],
    fromBeginning: true,
    maxBytesPerPartition: 16 * 1024,
    onBatch: async (b) => {
      for (const m of b.messages) seen.get(b.partition)!.push(Number(m.offset))
      n += b.messages.length
      if (n >= expected) resolveDone()
    }
  })
  await within(done, 60_000, () => undefined)
  await member.stop()
  return seen
}

/** A worker as a real child process, its stderr kept in a log file for failures. */
export const startWorker = (dir: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): ChildProcess => {
  const child = spawn(process.execPath, ["--import", "tsx", join(root, "test/pipelines/kafka/worker.ts"), ...args], {
    cwd: root,
    // A short session: a killed worker's partitions move to the others (or its restart) quickly.
    env: { ...process.env, FLEUVE_KAFKA_MAX_RECORD_BYTES: String(64 * 1024), FLEUVE_KAFKA_SESSION_TIMEOUT_MS: "4000", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  // both streams: Effect's runMain reports a worker's last failure on stdout. Neither ends the
  // file (the first to end would cut the other's last lines); the child's 'close' does.
  const log = createWriteStream(join(dir, `${args[2]}-${args[3]}-${child.pid}.log`))
  child.stdout!.pipe(log, { end: false })
  child.stderr!.pipe(log, { end: false })
  logged.set(child, new Promise<void>((resolve) => {
    log.once("finish", () => resolve())
    child.once("close", () => log.end())
  }))
  return child
}

const logged = new WeakMap<ChildProcess, Promise<void>>()

/**
 * Resolves once a worker has exited *and* its log file holds everything it wrote: its 'exit'
 * event may come before the last lines of its output reached the file.
 */
export const exited = async (child: ChildProcess) => {
  if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once("exit", r))
  await logged.get(child)
}

export const stopWorker = (child: ChildProcess, signal: NodeJS.Signals = "SIGTERM") =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill(signal)
    if (signal !== "SIGKILL") setTimeout(() => child.kill("SIGKILL"), 15000).unref()
  })

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * `work`'s result, or `late()`'s once `ms` passed, whichever comes first. The timer is cleared
 * either way: a plain race with `sleep` kept each test file's process alive for the whole
 * deadline after its tests had ended (90 s for corpus-run-jobs, 60 s for the commit tests).
 */
export const within = async <T, U>(work: Promise<T>, ms: number, late: () => U): Promise<T | U> => {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([work, new Promise<U>((resolve) => (timer = setTimeout(() => resolve(late()), ms)))])
  } finally {
    clearTimeout(timer)
  }
}

/** Waits until every group has handled everything in its topics (seen three times in a row). */
export const waitCaughtUp = async (settings: KafkaSettings, groups: ReadonlyArray<readonly [string, ReadonlyArray<string>]>, timeoutMs: number) => {
  const transport = kafkajsTransport(settings)
  const deadline = Date.now() + timeoutMs
  try {
    let zeroes = 0
    let last = ""
    while (zeroes < 3) {
      if (Date.now() > deadline) throw new Error(`not caught up after ${timeoutMs / 1000}s: ${last}`)
      try {
        const lags = await Promise.all(groups.map(async ([g, topics]) => [g, totalLag(await groupLag(transport, g, topics))] as const))
        last = lags.map(([g, l]) => `${g}=${l}`).join(" ")
        zeroes = lags.every(([, l]) => l === 0n) ? zeroes + 1 : 0
      } catch (e) {
        zeroes = 0
        last = String(e)
      }
      await sleep(500)
    }
  } finally {
    await transport.close()
  }
}

export const kafkaScript = (command: string) => {
  const r = spawnSync("bash", [join(root, "scripts/services/kafka.sh"), command], { encoding: "utf8" })
  if (r.status !== 0) throw new Error(`kafka.sh ${command} failed: ${r.stderr}`)
}

/** Counts the committed records of a topic (read_committed), reading it whole with a fresh group. */
export const countCommitted = async (settings: KafkaSettings, topic: string, expectAtLeast: number, timeoutMs = 30000) => {
  const transport = kafkajsTransport(settings)
  let n = 0
  const headers: Array<Record<string, string>> = []
  const consumer = await transport.consumer({
    groupId: `count-${uniqueTag()}`,
    topics: [topic],
    fromBeginning: true,
    onBatch: async (b) => {
      n += b.messages.length
      for (const m of b.messages) headers.push(m.headers)
    }
  })
  const deadline = Date.now() + timeoutMs
  let stable = 0
  let prev = -1
  while (Date.now() < deadline && stable < 4) {
    await sleep(500)
    stable = n >= expectAtLeast && n === prev ? stable + 1 : 0
    prev = n
  }
  await consumer.stop()
  await transport.close()
  return { count: n, headers }
}

/**
 * What a test file of stages on the broker shares: settings, a transport (closed after the file's
 * tests, then the process let go of the client's timers), the serde, the Score record type, the
 * stages' context and a runner.
 */
export const stageTestContext = async (instanceId: string) => {
  const settings = testSettings()
  const transport = transportOf(settings)
  const serde = makeSerde(settings)
  const ctx: KafkaContext = { settings, transport, serde, instanceId }
  const run = runnerOf(await Effect.runPromise(Effect.context<never>()))
  after(async () => {
    await transport.close()
    setTimeout(() => process.exit(), 3000).unref()
  })
  return { settings, transport, serde, score: recordType("Score"), ctx, run }
}

/** Waits until `count()` reached `expected` and stayed the same over four checks 500 ms apart (or a minute passed): nothing more is coming. */
export const untilSettled = async (count: () => number, expected: number, timeoutMs = 60000) => {
  const deadline = Date.now() + timeoutMs
  let stable = 0
  let prev = -1
  while (Date.now() < deadline && stable < 4) {
    await sleep(500)
    const n = count()
    stable = n >= expected && n === prev ? stable + 1 : 0
    prev = n
  }
}
