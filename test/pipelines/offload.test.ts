import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect, Stream } from "effect"
import { fileURLToPath } from "node:url"
import type { Envelope } from "../../operators/envelope.ts"
import { map } from "../../operators/operator.ts"
import { type Pipeline, sink, source, stage } from "../../pipelines/runtime/graph.ts"
import { runEmbedded } from "../../pipelines/runtime/embedded.ts"
import type { StageOffload } from "../../pipelines/runtime/offload.ts"

interface Item {
  readonly k: string
  readonly n: number
  readonly ahead?: number
}

const handler = fileURLToPath(new URL("./fixtures/offload-handler.ts", import.meta.url))
const offload: StageOffload<Item> = {
  module: handler,
  init: { offset: 0 },
  request: (v) => v.n,
  attach: (v, reply) => ({ ...v, ahead: reply as number })
}

const pipelineOf = (values: ReadonlyArray<number>, out: Array<Item & { square: number }>, workers: number): Promise<unknown> => {
  const pipeline: Pipeline<never> = {
    name: "offload",
    description: "",
    nodes: [
      source("gen", "o.in", Stream.fromIterable(values.map((n, i): Envelope<Item> => ({ key: `k${i % 11}`, value: { k: `k${i % 11}`, n }, position: { _tag: "Generated", generator: "t", seq: i } })))),
      // The operator reads what a worker computed, or computes it itself.
      { ...stage("o.in", map("square", (v: Item) => ({ ...v, square: v.ahead ?? v.n * v.n })), "o.out", 17), offload },
      sink("collect", "o.out", (batch: ReadonlyArray<Envelope<Item & { square: number }>>) => Effect.sync(() => void out.push(...batch.map((e) => e.value)))),
    ]
  }
  return Effect.runPromise(runEmbedded(pipeline, { partitions: 1, workers, queueCapacity: 16 }))
}

test("offload: worker threads compute ahead, the operator sees every record once, in order", async () => {
  const values = Array.from({ length: 2000 }, (_, i) => (i % 97 === 0 ? -2 : i))
  const out: Array<Item & { square: number }> = []
  const report = (await pipelineOf(values, out, 3)) as { offloaded?: Record<string, number> }
  assert.deepEqual(out.map((v) => v.n), values)
  assert.deepEqual(out.map((v) => v.square), values.map((n) => n * n))
  // Every record but the ones the worker gave no reply for carried the worker's answer.
  assert.equal(report.offloaded?.square, values.filter((n) => n !== -2).length)
  assert.ok(out.filter((v) => v.n !== -2).every((v) => v.ahead === v.n * v.n))
  assert.ok(out.filter((v) => v.n === -2).every((v) => v.ahead === undefined))
})

test("offload: one thread computes in place; a failing worker fails the run naming the stage", async () => {
  const out: Array<Item & { square: number }> = []
  const report = (await pipelineOf([1, 2, 3], out, 1)) as { offloaded?: Record<string, number> }
  assert.equal(report.offloaded, undefined)
  assert.deepEqual(out.map((v) => v.square), [1, 4, 9])
  await assert.rejects(pipelineOf([1, -1, 3], [], 2), (e: { message: string }) => /square: worker thread: .*worker refuses -1/.test(e.message))
})
