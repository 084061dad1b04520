// bench/kafka: fleuve's producer, consumer and an end-to-end stage against Kafka's own perf tools,
// on the same broker, the same 3-partition topics and the same message size, in one run.
//
//   scripts/services/kafka.sh start && node --import tsx bench/kafka/run.ts [records] [bytes] [rounds] [clients]
//
// records: 1,000,000 by default. Kafka's tools run in a fresh JVM each time, so on a short run they
// are timed mostly before the JIT has warmed up, while fleuve's clients, in this one process, are
// warm from the second round on: at 200,000 records ConsumerPerformance read 0.3-0.8 M records/s,
// at 1,000,000 1.6-1.8 M (session 14, BENCHMARKS.md), and fleuve's consumer went from "0.83-1.21x"
// to 0.31-0.32x of it. Ratios to the Java tools are read from runs this long or longer.
//
// clients: comma-separated, kafkajs and/or rdkafka (default: both where rdkafka is built by
// scripts/setup/55-rdkafka.sh, else kafkajs). Every client runs in every round, against the same
// Java run.
//
// Each round runs on fresh topics: Kafka's tools and fleuve take turns (odd rounds fleuve first,
// even rounds Java first), so a load that drifts during the run hits both sides alike. Prints
// every round's rates and ratios, and the median ratio over the rounds.
//
// fleuve: Confluent wire format with registry serde (JSON, schema id), kafkajs 2.2.4, acks=all,
// idempotent producer, batches of BATCH records per produce request; consumer read_committed,
// each fetched batch decoded and validated with serde.decodeMessages (the compiled fast path of
// pipelines/kafka/compiled-validator.ts, the Effect Schema for whatever it does not accept).
// Set FLEUVE_KAFKA_PORT / FLEUVE_REGISTRY_PORT to reach a broker started on other ports.
// Java: org.apache.kafka.tools.ProducerPerformance / ConsumerPerformance from the broker's jars.
import { nodeFlagsLine } from "./product-flags.ts" // first: re-runs under fleuve's V8 flags
import { benchSettings } from "./settings.ts"
import { Effect, Stream } from "effect"
import { spawnSync } from "node:child_process"
import { loadavg } from "node:os"
import { join, resolve } from "node:path"
import { filter } from "../../operators/operator.ts"
import { rescore } from "./operators.ts"
import { OperatorStats } from "../../operators/stats.ts"
import { type Pipeline, sink, source, stage } from "../../pipelines/runtime/graph.ts"
import { rdkafkaAvailable } from "../../pipelines/kafka/rdkafka-module.ts"
import { transportOf } from "../../pipelines/kafka/transports.ts"
import { prepareCluster, runnerOf, startSink, startStage, type KafkaContext } from "../../pipelines/kafka/nodes.ts"
import { makeSerde, recordType } from "../../pipelines/kafka/serde.ts"
import { groupLag, totalLag } from "../../pipelines/kafka/lag.ts"
import { KAFKA_CLIENTS, type KafkaClient, type KafkaSettings } from "../../pipelines/kafka/settings.ts"
import type { InMessage } from "../../pipelines/kafka/transport.ts"
import type { Score } from "../../schemas/evaluation.ts"
import { benchScore } from "./records.ts"

const root = resolve(import.meta.dirname, "../..")
const N = Number(process.argv[2] ?? 1000000)
const SIZE = Number(process.argv[3] ?? 200)
const ROUNDS = Number(process.argv[4] ?? 1)
const CLIENTS = (process.argv[5] ?? (rdkafkaAvailable() ? "kafkajs,rdkafka" : "kafkajs")).split(",").map((c) => {
  if (!(KAFKA_CLIENTS as ReadonlyArray<string>).includes(c)) throw new Error(`unknown client ${c}: ${KAFKA_CLIENTS.join(", ")}`)
  return c as KafkaClient
})
const BATCH = 1000
const baseSettings: KafkaSettings = benchSettings("fleuve-bench")
const cp = join(root, ".cache/kafka/libs/*")
const bootstrap = baseSettings.brokers[0]!

/** A Score padded (in `judge`) so its encoded record is SIZE bytes, like the Java tools' records. */
const scoreOf = (i: number, frameBytes: number): Score => {
  const base = benchScore(i, "")
  const pad = SIZE - frameBytes - Buffer.byteLength(JSON.stringify(base))
  return { ...base, judge: "x".repeat(Math.max(0, pad)) }
}

