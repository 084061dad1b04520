import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { runWorker } from "../../pipelines/kafka/runtime.ts"
import { findPipeline, pipelines } from "../../pipelines/registry.ts"
import type { ReplayFrom } from "../../pipelines/runtime.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { reportFailure } from "../common.ts"
import { kafkaFlags, kafkaSettingsOf } from "../kafka-flags.ts"
import { warehouseFlag } from "../warehouse-flag.ts"
import { noWarehouse } from "./worker.ts"

export const replayCommand = Command.make(
  "replay",
  {
    node: Argument.String("stage").pipe(Argument.withDescription("The stage or sink to re-process (its consumer group is moved back)")),
    pipeline: Flag.String("pipeline").pipe(Flag.withDescription("Pipeline the stage belongs to")),
    fromBeginning: Flag.Boolean("from-beginning").pipe(Flag.withDescription("Re-process everything the input topic still holds"), Flag.withDefault(false)),
    from: Flag.String("from").pipe(Flag.withDescription("Re-process records written at or after this time (ISO 8601, e.g. 2026-11-25T08:00:00Z)"), Flag.optional),
    warehouse: warehouseFlag,
    ...kafkaFlags
  },
  ({ node, pipeline: name, fromBeginning, from, warehouse, ...kafka }) =>
    Effect.gen(function*() {
      const entry = findPipeline(name)
      if (!entry) return yield* reportFailure({ message: `unknown pipeline '${name}'; known: ${pipelines.map((p) => p.name).join(", ")}` })
      let start: ReplayFrom
      if (fromBeginning && Option.isSome(from)) return yield* reportFailure({ message: "give --from-beginning or --from TIMESTAMP, not both" })
      if (fromBeginning) start = { _tag: "Beginning" }
      else if (Option.isSome(from)) {
        const epochMs = Date.parse(from.value)
        if (Number.isNaN(epochMs)) return yield* reportFailure({ message: `--from '${from.value}' is not a date (use ISO 8601, e.g. 2026-11-25T08:00:00Z)` })
        start = { _tag: "Timestamp", epochMs }
      } else return yield* reportFailure({ message: "say where to replay from: --from-beginning or --from TIMESTAMP" })
      const settings = yield* kafkaSettingsOf(kafka)
      const pipeline = yield* entry.build.pipe(Effect.provide(noWarehouse(node)))
      const target = pipeline.nodes.find((n) => n.name === node)
      if (!target || target._tag === "Source") {
        return yield* reportFailure({ message: `pipeline '${name}' has no stage or sink '${node}'; consumers: ${pipeline.nodes.filter((n) => n._tag !== "Source").map((n) => n.name).join(", ")}` })
      }
      // The group is moved back, then this process re-processes until it has caught up. Stop the
      // node's running workers first: Kafka refuses to move an active group.
      yield* runWorker(settings, pipeline, node, { from: start, untilCaughtUp: true, instanceId: `replay-${process.pid}` }).pipe(
        // Only a sink opens the warehouse (DuckDB is single-writer: stop its worker first).
        Effect.provide(target._tag === "Sink" ? Warehouse.layer(warehouse) : noWarehouse(node))
      )
    }).pipe(Effect.catch((e: unknown) => reportFailure({ message: e instanceof Error ? e.message : String((e as { message?: string }).message ?? e) })))
).pipe(
  Command.withDescription(
    "Re-process a stage on the Kafka runtime: move its consumer group back (to the beginning, or to a time) and run it until it " +
      "has caught up. Outputs are written again (transactions keep them whole); sinks are idempotent, so the warehouse gains no duplicate."
  ),
  Command.withExamples([
    { command: "fleuve replay validate-score --pipeline sample-scores --from-beginning", description: "Re-validate everything" },
    { command: "fleuve replay land-scores --pipeline sample-scores --from 2026-11-25T08:00:00Z", description: "Re-land what arrived since 8:00" }
  ])
)
