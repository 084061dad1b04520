import { Effect, Stream } from "effect"
import assert from "node:assert/strict"
import { test } from "node:test"
import { filter, map, type Operator } from "../../../operators/operator.ts"
import { OperatorStats } from "../../../operators/stats.ts"
import { groupOf, prepareCluster, startStage } from "../../../pipelines/kafka/nodes.ts"
import { makeSerde, recordType, type RecordType } from "../../../pipelines/kafka/serde.ts"
import { deepFreeze, freezerOf } from "../../../pipelines/kafka/forward.ts"
import { type Pipeline, sink, source, stage } from "../../../pipelines/runtime/graph.ts"
import type { Score } from "../../../schemas/evaluation.ts"
import { stageTestContext, untilSettled, uniqueTag, waitCaughtUp } from "./helpers.ts"

// A stage whose operator passes a record on untouched sends the record's fetched bytes
// (pipelines/kafka/forward.ts); one that makes a new record encodes it; one that changes its input
// in place meets a frozen record and its records become dead letters, with nothing forwarded.

// FLEUVE_KAFKA_CLIENT=rdkafka runs these on the librdkafka transport (its values are Buffers of their own).
const { settings, transport, serde, score, ctx, run } = await stageTestContext("forward-test")

const N = 300
const scoreOf = (i: number): Score => ({ system: "S", task: "mcqa", shots: 0, itemId: `item-${i}`, datasetVersion: "forward-v1", metric: "acc", score: (i % 4) / 4, judge: `j${i}` })

/**
 * The input topic's records as a producer other than fleuve may write them: JSON with spaces after
 * its separators. Re-encoding a record (JSON.stringify) drops the spaces, so an output with them
 * was forwarded byte for byte.
 */
const inputBytes = (i: number) => serde.frame(serde.idOf(score), JSON.stringify(scoreOf(i), null, 1).replace(/\n/g, ""))

interface Read {
  readonly key: string
  readonly value: Buffer
}

/** The committed records of a topic, read whole with a fresh group: once `expected` came and nothing more for 2 s. */
const readCommitted = async (topic: string, expected: number): Promise<Array<Read>> => {
  const out: Array<Read> = []
  const consumer = await transport.consumer({
    groupId: `forward-read-${uniqueTag()}`,
    topics: [topic],
    fromBeginning: true,
    prefetch: false,
    onBatch: async (b) => {
      for (const m of b.messages) out.push({ key: m.key?.toString("utf8") ?? "", value: Buffer.from(m.value!) })
    }
  })
  await untilSettled(() => out.length, expected)
  await consumer.stop()
  return out
}

/** Runs `operator` as a stage from a fresh input topic of N records (`bytesOf`) to a fresh output topic, until its group committed everything. */
const runStage = async (operator: Operator<Score, Score>, bytesOf: (i: number) => Buffer = inputBytes) => {
  const tag = uniqueTag()
  const input = `eval.scores.${tag}.in`
  const output = `eval.scores.${tag}.out`
  const pipeline: Pipeline = {
    name: `forward-${tag}`,
    description: "forward test",
    nodes: [source("src", input, Stream.empty), stage(input, operator, output), sink("drain", output, () => Effect.void)]
  }
  await Effect.runPromise(prepareCluster(ctx, pipeline))
  const producer = await transport.producer({})
  await producer.send(Array.from({ length: N }, (_, i) => ({ topic: input, key: `item-${i}`, value: bytesOf(i) })))
  await producer.close()
  const stats = new OperatorStats(operator.name)
  const running = await startStage(ctx, pipeline, pipeline.nodes[1] as never, stats, run)
  try {
    await waitCaughtUp(settings, [[groupOf(pipeline, pipeline.nodes[1]!), [input]]], 60000)
  } finally {
    await running.close()
  }
  return { input, output, stats }
}

const keyIndex = (key: string) => Number(key.slice("item-".length))

test("records are frozen whole: a flat record type by Object.freeze alone, any other by a walk of all its parts", () => {
  assert.notEqual(freezerOf(score.jsonSchema), deepFreeze)
  const prediction = recordType("Prediction")
  assert.equal(freezerOf(prediction.jsonSchema), deepFreeze)
  const nested = JSON.parse('{"a":{"b":[1,{"c":2}]},"d":[[3]]}')
  freezerOf(prediction.jsonSchema)(nested)
  for (const part of [nested, nested.a, nested.a.b, nested.a.b[1], nested.d, nested.d[0]]) assert.ok(Object.isFrozen(part))
  const flat = scoreOf(1)
  freezerOf(score.jsonSchema)(flat)
  assert.throws(() => {
    ;(flat as { score: number }).score = 2
  }, TypeError)
})

