// bench/kafka/consume-cpu.ts: a client's own cost of consuming, without fleuve's decoding: process
// CPU time (user + system, librdkafka's threads included) per record read from a topic.
//
//   node --import tsx bench/kafka/consume-cpu.ts [kafkajs|rdkafka] [topic]
//
// Reads the topic whole (default: the newest bench/kafka/run.ts input topic) with a fresh group;
// prints records/s from the group's assignment and CPU µs per record. Set FLEUVE_KAFKA_PORT for
// another broker.
import { benchSettings } from "./settings.ts"
import { type KafkaClient, type KafkaSettings } from "../../pipelines/kafka/settings.ts"
import { transportOf } from "../../pipelines/kafka/transports.ts"

const client = (process.argv[2] ?? "kafkajs") as KafkaClient
const settings: KafkaSettings = benchSettings("fleuve-bench-consume", { client })
const transport = transportOf(settings)
const topic = process.argv[3] ?? (await transport.listTopics()).filter((x) => x.startsWith("eval.scores.bench") && x.endsWith(".in")).sort().at(-1)
if (!topic) throw new Error("no topic: run bench/kafka/run.ts first, or name one")
const total = (await transport.topicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
let n = 0
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
      // A transactional topic's markers take offsets too: 98% of its offsets are records.
      if (n >= total * 0.98 && t1 === 0) {
        t1 = performance.now()
        resolve()
      }
    }
  })
})
const cpu = process.cpuUsage(cpu0)
console.log(`${client}: ${n} records of ${topic} in ${((t1 - assignedAt) / 1000).toFixed(2)} s from assignment (${Math.round(n / ((t1 - assignedAt) / 1000))} records/s); CPU ${((cpu.user + cpu.system) / n).toFixed(2)} µs/record`)
await transport.close()
process.exit(0)
