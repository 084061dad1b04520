// bench/kafka/consume-cpu.ts: a client's own cost of consuming: process CPU time (user + system,
// librdkafka's threads included) per record read from a topic, without fleuve's decoding or, with
// `decode`, with it (serde.decodeMessages per fetched batch, as bench/kafka/run.ts's consumer).
//
//   node --import tsx bench/kafka/consume-cpu.ts [kafkajs|rdkafka] [topic] [decode]
//   FLEUVE_BENCH_PROFILE=/tmp/consume.cpuprofile …     # a CPU profile of the consuming span
//
// Reads the topic whole (default: the newest bench/kafka/run.ts input topic) with a fresh group;
// prints records/s from the group's assignment and CPU µs per record. Set FLEUVE_KAFKA_PORT for
// another broker.
import { nodeFlagsLine } from "./product-flags.ts" // first: re-runs under fleuve's V8 flags
import { Effect } from "effect"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { benchSettings } from "./settings.ts"
import { makeSerde, recordType } from "../../pipelines/kafka/serde.ts"
import { type KafkaClient, type KafkaSettings } from "../../pipelines/kafka/settings.ts"
import { transportOf } from "../../pipelines/kafka/transports.ts"

const client = (process.argv[2] ?? "kafkajs") as KafkaClient
const settings: KafkaSettings = benchSettings("fleuve-bench-consume", { client })
const transport = transportOf(settings)
const topic = process.argv[3] && process.argv[3] !== "-" ? process.argv[3] : (await transport.listTopics()).filter((x) => x.startsWith("eval.scores.bench") && x.endsWith(".in")).sort().at(-1)
if (!topic) throw new Error("no topic: run bench/kafka/run.ts first, or name one")
const decode = process.argv[4] === "decode"
const serde = makeSerde(settings)
const score = recordType("Score")
if (decode) await Effect.runPromise(serde.prepare([score]))
const total = (await transport.topicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
const profiler = process.env.FLEUVE_BENCH_PROFILE ? new Session() : undefined
const post = (method: string, params?: object) => new Promise<any>((ok, ko) => profiler!.post(method, params ?? {}, (e, r) => (e ? ko(e) : ok(r))))
if (profiler) {
  profiler.connect()
  await post("Profiler.enable")
  await post("Profiler.start")
}
let n = 0
let ok = 0
let assignedAt = 0
let t1 = 0
const cpu0 = process.cpuUsage()
await new Promise<void>((resolve) => {
  void transport.consumer({
    groupId: `bench-consume-cpu-${Date.now()}`,
    topics: [topic],
    fromBeginning: true,
    onAssigned: () => void (assignedAt ||= performance.now()),
    onBatch: async (b) => {
      n += b.messages.length
      if (decode) for (const d of await serde.decodeMessages(score, b.messages)) if (d._tag === "Ok") ok++
      // A transactional topic's markers take offsets too: 98% of its offsets are records.
      if (n >= total * 0.98 && t1 === 0) {
        t1 = performance.now()
        resolve()
      }
    }
  })
})
const cpu = process.cpuUsage(cpu0)
if (profiler) writeFileSync(process.env.FLEUVE_BENCH_PROFILE!, JSON.stringify((await post("Profiler.stop")).profile))
console.log(`${client}${decode ? ` with decoding (${ok} valid)` : ""}: ${n} records of ${topic} in ${((t1 - assignedAt) / 1000).toFixed(2)} s from assignment (${Math.round(n / ((t1 - assignedAt) / 1000))} records/s); CPU ${((cpu.user + cpu.system) / n).toFixed(2)} µs/record; ${nodeFlagsLine}`)
await transport.close()
process.exit(0)
