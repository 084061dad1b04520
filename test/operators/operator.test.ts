import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect, Schema, Stream } from "effect"
import type { Envelope } from "../../operators/envelope.ts"
import { applyToBatch, batched, chain, exportedAs, filter, fromEffect, map, type Operator, Outcome, RecordRejected, routeBatch, RoutedBatch, runOnStream } from "../../operators/operator.ts"
import { OperatorStats } from "../../operators/stats.ts"
import { QAItem, Records, Score, jsonSchemaOf } from "../../schemas/index.ts"

const envs = <A>(values: ReadonlyArray<A>): Array<Envelope<A>> =>
  values.map((value, i) => ({ key: String(i), value, position: { _tag: "File", file: "in.jsonl", line: i + 1 } }))

const collect = <A>(s: Stream.Stream<A, unknown>) => Effect.runPromise(Stream.runCollect(s)) as Promise<Array<A>>

test("map: values keep key and position; throws become dead letters, not crashes", async () => {
  const stats = new OperatorStats("half")
  const op = map<number, number>("half", (n) => {
    if (n % 2 === 1) throw new RecordRejected({ reason: `odd number ${n}`, field: "n" })
    if (n === 4) throw new Error("boom")
    return n / 2
  })
  const out = await collect(runOnStream(op, Stream.fromIterable(envs([0, 1, 2, 3, 4])), { stats, batchSize: 2 }))
  const records = out.filter((r) => r._tag === "Record").map((r) => r._tag === "Record" && r.envelope)
  assert.deepEqual(records.map((e) => e && e.value), [0, 1])
  assert.deepEqual(records.map((e) => e && e.position), [{ _tag: "File", file: "in.jsonl", line: 1 }, { _tag: "File", file: "in.jsonl", line: 3 }])
  const dead = out.flatMap((r) => (r._tag === "DeadLetter" ? [r.deadLetter] : []))
  assert.equal(dead.length, 3)
  assert.deepEqual(dead[0], { operator: "half", reason: "odd number 1", field: "n", position: { _tag: "File", file: "in.jsonl", line: 2 }, record: "1" })
  assert.match(dead[2]!.reason, /unexpected error: Error: boom/)
  assert.equal(stats.in, 5)
  assert.equal(stats.out, 2)
  assert.equal(stats.rejected, 3)
})

test("filter counts drops by reason and emits no dead letters", async () => {
  const stats = new OperatorStats("short")
  const op = filter<string>("short", (s) => (s.length < 4 ? true : "too long"))
  const out = await collect(runOnStream(op, Stream.fromIterable(envs(["a", "abcd", "bb", "xxxxx"])), { stats }))
  assert.deepEqual(out.map((r) => r._tag === "Record" && r.envelope.value), ["a", "bb"])
  assert.equal(stats.dropped, 2)
  assert.deepEqual(Object.fromEntries(stats.dropReasons), { "too long": 2 })
})

test("fromEffect turns RecordRejected into dead letters and keeps the stream going", async () => {
  const op = fromEffect<number, string>("parse", (n) =>
    n < 0 ? Effect.fail(new RecordRejected({ reason: "negative" })) : Effect.succeed(`#${n}`))
  const out = await collect(runOnStream(op, Stream.fromIterable(envs([1, -1, 2]))))
  assert.deepEqual(out.map((r) => r._tag), ["Record", "DeadLetter", "Record"])
})

test("chain fuses operators; flush emits held records after the input ends", async () => {
  const held: Array<Envelope<number>> = []
  const hold = batched<number, number>("hold-evens", (batch) =>
    Effect.sync(() =>
      batch.map((e) => {
        if (e.value % 2 === 0) {
          held.push(e)
          return Outcome.drop("held")
        }
        return Outcome.emit(e)
      })
    ), () => Effect.sync(() => held.splice(0)))
  const stats = new OperatorStats("x")
  const op = chain(hold, map<number, number>("times10", (n) => n * 10))
  const out = await collect(runOnStream(op, Stream.fromIterable(envs([1, 2, 3, 4])), { stats }))
  assert.deepEqual(out.map((r) => r._tag === "Record" && r.envelope.value), [10, 30, 20, 40])
  assert.equal(op.name, "hold-evens>times10")
})

test("chain: each input's outcome is the second operator's, whether the first emitted one value, several or none", async () => {
  // The first emits n copies of n (none for 0, a drop for negatives); the second rejects 3,
  // drops 2, and emits v and v + 100 for everything else.
  const first = map<number, number>("copies", (n, e) => (n < 0 ? Outcome.drop("negative") : Outcome.emit(...Array.from({ length: n }, () => e))))
  const second = map<number, number>("second", (v, e) =>
    v === 3 ? Outcome.reject("three") : v === 2 ? Outcome.drop("two") : Outcome.emit(e, { ...e, value: v + 100 }))
  const outcomes = await Effect.runPromise(chain(first, second).process(envs([1, 2, 3, 0, -1, 4])))
  assert.deepEqual(outcomes.map((o) => (o._tag === "Emit" ? o.values.map((v) => v.value) : `${o._tag}: ${o.reason}`)), [
    [1, 101],
    "Drop: two",
    "Reject: three",
    [],
    "Drop: negative",
    [4, 104, 4, 104, 4, 104, 4, 104]
  ])
})

test("a wrong number of outcomes is an operator failure", async () => {
  const broken = batched<number, number>("broken", () => Effect.succeed([]))
  await assert.rejects(collect(runOnStream(broken, Stream.fromIterable(envs([1])))), /returned 0 outcomes for 1 records/)
})

