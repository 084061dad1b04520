import { Effect } from "effect"
import assert from "node:assert/strict"
import { test } from "node:test"
import { groupLag, totalLag } from "../../../pipelines/kafka/lag.ts"
import { deadLetterGroupOf, groupOf } from "../../../pipelines/kafka/nodes.ts"
import { rdkafkaAvailable } from "../../../pipelines/kafka/rdkafka-module.ts"
import { runOnKafka } from "../../../pipelines/kafka/runtime.ts"
import { kafkajsTransport } from "../../../pipelines/kafka/kafkajs-transport.ts"
import { Warehouse } from "../../../warehouse/warehouse.ts"
import { runCli, tempWarehousePath } from "../../helpers/warehouse.ts"
import { gridPipeline } from "./grid-pipeline.ts"
import { countCommitted, testSettings, uniqueTag } from "./helpers.ts"

// The librdkafka transport end to end on the real broker. scripts/setup/55-rdkafka.sh builds the
// client (the suite runs it); where it could not be built the runs are skipped, saying why.
const built = rdkafkaAvailable()
const skip = built ? false : "the rdkafka client is not built here (scripts/setup/55-rdkafka.sh)"

test("--kafka-client rdkafka where it is not built fails at once, saying how to build it", () => {
  const r = runCli(["run", "sample-scores", "--runtime", "kafka", "--kafka-client", "rdkafka", "--warehouse", tempWarehousePath()], {
    env: { FLEUVE_RDKAFKA_DIR: "/nonexistent/fleuve-rdkafka" },
    timeoutMs: 60000
  })
  // A project that installed it in node_modules would load it from there: then the run works.
  if (r.code === 0) return
  assert.match(r.stderr, /rdkafka Kafka client .* is not built here: run `bash scripts\/setup\/55-rdkafka\.sh`.*--kafka-client kafkajs/s)
})

test("rdkafka: an eval grid through a transactional stage and the sink (fleuve run --runtime kafka in process) → every row once, every group at zero lag", { skip, timeout: 240000 }, async () => {
  const tag = uniqueTag()
  const settings = testSettings({ client: "rdkafka" })
  const items = 3000
  const pipeline = gridPipeline(tag, items)
  const db = tempWarehousePath()
  const report = await Effect.runPromise(
    runOnKafka(settings)(pipeline).pipe(Effect.provide(Warehouse.layer(db)))
  )
  assert.equal(report.runtime, "kafka")
  const [row] = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ rows: number; keys: number }>(
      "SELECT count(*)::INTEGER AS rows, count(DISTINCT (system, task, shots, item_id))::INTEGER AS keys FROM scores"
    )
  })).pipe(Effect.provide(Warehouse.layer(db))))
  assert.deepEqual(row, { rows: items, keys: items })
  // The run ends only once every group caught up; checked again from outside, with kafkajs: the
  // groups committed past the transactions' commit markers (their positions), not last record + 1.
  const observer = kafkajsTransport(settings)
  try {
    for (const [group, topics] of [
      [groupOf(pipeline, "validate-score"), [`eval.scores.${tag}.generated`]],
      [groupOf(pipeline, "land-scores"), [`eval.scores.${tag}`]],
      [deadLetterGroupOf(pipeline), [`eval.scores.${tag}.generated.dlq`, `eval.scores.${tag}.dlq`]]
    ] as const) {
      assert.equal(totalLag(await groupLag(observer, group, topics)), 0n, group)
    }
  } finally {
    await observer.close()
  }
  // Effectively once: the stage's committed output holds each record once.
  const out = await countCommitted(testSettings(), `eval.scores.${tag}`, items)
  assert.equal(out.count, items)
})
