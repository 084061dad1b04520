import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { findPipeline, pipelines } from "../../pipelines/registry.ts"
import { PipelineRuntime } from "../../pipelines/runtime.ts"
import { progressReporter, renderProgress } from "../progress.ts"
import { reportFailure, withWarehouse } from "../common.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

export const runCommand = Command.make(
  "run",
  {
    pipeline: Argument.String("pipeline").pipe(Argument.withDescription("Pipeline name (see `fleuve pipelines`)")),
    warehouse: warehouseFlag,
    partitions: Flag.Int("partitions").pipe(Flag.withDescription("Partitions per topic (per-key order is kept)"), Flag.withDefault(4))
  },
  ({ pipeline: name, warehouse, partitions }) =>
    Effect.gen(function*() {
      const entry = findPipeline(name)
      if (!entry) {
        return yield* reportFailure({ message: `unknown pipeline '${name}'; known: ${pipelines.map((p) => p.name).join(", ")}` })
      }
      const runtime = yield* PipelineRuntime
      const pipeline = yield* entry.build
      yield* Console.error(`running ${name} on the ${runtime.name} runtime, warehouse ${warehouse}`)
      const report = yield* runtime.run(pipeline, { partitions, onProgress: progressReporter() })
      yield* Console.log(renderProgress(report.stages))
      yield* Console.log(`${name}: done in ${(report.elapsedMs / 1000).toFixed(1)}s, ${report.deadLetters.length} dead letters`)
    }).pipe(
      Effect.provide(withWarehouse(warehouse)),
      Effect.catch((e: unknown) => reportFailure({ message: e instanceof Error ? e.message : String((e as { message?: string }).message ?? e) }))
    )
).pipe(Command.withDescription("Run a pipeline on the embedded runtime, with progress per stage"))
