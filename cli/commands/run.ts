import { Console, Effect, Layer } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { KafkaRuntime } from "../../pipelines/kafka/runtime.ts"
import { describeSettings } from "../../pipelines/kafka/settings.ts"
import { findPipeline, pipelines } from "../../pipelines/registry.ts"
import { PipelineRuntime } from "../../pipelines/runtime.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { progressReporter, renderProgress } from "../progress.ts"
import { reportFailure, withWarehouse } from "../common.ts"
import { kafkaFlags, kafkaSettingsOf } from "../kafka-flags.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

export const runtimeFlag = Flag.Literals("runtime", ["embedded", "kafka"]).pipe(
  Flag.withDescription("embedded: the whole graph in this process (default). kafka: every stage as a consumer group on a Kafka cluster"),
  Flag.withDefault("embedded" as const)
)

export const runCommand = Command.make(
  "run",
  {
    pipeline: Argument.String("pipeline").pipe(Argument.withDescription("Pipeline name (see `fleuve pipelines`)")),
    warehouse: warehouseFlag,
    partitions: Flag.Int("partitions").pipe(Flag.withDescription("Partitions per topic (per-key order is kept)"), Flag.withDefault(4)),
    runtime: runtimeFlag,
    ...kafkaFlags
  },
  ({ pipeline: name, warehouse, partitions, runtime: runtimeName, ...kafka }) =>
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
      yield* body.pipe(Effect.provide(settings ? Layer.mergeAll(Warehouse.layer(warehouse), KafkaRuntime(settings)) : withWarehouse(warehouse)))
    }).pipe(
      Effect.catch((e: unknown) => reportFailure({ message: e instanceof Error ? e.message : String((e as { message?: string }).message ?? e) }))
    )
).pipe(
  Command.withDescription("Run a pipeline as a bounded job, with progress per stage: in-process (embedded) or on a Kafka cluster"),
  Command.withExamples([
    { command: "fleuve run sample-scores", description: "Run in this process (embedded runtime)" },
    { command: "fleuve run sample-scores --runtime kafka --brokers kafka:9092 --schema-registry http://registry:8081", description: "Same pipeline on Kafka: topics, registry serde, transactions" }
  ])
)