test("a filter's kept records go out as their fetched bytes; with FLEUVE_KAFKA_FORWARD_UNCHANGED=0 they are encoded again", { timeout: 120000 }, async () => {
  // Keeps 3 of 4 records: the cursor that matches outputs to inputs skips the dropped ones.
  const keep = filter("keep", (s: Score) => (s.score === 0.5 ? "half" : true))
  const { output, stats } = await runStage(keep)
  assert.equal(stats.snapshot().out, N * 3 / 4)
  const got = await readCommitted(output, N * 3 / 4)
  assert.equal(got.length, N * 3 / 4)
  for (const r of got) {
    const i = keyIndex(r.key)
    assert.notEqual(i % 4, 2)
    assert.deepEqual(r.value, inputBytes(i), `record ${r.key} forwarded byte for byte`)
  }

  process.env.FLEUVE_KAFKA_FORWARD_UNCHANGED = "0"
  try {
    const off = await runStage(keep)
    const encoded = await readCommitted(off.output, N * 3 / 4)
    assert.equal(encoded.length, N * 3 / 4)
    for (const r of encoded) assert.deepEqual(r.value, serde.encode(score, scoreOf(keyIndex(r.key))), `record ${r.key} encoded again`)
  } finally {
    delete process.env.FLEUVE_KAFKA_FORWARD_UNCHANGED
  }
})

test("a record written with another version of its schema is encoded again, with the stage's own schema id", { timeout: 120000 }, async () => {
  // A newer Score with an optional field, registered under the same subject: another schema id.
  const base = recordType("Score")
  const jsonSchema = structuredClone(base.jsonSchema) as { properties: Record<string, unknown> }
  jsonSchema.properties.latencyMs = { type: "number" }
  const v2: RecordType = { ...base, jsonSchema }
  const newer = makeSerde(settings)
  await Effect.runPromise(newer.prepare([v2]))
  await Effect.runPromise(serde.prepare([score]))
  const v2Id = newer.idOf(v2)
  assert.notEqual(v2Id, serde.idOf(score))
  const { output } = await runStage(filter("keep", () => true), (i) => serde.frame(v2Id, JSON.stringify(scoreOf(i), null, 1).replace(/\n/g, "")))
  const got = await readCommitted(output, N)
  assert.equal(got.length, N)
  for (const r of got) assert.deepEqual(r.value, serde.encode(score, scoreOf(keyIndex(r.key))), `record ${r.key} encoded with id ${serde.idOf(score)}`)
})

test("a mapping operator's new records are encoded", { timeout: 120000 }, async () => {
  const { output } = await runStage(map("rescore", (s: Score): Score => ({ ...s, score: 1 - s.score })))
  const got = await readCommitted(output, N)
  assert.equal(got.length, N)
  for (const r of got) {
    const i = keyIndex(r.key)
    assert.deepEqual(r.value, serde.encode(score, { ...scoreOf(i), score: 1 - scoreOf(i).score }))
  }
})

test("a filter whose test changes its input in place meets a frozen record: every record a dead letter, nothing forwarded", { timeout: 120000 }, async () => {
  const mutate = filter("mutate", (s: Score) => {
    ;(s as { score: number }).score = 1
    return true
  })
  const { input, output, stats } = await runStage(mutate)
  assert.equal(stats.snapshot().out, 0)
  const letters = await readCommitted(`${input}.dlq`, N)
  assert.equal(letters.length, N)
  for (const l of letters) {
    const decoded = await serde.decode(recordType("DeadLetter"), l.value)
    assert.equal(decoded._tag, "Ok")
    const letter = (decoded as { value: { operator: string; reason: string; record: string } }).value
    assert.equal(letter.operator, "mutate")
    assert.match(letter.reason, /TypeError: Cannot assign to read only property 'score'/)
    // The letter keeps the record as it came, not as the operator tried to make it.
    assert.equal(JSON.parse(letter.record).score, scoreOf(keyIndex(l.key)).score)
  }
  assert.equal((await readCommitted(output, 0)).length, 0)
})

test("a map that changes its input in place and returns it: its inputs are not frozen, and what it made is encoded, not the fetched bytes", { timeout: 120000 }, async () => {
  const mutate = map("mutate", (s: Score) => {
    ;(s as { score: number }).score = 1
    return s
  })
  const { output } = await runStage(mutate)
  const got = await readCommitted(output, N)
  assert.equal(got.length, N)
  for (const r of got) assert.deepEqual(r.value, serde.encode(score, { ...scoreOf(keyIndex(r.key)), score: 1 }))
})
