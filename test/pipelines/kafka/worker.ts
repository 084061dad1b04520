// A real worker process for the fault tests: `node --import tsx test/pipelines/kafka/worker.ts TAG ITEMS NODE INSTANCE [WAREHOUSE]`.
// It runs the same `runWorker` as `fleuve worker`, on the test's grid pipeline.
import { Effect } from "effect"
import { NodeRuntime } from "@effect/platform-node"
import { noWarehouse } from "../../../pipelines/services.ts"
import { runWorker } from "../../../pipelines/kafka/runtime.ts"
import { kafkaSettingsFromEnv } from "../../../pipelines/kafka/settings.ts"
import { Warehouse } from "../../../warehouse/warehouse.ts"
import { gridPipeline } from "./grid-pipeline.ts"

const [tag, items, node, instance, warehouse] = process.argv.slice(2)
const pipeline = gridPipeline(tag!, Number(items))
Effect.gen(function*() {
  const settings = yield* kafkaSettingsFromEnv
  yield* runWorker(settings, pipeline, node!, { instanceId: instance!, transactionTimeoutMs: 10000 }).pipe(
    Effect.provide(warehouse ? Warehouse.layer(warehouse) : noWarehouse(node!))
  )
}).pipe(NodeRuntime.runMain)