const java = (cls: string, args: ReadonlyArray<string>) => {
  const r = spawnSync("java", ["-Xmx512m", "-cp", cp, "-Dlog4j2.configurationFile=" + join(root, ".services/kafka/log4j2.yaml"), cls, ...args], { encoding: "utf8" })
  if (r.status !== 0) throw new Error(`${cls} failed: ${r.stderr}`)
  return r.stdout
}

interface Fleuve {
  readonly produce: number
  readonly consume: number
  /** the same topic read with no decoding (fetches and record batches only), from assignment */
  readonly consumeRaw: number
  readonly consumeWithJoin: number
  readonly stage: number
  /** The same run's stage, until its own group had committed every record (the sink still running beside it). */
  readonly stageAlone: number
  /**
   * The stage run once more before that, on the same input with a group, transactional id and
   * output topic of its own and no sink in this process, until its group had committed every record.
   */
  readonly stageNoSink: number
  /** The same, with a mapping operator (a new record each: every output encoded) instead of the pass-through one. */
  readonly mappingNoSink: number
}

interface Round {
  readonly fleuve: Partial<Record<KafkaClient, Fleuve>>
  readonly javaProduce: number
  readonly javaConsume: number
  readonly encodedSize: number
}

const round = async (index: number): Promise<Round> => {
  const javaFirst = index % 2 === 0
  let java: { jpRate: number; jcRate: number; encodedSize: number } | undefined
  const fleuve: Partial<Record<KafkaClient, Fleuve>> = {}
  if (javaFirst) java = await javaRound(index)
  for (const client of CLIENTS) fleuve[client] = await fleuveRound(index, client)
  if (!javaFirst) java = await javaRound(index)
  return { fleuve, javaProduce: Math.round(java!.jpRate), javaConsume: Math.round(java!.jcRate), encodedSize: java!.encodedSize }
}

// Kafka's own tools, same broker, same record size, 3 partitions, acks=all, idempotent.
const javaRound = async (index: number) => {
  const tag = `bench${Date.now().toString(36)}r${index}`
  const settings = baseSettings
  const transport = transportOf(settings)
  const serde = makeSerde(settings)
  const topicJava = `eval.scores.${tag}.java`
  await transport.createTopics([{ topic: topicJava, partitions: 3, replicationFactor: 1 }])
  await Effect.runPromise(serde.prepare([recordType("Score")]))
  const encodedSize = serde.encode(recordType("Score"), scoreOf(0, 5)).length
  await transport.close()
  const jp = java("org.apache.kafka.tools.ProducerPerformance", [
    "--topic", topicJava, "--num-records", String(N), "--record-size", String(encodedSize), "--throughput", "-1",
    "--producer-props", `bootstrap.servers=${bootstrap}`, "acks=all", "enable.idempotence=true", "linger.ms=5", "batch.size=16384"
  ])
  const jpRate = Number(/([\d.]+) records\/sec/.exec(jp.trim().split("\n").pop()!)?.[1])
  const jc = java("org.apache.kafka.tools.ConsumerPerformance", [
    "--bootstrap-server", bootstrap, "--topic", topicJava, "--messages", String(N), "--group", `bench-java-${tag}`,
    "--consumer.config", "/dev/null", "--hide-header"
  ])
  // CSV: start, end, MB consumed, MB/s, records consumed, records/s, rebalance ms, fetch ms, fetch MB/s, fetch records/s
  const cols = jc.trim().split("\n").pop()!.split(",").map((c) => c.trim())
  return { jpRate, jcRate: Number(cols[9] ?? cols[5]), encodedSize }
}

