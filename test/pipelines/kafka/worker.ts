// A real worker process for the fault tests: `node --import tsx test/pipelines/kafka/worker.ts TAG ITEMS NODE INSTANCE [WAREHOUSE]`.
// It runs the same `runNodeWorker` as `fleuve worker`, on the test's grid pipeline.
import { Effect } from "effect"
import { NodeRuntime } from "@effect/platform-node"
import { runNodeWorker } from "../../../pipelines/kafka/worker-warehouse.ts"
import { kafkaSettingsFromEnv } from "../../../pipelines/kafka/settings.ts"
import { gridPipeline } from "./grid-pipeline.ts"

const [tag, items, node, instance, warehouse] = process.argv.slice(2)
const pipeline = gridPipeline(tag!, Number(items))
Effect.gen(function*() {
  const settings = yield* kafkaSettingsFromEnv
  yield* runNodeWorker(settings, pipeline, node!, warehouse ?? "", { instanceId: instance!, transactionTimeoutMs: 10000 })
}).pipe(NodeRuntime.runMain)