test("routeBatch routes and counts as applyToBatch does, a map's values without their outcomes", async () => {
  const odd = (n: number) => {
    if (n % 7 === 1) throw new RecordRejected({ reason: `rejected ${n}`, field: "n" })
    if (n % 7 === 2) throw new Error(`boom ${n}`)
    if (n % 7 === 3) return Outcome.drop("threes")
    if (n % 7 === 4) return Outcome.reject(`no ${n}`)
    if (n % 7 === 5) return Outcome.emit({ key: "a", value: n, position: { _tag: "Generated" as const, generator: "x", seq: n } }, { key: "b", value: -n, position: { _tag: "Generated" as const, generator: "y", seq: n } })
    if (n % 7 === 6) return Outcome.emit<number>()
    return n * 10
  }
  const operators: Array<Operator<number, number>> = [
    map("odd", odd),
    filter<number>("evens", (n) => (n % 2 === 0 ? true : "odd")),
    exportedAs(map("odd", odd), import.meta.url, "odd"),
    // No `each`: routed from its outcomes.
    chain(map("odd", odd), map<number, number>("plus", (n) => n + 1)),
    fromEffect<number, number>("effect", (n) => (n % 3 === 0 ? Effect.fail(new RecordRejected({ reason: "three" })) : Effect.succeed(n)))
  ]
  const input = envs(Array.from({ length: 40 }, (_, i) => i))
  for (const op of operators) {
    const a = new OperatorStats(op.name)
    const b = new OperatorStats(op.name)
    const routed = await Effect.runPromise(applyToBatch(op, a)(input))
    const into = new RoutedBatch<number>()
    await Effect.runPromise(routeBatch(op, b)(input, into))
    const expected = routed.map((r) => (r._tag === "Record" ? { key: r.envelope.key, value: r.envelope.value, position: r.envelope.position } : { key: r.key, value: r.deadLetter, position: undefined }))
    assert.deepStrictEqual(into.keys.map((key, i) => ({ key, value: into.values[i], position: into.positions[i] })), expected, op.name)
    // The positions are the inputs' own (a Kafka stage forwards by their identity: forward.ts).
    const inputs = new Set<unknown>(input.map((e) => e.position))
    for (const p of into.positions) if (p?._tag === "File") assert.ok(inputs.has(p), `${op.name}: an input's position, not a copy`)
    for (const k of ["in", "out", "rejected", "dropped"] as const) assert.deepStrictEqual(b[k], a[k], `${op.name}: ${k}`)
    assert.deepStrictEqual(b.rejectReasons, a.rejectReasons, op.name)
    assert.deepStrictEqual(b.dropReasons, a.dropReasons, op.name)
    into.clear()
    assert.equal(into.length, 0)
  }
  // A wrong number of outcomes fails the batch, as in applyToBatch.
  const broken = batched<number, number>("broken", () => Effect.succeed([]))
  await assert.rejects(Effect.runPromise(routeBatch(broken, new OperatorStats("broken"))(envs([1]), new RoutedBatch())), /returned 0 outcomes for 1 records/)
})

test("schemas validate QA items and scores, and derive JSON Schemas with stable subjects", () => {
  const decodeItem = Schema.decodeUnknownSync(QAItem)
  const mcqa = decodeItem({ task: "mcqa", id: "q1", question: "Quel est …?", options: ["a", "b", "c"], correct: ["A", "C"] })
  assert.equal(mcqa.task, "mcqa")
  assert.throws(() => decodeItem({ task: "mcqa", id: "q1", question: "?", options: ["a", "b"], correct: ["D"] }), /not one of the options A,B/)
  assert.throws(() => decodeItem({ task: "mcqa", id: "q1", question: "?", options: ["a"], correct: ["A"] }))
  assert.throws(() => decodeItem({ task: "mcqa", id: "q1", question: "?", options: ["a", "b", "c", "d", "e", "f"], correct: ["A"] }))
  const ext = decodeItem({ task: "extqa", id: "e1", context: "Le patient tousse.", question: "Symptôme ?", answers: [{ text: "tousse", start: 11 }] })
  assert.equal(ext.task, "extqa")
  assert.throws(() => decodeItem({ task: "absqa", id: "a1", question: "Pourquoi ?" }), /reference/)
  const decodeScore = Schema.decodeUnknownSync(Score)
  assert.throws(() => decodeScore({ system: "s", task: "t", shots: 1.5, itemId: "i", datasetVersion: "v", metric: "acc", score: 1 }))
  assert.throws(() => decodeScore({ system: "s", task: "t", shots: 0, itemId: "i", datasetVersion: "v", metric: "acc", score: Infinity }))
  for (const name of Object.keys(Records) as Array<keyof typeof Records>) {
    const js = jsonSchemaOf(name)
    assert.equal(js.title, Records[name].subject)
    assert.ok(js.type === "object" || Array.isArray(js.anyOf), `${name} has a JSON Schema body`)
  }
  assert.deepEqual((jsonSchemaOf("Score").required as Array<string>).sort(), ["datasetVersion", "itemId", "metric", "score", "shots", "system", "task"])
})

test("a filter, and a chain of filters only, says that it passes its inputs on unchanged (Kafka stages forward their bytes)", () => {
  const keep = filter("keep", (n: number) => (n > 0 ? true : "not positive"))
  const double = map("double", (n: number) => n * 2)
  assert.equal(keep.passesInput, true)
  assert.equal(double.passesInput, undefined)
  assert.equal(chain(keep, filter("small", (n: number) => (n < 10 ? true : "large"))).passesInput, true)
  assert.equal(chain(keep, double).passesInput, undefined)
  assert.equal(chain(double, keep).passesInput, undefined)
})
