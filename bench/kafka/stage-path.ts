// bench/kafka/stage-path.ts: the CPU of a transactional stage's own path, without a broker: the
// runtime's stage (pipelines/kafka/nodes.ts' startStage: decode → operator → encode, in
// transactions; each round runs a pass-through stage and a mapping stage, printed apart) over a transport whose consumer hands over record batches decoded by kafkajs'
// (patched) fetch decoder from bytes its (patched) producer encoder wrote, and whose transactions
// encode every send into a framed Produce request as kafkajs would, then drop it. A stub schema
// registry answers serde's two questions. What it leaves out: sockets, the broker, kafkajs'
// request queue and its consumer loop.
//
//   node --import tsx bench/kafka/stage-path.ts [records] [rounds]
//   FLEUVE_BENCH_PROFILE=/tmp/stage-path.cpuprofile …   # a CPU profile of the last round
//   FLEUVE_BENCH_PROMOTED=1 …   # the last round: where what survives young-generation collections was allocated
import { nodeFlagsLine } from "./product-flags.ts" // first: re-runs under fleuve's V8 flags
import { Effect, Stream } from "effect"
import { writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { createRequire } from "node:module"
import { Session } from "node:inspector"
import { filter } from "../../operators/operator.ts"
import { rescore } from "./operators.ts"
import { OperatorStats } from "../../operators/stats.ts"
import { type Pipeline, sink, source, stage } from "../../pipelines/runtime/graph.ts"
import { groupMessagesPerPartition, loadKafkajs, murmur2 } from "../../pipelines/kafka/kafkajs-patches.ts"
import { runnerOf, startStage, type KafkaContext } from "../../pipelines/kafka/nodes.ts"
import { makeSerde, recordType } from "../../pipelines/kafka/serde.ts"
import type { InBatch, KafkaTransport, OutMessage } from "../../pipelines/kafka/transport.ts"
import { benchSettings } from "./settings.ts"
import { benchScore } from "./records.ts"

const N = Number(process.argv[2] ?? 100000)
const ROUNDS = Number(process.argv[3] ?? 5)
const PARTITIONS = 3
/** Records a partition's batch holds in one fetch (4 MiB of 200-byte records). */
const FETCH_RECORDS = Math.floor((4 * 1024 * 1024) / 215)

loadKafkajs()
const require = createRequire(import.meta.url)
const Decoder = require("kafkajs/src/protocol/decoder") as new (b: Buffer) => unknown
const Long = require("kafkajs/src/utils/long") as { fromValue(v: unknown): unknown; fromInt(n: number): unknown }
const { RecordBatch } = require("kafkajs/src/protocol/recordBatch/v0") as { RecordBatch: (o: Record<string, unknown>) => Promise<{ buf: Buffer; offset: number }> }
const decodeBatch = require("kafkajs/src/protocol/recordBatch/v0/decoder") as (d: unknown) => Promise<{ records: Array<unknown> }>
const Batch = require("kafkajs/src/consumer/batch") as new (topic: string, fetched: string, data: unknown) => { messages: ReadonlyArray<unknown>; lastOffset(): string }
const produceRequest = require("kafkajs/src/protocol/requests/produce/v3/request") as (o: Record<string, unknown>) => { encode: () => Promise<unknown> }
const frame = require("kafkajs/src/protocol/request") as (o: Record<string, unknown>) => Promise<{ buf: Buffer }>
const partitioner = (require("kafkajs/src/producer/partitioners/default/index") as () => (a: unknown) => number)()

// A registry that knows one schema (id 1, fleuve.Score): what serde.prepare and decode ask.
const registry = createServer((req, res) => {
  res.setHeader("content-type", "application/json")
  if (req.method === "POST") res.end(JSON.stringify({ id: 1, version: 1, subject: "fleuve.Score", schema: "{}" }))
  else res.end(JSON.stringify({ schema: JSON.stringify({ title: "fleuve.Score" }), schemaType: "JSON" }))
})
await new Promise<void>((r) => registry.listen(0, "127.0.0.1", r))
const port = (registry.address() as { port: number }).port
const settings = benchSettings("stage-path", { registryUrl: `http://127.0.0.1:${port}` })
const serde = makeSerde(settings)
const score = recordType("Score")
await Effect.runPromise(serde.prepare([score]))

// The input as fetched: each partition's records in record batches of 1,000 (as a producer sent them).
const keyed: Array<Array<{ key: string; value: Buffer }>> = Array.from({ length: PARTITIONS }, () => [])
for (let i = 0; i < N; i++) {
  const v = benchScore(i)
  keyed[(murmur2(v.itemId) & 0x7fffffff) % PARTITIONS]!.push({ key: v.itemId, value: serde.encode(score, v) })
}
const fetched: Array<Array<Buffer>> = [] // per partition, per fetch: the fetch's bytes
for (const records of keyed) {
  const fetches: Array<Buffer> = []
  for (let f = 0; f < records.length; f += FETCH_RECORDS) {
    const parts: Array<Buffer> = []
    for (let b = f; b < Math.min(records.length, f + FETCH_RECORDS); b += 1000) {
      const slice = records.slice(b, Math.min(b + 1000, f + FETCH_RECORDS, records.length))
      const batch = await RecordBatch({
        firstOffset: Long.fromValue(b),
        firstTimestamp: Date.now(),
        maxTimestamp: Date.now(),
        lastOffsetDelta: slice.length - 1,
        records: slice.map((r, i) => ({ offsetDelta: i, timestampDelta: 0, key: Buffer.from(r.key), value: r.value, headers: {} }))
      })
      parts.push(batch.buf.subarray(0, batch.offset))
    }
    fetches.push(Buffer.concat(parts))
  }
  fetched.push(fetches)
}
// The records as produced are not kept: a live array of 100,000 Buffers would weigh on every major collection.
keyed.length = 0

/** A fetch's batches as kafkajs' consumer makes them: every record batch decoded, then a Batch per partition. */
const batchesOf = async (f: number, topic: string): Promise<Array<InBatch>> => {
  const out: Array<InBatch> = []
  for (let p = 0; p < PARTITIONS; p++) {
    const bytes = fetched[p]![f]
    if (!bytes) continue
    const d = new Decoder(Buffer.from(bytes)) as { offset: number }
    const records: Array<unknown> = []
    while (d.offset < bytes.length) records.push(...(await decodeBatch(d)).records)
    const b = new Batch(topic, String(f * FETCH_RECORDS), { partition: p, highWatermark: "999999999", abortedTransactions: [], messages: records })
    out.push({ topic, partition: p, messages: b.messages as never, nextOffset: String(BigInt(b.lastOffset()) + 1n), lost: () => undefined })
  }
  return out
}

let producedBytes = 0
/** A transaction's send: the messages grouped by partition and written into a framed Produce request, as kafkajs does. */
const encodeSend = async (messages: ReadonlyArray<OutMessage>) => {
  const perPartition = groupMessagesPerPartition({ topic: "out", partitionMetadata: [0, 1, 2].map((p) => ({ partitionId: p, leader: 1 })), messages, partitioner: partitioner as never })
  const request = produceRequest({
    acks: -1,
    timeout: 30000,
    transactionalId: "stage-path",
    producerId: Long.fromInt(7),
    producerEpoch: 0,
    compression: 0,
    topicData: [{ topic: "out", partitions: Object.entries(perPartition).map(([partition, msgs]) => ({ partition: Number(partition), messages: msgs, firstSequence: 0 })) }]
  })
  const framed = await frame({ correlationId: 1, clientId: "stage-path", request: { apiKey: 0, apiVersion: 3, encode: () => request.encode() } })
  producedBytes += framed.buf.length
}

interface SampleNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Array<SampleNode> }
/** The sampled allocations that outlived scavenges, by allocating function (top 25 by bytes). */
const printSurvivors = (profile: { head: SampleNode }) => {
  const by = new Map<string, number>()
  const walk = (n: SampleNode, stack: string) => {
    const here = `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*\//, "")}:${n.callFrame.lineNumber + 1}:${(n.callFrame as { columnNumber?: number }).columnNumber ?? 0}`
    const path = stack === "" ? here : `${here} < ${stack.split(" < ").slice(0, 2).join(" < ")}`
    if (n.selfSize > 0) by.set(path, (by.get(path) ?? 0) + n.selfSize)
    for (const c of n.children) walk(c, here + (stack === "" ? "" : ` < ${stack}`))
  }
  walk(profile.head, "")
  const total = [...by.values()].reduce((a, b) => a + b, 0)
  console.log(`outlived the young generation: ${(total / 1e6).toFixed(1)} MB sampled`)
  for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${(v / 1e6).toFixed(2)} MB  ${k}`)
}

/**
 * The two stages every round runs: one that passes each record on untouched (a filter keeping all:
 * its outputs may go out as their fetched bytes, pipelines/kafka/forward.ts) and one that returns
 * a new record (always encoded). Neither alone is "the stage".
 */
const OPERATORS = {
  "pass-through": filter("identity", () => true),
  mapping: rescore
} as const
type Kind = keyof typeof OPERATORS

const round = async (profile: boolean, kind: Kind) => {
  const tag = `path${Date.now().toString(36)}`
  const input = `eval.scores.${tag}.in`
  const pipeline: Pipeline = {
    name: tag,
    description: "bench",
    nodes: [source("src", input, Stream.empty), stage(input, OPERATORS[kind], `eval.scores.${tag}.out`), sink("drain", `eval.scores.${tag}.out`, () => Effect.void)]
  }
  let handled = 0
  let finished!: () => void
  const done = new Promise<void>((r) => (finished = r))
  const transport = {
    producer: async () => ({
      send: encodeSend,
      sendInTransaction: async (m: ReadonlyArray<OutMessage>) => encodeSend(m),
      transaction: async () => ({ send: encodeSend, sendOffsets: async () => undefined, commit: async () => undefined, abort: async () => undefined }),
      close: async () => undefined
    }),
    consumer: async (o: { onBatch: (b: InBatch) => Promise<void> }) => {
      // One fetch after the other, its partitions' batches handed over together (concurrentBatches).
      void (async () => {
        for (let f = 0; f < Math.max(...fetched.map((x) => x.length)); f++) {
          const batches = await batchesOf(f, input)
          await Promise.all(batches.map((b) => o.onBatch(b)))
          handled += batches.reduce((n, b) => n + b.messages.length, 0)
        }
        finished()
      })()
      return { done, stop: async () => undefined }
    }
  } as unknown as KafkaTransport
  const ctx: KafkaContext = { settings, transport, serde, instanceId: "bench" }
  const profiler = profile ? new Session() : undefined
  const post = (method: string, params?: object) => new Promise<any>((ok, ko) => profiler!.post(method, params ?? {}, (e, r) => (e ? ko(e) : ok(r))))
  if (profiler) {
    profiler.connect()
    await post("Profiler.enable")
    await post("Profiler.start")
  }
  // Heap sampling that keeps what major collections free but drops what scavenges free: the
  // samples left are the allocations that outlived the young generation (promoted or still alive).
  const promoted = profile && process.env.FLEUVE_BENCH_PROMOTED !== undefined ? new Session() : undefined
  const postH = (method: string, params?: object) => new Promise<any>((ok, ko) => promoted!.post(method, params ?? {}, (e, r) => (e ? ko(e) : ok(r))))
  if (promoted) {
    promoted.connect()
    await postH("HeapProfiler.enable")
    await postH("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false })
  }
  producedBytes = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await startStage(ctx, pipeline, pipeline.nodes[1] as never, new OperatorStats(kind), runnerOf(await Effect.runPromise(Effect.context<never>())))
  await done
  const wall = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  if (promoted) printSurvivors((await postH("HeapProfiler.stopSampling")).profile)
  if (profiler) writeFileSync(process.env.FLEUVE_BENCH_PROFILE!, JSON.stringify((await post("Profiler.stop")).profile))
  console.log(`${kind.padEnd(12)} ${handled} records in ${wall.toFixed(0)} ms, CPU ${((cpu.user + cpu.system) / handled).toFixed(2)} µs a record, ${(producedBytes / 1e6).toFixed(1)} MB of Produce requests; ${nodeFlagsLine}`)
}

// FLEUVE_BENCH_KIND=pass-through or mapping runs one kind only (a profile is of the last round's last kind).
const kinds = (process.env.FLEUVE_BENCH_KIND ? [process.env.FLEUVE_BENCH_KIND] : Object.keys(OPERATORS)) as ReadonlyArray<Kind>
for (let r = 0; r < ROUNDS; r++) {
  for (const [i, kind] of kinds.entries()) await round(r === ROUNDS - 1 && i === kinds.length - 1 && process.env.FLEUVE_BENCH_PROFILE !== undefined, kind)
}
registry.close()
process.exit(0)
