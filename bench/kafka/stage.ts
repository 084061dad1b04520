// bench/kafka/stage.ts: where a transactional stage's time goes, and its CPU time, which a loaded
// machine disturbs far less than its wall time.
//
//   scripts/services/kafka.sh start && node --import tsx bench/kafka/stage.ts [kafkajs|rdkafka] [records]
//   FLEUVE_KAFKAJS_PATCH=0 node --import tsx bench/kafka/stage.ts kafkajs   # kafkajs as shipped (no fixes)
//   FLEUVE_BENCH_PROFILE=/tmp/stage.cpuprofile …                           # a CPU profile of the stage's span
//   FLEUVE_BENCH_TIMELINE=1 …                                               # every batch, send and commit, in ms from the start
//
// Produces RECORDS Score records (~200 bytes) to a fresh 3-partition topic, then runs one stage
// (decode → identity operator → encode, one transaction per fetched batch, as the runtime's stages
// run) until it has handled them all; prints the stage's wall time from its start, the time in
// onBatch and in its transactions (from their opening to their commit: a stage sends a fetch's
// first outputs while it still handles the rest), and the process's CPU time (user + system, librdkafka's threads
// included) over the same span. Set FLEUVE_KAFKA_PORT / FLEUVE_REGISTRY_PORT for another broker.
import { nodeFlagsLine } from "./product-flags.ts" // first: re-runs under fleuve's V8 flags
import { benchSettings } from "./settings.ts"
import { Effect, Stream } from "effect"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { performance } from "node:perf_hooks"
import { map } from "../../operators/operator.ts"
import { OperatorStats } from "../../operators/stats.ts"
import { type Pipeline, sink, source, stage } from "../../pipelines/runtime/graph.ts"
import { kafkajsGroupingPatched } from "../../pipelines/kafka/kafkajs-patches.ts"
import { transportOf } from "../../pipelines/kafka/transports.ts"
import { prepareCluster, runnerOf, startStage, type KafkaContext } from "../../pipelines/kafka/nodes.ts"
import { makeSerde, recordType } from "../../pipelines/kafka/serde.ts"
import { type KafkaClient, type KafkaSettings } from "../../pipelines/kafka/settings.ts"
import type { KafkaTransport } from "../../pipelines/kafka/transport.ts"
import type { Score } from "../../schemas/evaluation.ts"
import { benchScore } from "./records.ts"

const client = (process.argv[2] ?? "kafkajs") as KafkaClient
const N = Number(process.argv[3] ?? 100000)
const settings: KafkaSettings = benchSettings("fleuve-bench-stage", { client })
const base = transportOf(settings)
const t = { tx: 0, txCpu: 0, txN: 0, batch: 0, batchN: 0, records: 0 }
// FLEUVE_BENCH_TIMELINE=1: every batch's handling, every send and every commit, in ms from the
// stage's start, printed after the run (what overlaps, and where the stage waits for the broker).
const timeline: Array<readonly [number, string]> | undefined = process.env.FLEUVE_BENCH_TIMELINE === "1" ? [] : undefined
let tStart = 0
const mark = (what: string) => timeline?.push([performance.now() - tStart, what])
// The same transport, its transactions and batches timed.
const transport: KafkaTransport = {
  ...base,
  producer: async (o) => {
    const p = await base.producer(o)
    return {
      ...p,
      // A stage's transaction from its opening (its first outputs, sent while the fetch is still handled) to its commit.
      transaction: async () => {
        const a = performance.now()
        const c = process.cpuUsage()
        const tx = await p.transaction()
        mark("transaction opened")
        return {
          ...tx,
          send: async (m) => {
            mark(`send ${m.length} records`)
            await tx.send(m)
            mark(`sent ${m.length} records`)
          },
          sendOffsets: async (g, off) => {
            mark("positions into the transaction")
            await tx.sendOffsets(g, off)
            mark("positions in")
          },
          commit: async () => {
            mark("commit")
            await tx.commit()
            mark("committed")
            t.tx += performance.now() - a
            const used = process.cpuUsage(c)
            t.txCpu += (used.user + used.system) / 1000
            t.txN++
          }
        }
      },
      sendInTransaction: async (m, g, off) => {
        const a = performance.now()
        const c = process.cpuUsage()
        await p.sendInTransaction(m, g, off)
        t.tx += performance.now() - a
        const used = process.cpuUsage(c)
        t.txCpu += (used.user + used.system) / 1000
        t.txN++
      }
    }
  },
  consumer: (o) =>
    base.consumer({
      ...o,
      onAssigned: (a) => {
        mark("partitions assigned")
        o.onAssigned?.(a)
      },
      onBatch: async (b) => {
        const a = performance.now()
        mark(`batch ${b.topic.endsWith(".in") ? "" : b.topic}[${b.partition}] ${b.messages.length} records from ${b.messages[0]?.offset}`)
        await o.onBatch(b)
        mark(`batch [${b.partition}] done`)
        t.batch += performance.now() - a
        t.batchN++
        t.records += b.messages.length
      }
    })
}
const serde = makeSerde(settings)
const ctx: KafkaContext = { settings, transport, serde, instanceId: "bench" }
const tag = `stage${Date.now().toString(36)}${client}`
const input = `eval.scores.${tag}.in`
const pipeline: Pipeline = {
  name: tag,
  description: "bench",
  nodes: [source("src", input, Stream.empty), stage(input, map("identity", (s: Score) => s), `eval.scores.${tag}.out`), sink("drain", `eval.scores.${tag}.out`, () => Effect.void)]
}
await Effect.runPromise(prepareCluster(ctx, pipeline))
const score = recordType("Score")
const producer = await base.producer({})
for (let i = 0; i < N; i += 1000) {
  await producer.send(Array.from({ length: Math.min(1000, N - i) }, (_, j) => {
    const v = benchScore(i + j)
    return { topic: input, key: v.itemId, value: serde.encode(score, v) }
  }))
}
await producer.close()

