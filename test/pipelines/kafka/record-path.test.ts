import { Effect, Stream } from "effect"
import assert from "node:assert/strict"
import { existsSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { test } from "node:test"
import { map } from "../../../operators/operator.ts"
import { OperatorStats } from "../../../operators/stats.ts"
import { groupOf, prepareCluster, startStage } from "../../../pipelines/kafka/nodes.ts"
import { recordType } from "../../../pipelines/kafka/serde.ts"
import type { OutMessage } from "../../../pipelines/kafka/transport.ts"
import { type Pipeline, sink, source, stage } from "../../../pipelines/runtime/graph.ts"
import type { Score } from "../../../schemas/evaluation.ts"
import { crashOnce, mixed } from "../fixtures/record-path-operators.ts"
import { stageTestContext, untilSettled, uniqueTag, waitCaughtUp } from "./helpers.ts"

// A stage whose operator a worker thread can import (Operator.module) decodes, runs and encodes on
// worker threads (pipelines/kafka/record-path.ts): what it commits must be exactly what the same
// stage commits on its own thread (FLEUVE_KAFKA_RECORD_WORKERS=0), record for record, byte for
// byte, in each partition's order, dead letters and counts included.

const { settings, transport, serde, score, ctx, run } = await stageTestContext("record-path-test")

// More than a slice (1,024 records) per partition, so slices of a batch go to the workers in turns.
const N = 4000
const scoreOf = (i: number): Score => ({ system: "S", task: "mcqa", shots: 0, itemId: `item-${i}`, datasetVersion: "record-path-v1", metric: "acc", score: (i % 4) / 4, judge: `j${i}` })

/** The input: Scores, and among them records no stage can read (bad JSON, no frame, no value, an invalid Score). */
const inputOf = (i: number): OutMessage => {
  const key = `item-${i}`
  if (i % 401 === 3) return { topic: "", key, value: serde.frame(serde.idOf(score), `{"system": "S", "itemId": `) }
  if (i % 401 === 4) return { topic: "", key, value: Buffer.from(`plain text ${i}`) }
  if (i % 401 === 5) return { topic: "", key, value: serde.frame(serde.idOf(score), JSON.stringify({ ...scoreOf(i), shots: "three" })) }
  return { topic: "", key, value: serde.encode(score, scoreOf(i)) }
}

interface Read {
  readonly partition: number
  readonly key: string
  readonly value: string
}

/** The committed records of a topic, read whole with a fresh group, in each partition's order. */
const readCommitted = async (topic: string, expected: number): Promise<Array<Read>> => {
  const out: Array<Read> = []
  const consumer = await transport.consumer({
    groupId: `record-path-read-${uniqueTag()}`,
    topics: [topic],
    fromBeginning: true,
    prefetch: false,
    onBatch: async (b) => {
      for (const m of b.messages) out.push({ partition: b.partition, key: m.key?.toString("utf8") ?? "", value: Buffer.from(m.value!).toString("base64") })
    }
  })
  await untilSettled(() => out.length, expected)
  await consumer.stop()
  return out.sort((a, b) => a.partition - b.partition)
}

/** One run of the stage from a fresh input topic to a fresh output topic with FLEUVE_KAFKA_RECORD_WORKERS=workers. */
const runStage = async (workers: string, operator = mixed) => {
  const tag = uniqueTag()
  const input = `eval.scores.${tag}.in`
  const output = `eval.scores.${tag}.out`
  const pipeline: Pipeline = {
    name: `record-path-${tag}`,
    description: "record-path test",
    nodes: [source("src", input, Stream.empty), stage(input, operator, output), sink("drain", output, () => Effect.void)]
  }
  await Effect.runPromise(prepareCluster(ctx, pipeline))
  const producer = await transport.producer({})
  for (let i = 0; i < N; i += 1000) await producer.send(Array.from({ length: 1000 }, (_, j) => ({ ...inputOf(i + j), topic: input })))
  await producer.close()
  const stats = new OperatorStats(operator.name)
  process.env.FLEUVE_KAFKA_RECORD_WORKERS = workers
  try {
    const running = await startStage(ctx, pipeline, pipeline.nodes[1] as never, stats, run)
    try {
      await waitCaughtUp(settings, [[groupOf(pipeline, pipeline.nodes[1]!), [input]]], 90000)
    } finally {
      await running.close()
    }
  } finally {
    delete process.env.FLEUVE_KAFKA_RECORD_WORKERS
  }
  const s = stats.snapshot()
  return { input, output, counts: { in: s.in, out: s.out, rejected: s.rejected, dropped: s.dropped, rejectReasons: [...stats.rejectReasons].sort(), dropReasons: [...stats.dropReasons].sort() } }
}

/**
 * Records grouped by the partition they were read from and the input partition they came from,
 * each group in order: what a stage keeps in order (the outputs of different input partitions
 * interleave as the fetches happened to cut them).
 */
const bySource = <R extends { readonly partition: number; readonly key: string }>(records: ReadonlyArray<R>, inputPartitionOf: (r: R) => number) => {
  const groups = new Map<string, Array<R>>()
  for (const r of records) {
    const g = `${r.partition}/${inputPartitionOf(r)}`
    groups.set(g, [...(groups.get(g) ?? []), r])
  }
  return [...groups].sort(([a], [b]) => a.localeCompare(b))
}

/** Dead letters as read, with the input topic's name taken out (each run has its own). */
const lettersOf = async (input: string, expected: number) =>
  Promise.all((await readCommitted(`${input}.dlq`, expected)).map(async (r) => {
    const decoded = await serde.decode(recordType("DeadLetter"), Buffer.from(r.value, "base64"))
    assert.equal(decoded._tag, "Ok")
    const letter = (decoded as { value: { position: { topic: string } } }).value
    return { partition: r.partition, key: r.key, source: (letter.position as unknown as { partition: number }).partition, letter: JSON.stringify({ ...letter, position: { ...letter.position, topic: "" } }) }
  }))

test("a map a worker thread imports commits exactly what it commits on the stage's own thread: outputs, dead letters and counts, in order", { timeout: 300000 }, async () => {
  const own = await runStage("0")
  const ownOut = await readCommitted(own.output, 1)
  const ownLetters = await lettersOf(own.input, 1)
  // What the operator makes, worked out here: every kind of outcome is there.
  const kept = (i: number) => i % 401 < 3 || i % 401 > 5
  const outputsOf = (i: number): number => (!kept(i) || i % 5 === 0 || i % 7 === 0 ? 0 : i % 11 === 0 ? 2 : i % 13 !== 0 && i % 17 === 0 ? 0 : 1)
  const expectedOut = Array.from({ length: N }, (_, i) => outputsOf(i)).reduce((a, b) => a + b, 0)
  assert.equal(ownOut.length, expectedOut)
  assert.ok(ownOut.some((r) => Buffer.from(r.value, "base64").toString("utf8").includes("jugé")))
  assert.ok(ownOut.some((r) => r.key.endsWith("-b")))
  assert.equal(own.counts.in, N)
  assert.equal(own.counts.out, expectedOut)
  for (const reason of [/cannot decode fleuve\.Score: invalid JSON/, /not in the Confluent wire format/, /schema validation failed/, /multiple of five/, /boom/]) {
    assert.ok(ownLetters.some((l) => reason.test(l.letter)), `a dead letter for ${reason}`)
  }

  // Every run writes the same input (the same keys in the same partitions).
  const inputPartition = new Map((await readCommitted(own.input, N)).map((r) => [r.key, r.partition]))
  const sourceOf = (r: Read) => inputPartition.get(r.key.replace(/-[ab]$/, ""))!
  for (const workers of ["1", "2"]) {
    const onWorkers = await runStage(workers)
    assert.deepEqual(onWorkers.counts, own.counts, `counts with ${workers} worker(s)`)
    const out = await readCommitted(onWorkers.output, ownOut.length)
    assert.equal(out.length, ownOut.length, `outputs with ${workers} worker(s)`)
    assert.deepEqual(bySource(out, sourceOf), bySource(ownOut, sourceOf), `the same records, byte for byte, in each partition's order, with ${workers} worker(s)`)
    const letters = await lettersOf(onWorkers.input, ownLetters.length)
    assert.deepEqual(bySource(letters, (l) => l.source), bySource(ownLetters, (l) => l.source), `the same dead letters with ${workers} worker(s)`)
  }
})

test("an operator that does not say where a thread finds it runs on the stage's own thread", { timeout: 120000 }, async () => {
  // (Closures cannot cross to a worker: without `module` the stage keeps its operator.)
  const local = 0.25
  const { output } = await runStage("2", map("local", (s: Score): Score => ({ ...s, score: local })) as never)
  const out = await readCommitted(output, 1)
  assert.ok(out.length > N * 0.99)
  for (const r of out) assert.equal((JSON.parse(Buffer.from(r.value, "base64").subarray(5).toString("utf8")) as Score).score, local)
})

test("a worker thread that dies mid-fetch fails the stage's transaction: after a restart every record is written exactly once", { timeout: 180000 }, async () => {
  const tag = uniqueTag()
  const input = `eval.scores.${tag}.in`
  const output = `eval.scores.${tag}.out`
  const pipeline: Pipeline = {
    name: `record-path-crash-${tag}`,
    description: "record-path crash test",
    nodes: [source("src", input, Stream.empty), stage(input, crashOnce, output), sink("drain", output, () => Effect.void)]
  }
  await Effect.runPromise(prepareCluster(ctx, pipeline))
  const producer = await transport.producer({})
  for (let i = 0; i < N; i += 1000) await producer.send(Array.from({ length: 1000 }, (_, j) => ({ topic: input, key: `item-${i + j}`, value: serde.encode(score, scoreOf(i + j)) })))
  await producer.close()
  const mark = join(mkdtempSync(join(tmpdir(), "record-path-")), "crashed")
  process.env.FLEUVE_KAFKA_RECORD_WORKERS = "2"
  process.env.FLEUVE_TEST_CRASH_MARK = mark
  try {
    // The first stage's worker dies at item-1500: its consumer stops with the cause.
    const first = await startStage(ctx, pipeline, pipeline.nodes[1] as never, new OperatorStats("crash-once"), run)
    await assert.rejects(first.consumer.done, /record-path worker thread exited \(code 7\)/)
    await first.close()
    assert.ok(existsSync(mark))
    // The restarted stage (as a worker process restarts its clients) goes on from the committed positions.
    const second = await startStage(ctx, pipeline, pipeline.nodes[1] as never, new OperatorStats("crash-once"), run)
    try {
      await waitCaughtUp(settings, [[groupOf(pipeline, pipeline.nodes[1]!), [input]]], 90000)
    } finally {
      await second.close()
    }
  } finally {
    delete process.env.FLEUVE_KAFKA_RECORD_WORKERS
    delete process.env.FLEUVE_TEST_CRASH_MARK
  }
  const out = await readCommitted(output, N)
  const keys = out.map((r) => r.key)
  assert.equal(keys.length, N, "every record written")
  assert.equal(new Set(keys).size, N, "none twice")
  for (const r of out) {
    const s = JSON.parse(Buffer.from(r.value, "base64").subarray(5).toString("utf8")) as Score
    assert.equal(s.score, 1 - scoreOf(Number(s.itemId.slice("item-".length))).score)
  }
})