const fleuveRound = async (index: number, client: KafkaClient): Promise<Fleuve> => {
  const tag = `bench${Date.now().toString(36)}r${index}${client}`
  const settings: KafkaSettings = { ...baseSettings, client }
  const transport = transportOf(settings)
  const serde = makeSerde(settings)
  const ctx: KafkaContext = { settings, transport, serde, instanceId: "bench" }
  const score = recordType("Score")
  const topicIn = `eval.scores.${tag}.in`
  const topicOut = `eval.scores.${tag}.out`
  const pipeline: Pipeline = {
    name: `bench-${tag}`,
    description: "bench",
    nodes: [
      source("src", topicIn, Stream.empty),
      stage(topicIn, filter("identity", () => true), topicOut),
      sink("drain", topicOut, () => Effect.void)
    ]
  }
  await Effect.runPromise(prepareCluster(ctx, pipeline))
  // fleuve producer: encode (registry serde, as a source's runSource: the framed JSON written
  // straight into the produce request) + send, acks=all, idempotent. The values live only for the
  // production: a consumer below should not scan the producer's million records at each full
  // collection (a consuming process would not hold them).
  const produceS = await (async () => {
    const values = Array.from({ length: N }, (_, i) => scoreOf(i, 5))
    const producer = await transport.producer({})
    const t0 = performance.now()
    for (let i = 0; i < N; i += BATCH) {
      await producer.send(values.slice(i, i + BATCH).map((v) => ({ topic: topicIn, key: v.itemId, value: serde.encodeValue(score, v) })))
    }
    const seconds = (performance.now() - t0) / 1000
    await producer.close()
    return seconds
  })()

  // Reads the whole input topic with a fresh group, `count` saying how many records of each fetched
  // batch it took; two clocks: from creating the consumer (group join included, as the stage's
  // clock below) and from the group's assignment (what ConsumerPerformance's fetch rate counts).
  const read = async (group: string, count: (messages: ReadonlyArray<InMessage>) => Promise<number>) => {
    let taken = 0
    const start = performance.now()
    let assignedAt = 0
    let end = 0
    await new Promise<void>(async (resolveDone) => {
      const consumer = await transport.consumer({
        groupId: `${group}-${tag}`,
        topics: [topicIn],
        fromBeginning: true,
        onAssigned: () => {
          if (assignedAt === 0) assignedAt = performance.now()
        },
        onBatch: async (b) => {
          taken += await count(b.messages)
          if (taken >= N && end === 0) {
            end = performance.now()
            resolveDone()
            setImmediate(() => consumer.stop())
          }
        }
      })
    })
    return { fromAssignment: (end - (assignedAt || start)) / 1000, fromJoin: (end - start) / 1000 }
  }
  // fleuve consumer: fetch + decode + Effect Schema validation, read_committed; as the runtime's
  // stages decode (pipelines/kafka/nodes.ts): one call per fetched batch, the valid records counted.
  const decoding = await read("bench-consume", async (messages) => {
    let ok = 0
    for (const d of await serde.decodeMessages(score, messages)) if (d._tag === "Ok") ok++
    return ok
  })
  const consumeS = decoding.fromAssignment
  const consumeJoinS = decoding.fromJoin
  // The same read with no decoding (the transport's fetches and record batches alone, the messages
  // counted): what is left of a consumer's time for the records' JSON and its checks.
  const consumeRawS = (await read("bench-consume-raw", async (messages) => messages.length)).fromAssignment

  const run = runnerOf(await Effect.runPromise(Effect.context<never>()))
  // The stage with no sink beside it: in the stage + sink run below, the sink decodes the stage's
  // first committed transaction in this same event loop while the stage still handles the rest.
  // Twice, on the same input, each with a group, transactional id and output topic of its own: a
  // pass-through stage (its records go out as their fetched bytes, pipelines/kafka/forward.ts) and
  // a mapping stage that returns a new record (encoded), in turns (odd rounds pass-through first).
  const soloRun = async (kind: "pass" | "map") => {
    const topicSolo = `eval.scores.${tag}.${kind}`
    const operator = kind === "pass" ? filter("identity", () => true) : rescore
    const solo: Pipeline = {
      name: `bench-${tag}-${kind}`,
      description: "bench",
      nodes: [source("src", topicIn, Stream.empty), stage(topicIn, operator, topicSolo), sink("drain", topicSolo, () => Effect.void)]
    }
    await Effect.runPromise(prepareCluster(ctx, solo))
    const soloStats = new OperatorStats(operator.name)
    const start = performance.now()
    const rssBefore = process.memoryUsage.rss()
    let rssPeak = rssBefore
    // Buffers outside the JS heap (fetched record batches, encoded outputs): what forwarded values keep alive.
    const buffersBefore = process.memoryUsage().arrayBuffers
    let buffersPeak = buffersBefore
    const soloStage = await startStage(ctx, solo, solo.nodes[1] as never, soloStats, run)
    let soloS = 0
    while (soloS === 0) {
      await new Promise((r) => setTimeout(r, soloStats.snapshot().out < N ? 10 : 20))
      rssPeak = Math.max(rssPeak, process.memoryUsage.rss())
      buffersPeak = Math.max(buffersPeak, process.memoryUsage().arrayBuffers)
      if (soloStats.snapshot().out < N) continue
      if (totalLag(await groupLag(transport, `fleuve.${solo.name}.${operator.name}`, [topicIn])) === 0n) soloS = (performance.now() - start) / 1000
    }
    await soloStage.close()
    // The process's resident memory: at the stage's start and its peak while it ran (sampled every 10-20 ms).
    rss[kind] = { before: rssBefore, peak: rssPeak, buffersBefore, buffersPeak }
    return soloS
  }
  const none = { before: 0, peak: 0, buffersBefore: 0, buffersPeak: 0 }
  const rss: Record<"pass" | "map", typeof none> = { pass: none, map: none }
  let soloS: number
  let mappingS: number
  if (index % 2 === 1) {
    soloS = await soloRun("pass")
    mappingS = await soloRun("map")
  } else {
    mappingS = await soloRun("map")
    soloS = await soloRun("pass")
  }
  const mb = (b: number) => (b / 1048576).toFixed(0)
  console.log(`  rss MB (at start → peak): pass-through stage ${mb(rss.pass.before)} → ${mb(rss.pass.peak)}, mapping stage ${mb(rss.map.before)} → ${mb(rss.map.peak)}; array buffers MB: pass-through ${mb(rss.pass.buffersBefore)} → ${mb(rss.pass.buffersPeak)}, mapping ${mb(rss.map.buffersBefore)} → ${mb(rss.map.buffersPeak)}`)

  // End to end: one stage (decode → operator → encode, one transaction per batch) and a sink group.
  const stats = new OperatorStats("identity")
  const drained = new OperatorStats("drain")
  const t0 = performance.now()
  const st = await startStage(ctx, pipeline, pipeline.nodes[1] as never, stats, run)
  const sk = await startSink(ctx, pipeline, pipeline.nodes[2] as never, drained, run)
  // Done once both groups have committed everything: the (cheap) counters are watched every 10 ms
  // until the stage has written and the sink landed every record, the two groups' lags (admin
  // requests) every 20 ms from the moment the stage has handled every record. The stage's own time
  // ends when its group's lag is zero: every record's transaction committed, with its position.
  let stageS = 0
  while (true) {
    await new Promise((r) => setTimeout(r, stats.snapshot().out < N ? 10 : 20))
    if (stats.snapshot().out < N) continue
    const a = totalLag(await groupLag(transport, `fleuve.${pipeline.name}.identity`, [topicIn]))
    if (a === 0n && stageS === 0) stageS = (performance.now() - t0) / 1000
    if (a !== 0n || drained.snapshot().out < N) continue
    const b = totalLag(await groupLag(transport, `fleuve.${pipeline.name}.drain`, [topicOut]))
    if (b === 0n) break
  }
  const e2eS = (performance.now() - t0) / 1000
  await st.close()
  await sk.close()
  await transport.close()

  const rate = (sec: number) => Math.round(N / sec)
  return { produce: rate(produceS), consume: rate(consumeS), consumeRaw: rate(consumeRawS), consumeWithJoin: rate(consumeJoinS), stage: rate(e2eS), stageAlone: rate(stageS), stageNoSink: rate(soloS), mappingNoSink: rate(mappingS) }
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const main = async () => {
  const rounds: Array<Round & { load: number }> = []
  for (let i = 1; i <= ROUNDS; i++) {
    const r = await round(i)
    rounds.push({ ...r, load: Number(loadavg()[0]!.toFixed(1)) })
    console.log(`round ${i} (${i % 2 === 0 ? "java first" : "fleuve first"}, load ${rounds[rounds.length - 1]!.load}): ProducerPerformance ${r.javaProduce}, ConsumerPerformance ${r.javaConsume}`)
    for (const c of CLIENTS) {
      const f = r.fleuve[c]!
      console.log(`  ${c.padEnd(8)} producer ${f.produce} (${(f.produce / r.javaProduce).toFixed(2)}), consumer ${f.consume} (${(f.consume / r.javaConsume).toFixed(2)}), consumer with no decoding ${f.consumeRaw} (${(f.consumeRaw / r.javaConsume).toFixed(2)}), pass-through stage with its sink beside it ${f.stageAlone} (${(f.stageAlone / f.consumeWithJoin).toFixed(2)}), the stage with no sink in the process: pass-through ${f.stageNoSink} (${(f.stageNoSink / f.consumeWithJoin).toFixed(2)}), mapping ${f.mappingNoSink} (${(f.mappingNoSink / f.consumeWithJoin).toFixed(2)}), pass-through stage + sink ${f.stage} (${(f.stage / f.consumeWithJoin).toFixed(2)}) of its consumer ${f.consumeWithJoin}, all timed from their group joins`)
    }
  }
  const last = rounds[rounds.length - 1]!
  console.log(`records ${N}, ${last.encodedSize} bytes each (wire format), 3 partitions, broker ${bootstrap}, ${ROUNDS} round(s), clients ${CLIENTS.join(", ")}`)
  console.log(`fleuve: ${nodeFlagsLine}; ${BATCH} records per produce request; kafkajs: no linger, ${baseSettings.fetchBytes! >> 20} MiB fetched per partition, maxWait 200 ms; rdkafka: linger.ms 2, max.partition.fetch.bytes ${baseSettings.fetchBytes! >> 20} MiB, fetch.wait.max.ms 100, up to 10,000 records per consume call`)
  console.log(`java:   ProducerPerformance acks=all enable.idempotence=true batch.size=16384 linger.ms=5; ConsumerPerformance defaults`)
  console.log(`${"measure (median over rounds)".padEnd(64)} ${"fleuve msg/s".padStart(12)} ${"peer msg/s".padStart(12)} ${"ratio".padStart(6)}`)
  for (const c of CLIENTS) {
    const f = (r: Round) => r.fleuve[c]!
    const rows = [
      [`${c} producer (registry serde, acks=all, idempotent)`, median(rounds.map((r) => f(r).produce)), median(rounds.map((r) => r.javaProduce)), median(rounds.map((r) => f(r).produce / r.javaProduce))],
      [`${c} consumer (decode + Schema validation, from assignment)`, median(rounds.map((r) => f(r).consume)), median(rounds.map((r) => r.javaConsume)), median(rounds.map((r) => f(r).consume / r.javaConsume))],
      [`${c} consumer, no decoding (fetches + record batches, from assignment)`, median(rounds.map((r) => f(r).consumeRaw)), median(rounds.map((r) => r.javaConsume)), median(rounds.map((r) => f(r).consumeRaw / r.javaConsume))],
      [`${c} pass-through stage, sink beside it (peer: its consumer from join)`, median(rounds.map((r) => f(r).stageAlone)), median(rounds.map((r) => f(r).consumeWithJoin)), median(rounds.map((r) => f(r).stageAlone / f(r).consumeWithJoin))],
      [`${c} pass-through stage, no sink in the process (peer: its consumer)`, median(rounds.map((r) => f(r).stageNoSink)), median(rounds.map((r) => f(r).consumeWithJoin)), median(rounds.map((r) => f(r).stageNoSink / f(r).consumeWithJoin))],
      [`${c} mapping stage, no sink in the process (peer: its consumer)`, median(rounds.map((r) => f(r).mappingNoSink)), median(rounds.map((r) => f(r).consumeWithJoin)), median(rounds.map((r) => f(r).mappingNoSink / f(r).consumeWithJoin))],
      [`${c} pass-through stage + sink (peer: its consumer from join)`, median(rounds.map((r) => f(r).stage)), median(rounds.map((r) => f(r).consumeWithJoin)), median(rounds.map((r) => f(r).stage / f(r).consumeWithJoin))]
    ] as const
    for (const [name, x, j, ratio] of rows) console.log(`${name.padEnd(64)} ${String(Math.round(x)).padStart(12)} ${String(Math.round(j)).padStart(12)} ${ratio.toFixed(2).padStart(6)}`)
  }
  process.exit(0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