const stats = new OperatorStats("identity")
const run = runnerOf(await Effect.runPromise(Effect.context<never>()))
// FLEUVE_BENCH_PROFILE=file.cpuprofile: a CPU profile of the stage's span only (not the setup).
const profiler = process.env.FLEUVE_BENCH_PROFILE ? new Session() : undefined
const post = (method: string, params?: object) => new Promise<any>((ok, ko) => profiler!.post(method, params ?? {}, (e, r) => (e ? ko(e) : ok(r))))
if (profiler) {
  profiler.connect()
  await post("Profiler.enable")
  await post("Profiler.start")
}
const cpu0 = process.cpuUsage()
// How busy the event loop's thread was over the span (1: never idle, so CPU on it is the bound;
// lower: it waited, for the broker or a send in flight).
const elu0 = performance.eventLoopUtilization()
const t0 = performance.now()
tStart = t0
const running = await startStage(ctx, pipeline, pipeline.nodes[1] as never, stats, run)
// A stage whose consumer crashed (a failed transaction, a decoding bug) handles nothing more: the
// bench fails at once with the cause instead of waiting out its deadline.
let crashed: { readonly cause: unknown } | undefined
running.consumer.done.then(
  () => (crashed ??= { cause: new Error("the stage's consumer stopped") }),
  (cause: unknown) => (crashed = { cause })
)
const deadline = Date.now() + 300000
while (t.records < N) {
  if (crashed) throw new Error(`the stage's consumer crashed after ${t.records} of ${N} records: ${crashed.cause instanceof Error ? crashed.cause.message : String(crashed.cause)}`, { cause: crashed.cause })
  if (Date.now() > deadline) throw new Error(`the stage handled ${t.records} of ${N} records in 300 s`)
  await new Promise((r) => setTimeout(r, 10))
}
const wall = (performance.now() - t0) / 1000
const cpu = process.cpuUsage(cpu0)
const busy = performance.eventLoopUtilization(elu0).utilization
if (profiler) writeFileSync(process.env.FLEUVE_BENCH_PROFILE!, JSON.stringify((await post("Profiler.stop")).profile))
const grouping = client === "kafkajs" ? (kafkajsGroupingPatched() ? " with fleuve's replacements" : " as shipped") : ""
console.log(
  `${client}${grouping}: ${N} records in ${wall.toFixed(2)} s from the stage's start (${Math.round(N / wall)} records/s); ${t.batchN} batches of ${Math.round(t.records / t.batchN)} records, ` +
    `${t.txN} transactions; onBatch ${(t.batch / 1000).toFixed(2)} s, of which in transactions ${(t.tx / 1000).toFixed(2)} s (CPU ${(t.txCpu / 1000).toFixed(2)} s); CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (${((cpu.user + cpu.system) / N).toFixed(1)} µs/record); event loop busy ${(busy * 100).toFixed(0)}% of the span; ${nodeFlagsLine}`
)
if (timeline) for (const [at, what] of timeline) console.log(`${at.toFixed(1).padStart(8)} ms  ${what}`)
await running.close()
await base.close()
process.exit(0)
