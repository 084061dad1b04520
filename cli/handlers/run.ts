import { Console, Effect, Layer } from "effect"
import { withMaxRecordBytes } from "../../pipelines/record-limit.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"
import { KafkaRuntime } from "../../pipelines/kafka/runtime.ts"
import { describeSettings } from "../../pipelines/kafka/settings.ts"
import { findPipeline, pipelines } from "../../pipelines/runtime/registry.ts"
import { PipelineRuntime } from "../../pipelines/runtime/runtime.ts"
import { Warehouse } from "../../pipelines/services.ts"
import { progressReporter, renderProgress } from "../progress.ts"
import { reportAnyFailure, reportFailure } from "../common.ts"
import { withWarehouse } from "../../pipelines/services.ts"
import { kafkaSettingsOf } from "../flags/kafka.ts"
import type { RunArgs } from "../flags/run.ts"

export const runHandler = ({ pipeline: name, warehouse, partitions, runtime: runtimeName, maxRecordBytes, ...kafka }: RunArgs) =>
  Effect.gen(function*() {
    const entry = findPipeline(name)
    if (!entry) {
      return yield* reportFailure({ message: `unknown pipeline '${name}'; known: ${pipelines.map((p) => p.name).join(", ")}` })
    }
    const settings = runtimeName === "kafka" ? yield* kafkaSettingsOf(kafka) : undefined
    const body = Effect.gen(function*() {
      const runtime = yield* PipelineRuntime
      const pipeline = yield* entry.build
      yield* Console.error(`running ${name} on the ${runtime.name} runtime, warehouse ${warehouse}${settings ? `, ${describeSettings(settings)}` : ""}`)
      // On Kafka the topics keep their own partition count (--topic-partitions), set when created.
      const report = yield* runtime.run(pipeline, { ...(settings ? {} : { partitions }), onProgress: progressReporter() })
      yield* Console.log(renderProgress(report.stages))
      yield* Console.log(`${name}: done in ${(report.elapsedMs / 1000).toFixed(1)}s, ${report.deadLetters.length} dead letters`)
    })
    yield* body.pipe(withMaxRecordBytes(maxRecordBytesOf(maxRecordBytes)), Effect.provide(settings ? Layer.mergeAll(Warehouse.layer(warehouse), KafkaRuntime(settings)) : withWarehouse(warehouse)))
  }).pipe(
    Effect.catch(reportAnyFailure)
  )
