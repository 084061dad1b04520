import { Effect, Option } from "effect"
import { runNodeWorker } from "../../pipelines/kafka/worker-warehouse.ts"
import { findPipeline, pipelines } from "../../pipelines/runtime/registry.ts"
import type { ReplayFrom } from "../../pipelines/runtime/runtime.ts"
import { reportAnyFailure, reportFailure } from "../common.ts"
import { kafkaSettingsOf } from "../flags/kafka.ts"
import { noWarehouse } from "../../pipelines/services.ts"
import type { ReplayArgs } from "../flags/replay.ts"

export const replayHandler = ({ node, pipeline: name, fromBeginning, from, warehouse, ...kafka }: ReplayArgs) =>
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
    // Only a sink opens the warehouse (DuckDB is single-writer: stop its worker first); its
    // landing run is recorded as this replay.
    yield* runNodeWorker(settings, pipeline, node, warehouse, { from: start, untilCaughtUp: true, instanceId: `replay-${process.pid}` }, {
      waitForLock: false,
      command: `replay ${node} --pipeline ${name}`
    })
  }).pipe(Effect.catch(reportAnyFailure))
