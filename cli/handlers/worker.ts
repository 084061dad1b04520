import { Effect } from "effect"
import { withMaxRecordBytes } from "../../pipelines/record-limit.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"
import { runNodeWorker } from "../../pipelines/kafka/worker-warehouse.ts"
import { findPipeline, pipelines } from "../../pipelines/runtime/registry.ts"
import { noWarehouse } from "../../pipelines/services.ts"
import { reportAnyFailure, reportFailure } from "../common.ts"
import { kafkaSettingsOf } from "../flags/kafka.ts"
import type { WorkerArgs } from "../flags/worker.ts"

export const workerHandler = ({ node, pipeline: name, instance, warehouse, maxRecordBytes, ...kafka }: WorkerArgs) =>
  Effect.gen(function*() {
    const entry = findPipeline(name)
    if (!entry) return yield* reportFailure({ message: `unknown pipeline '${name}'; known: ${pipelines.map((p) => p.name).join(", ")}` })
    const settings = yield* kafkaSettingsOf(kafka)
    const body = Effect.gen(function*() {
      const pipeline = yield* entry.build
      const target = pipeline.nodes.find((n) => n.name === node)
      if (!target) return yield* reportFailure({ message: `pipeline '${name}' has no node '${node}'; nodes: ${pipeline.nodes.map((n) => n.name).join(", ")}` })
      // A sink's worker waits for the warehouse's lock (a standby while another sink holds it).
      yield* runNodeWorker(settings, pipeline, node, warehouse, {
        ...(instance._tag === "Some" ? { instanceId: instance.value } : {}),
        onProgress: (stats) =>
          process.stderr.write(`${new Date().toISOString()} progress: ${stats.map((s) => s.snapshot()).filter((s) => s.in > 0 || s.name === node).map((s) => `${s.name} ${s.in}→${s.out}${s.rejected ? ` (${s.rejected} rejected)` : ""} ${s.perSecond}/s`).join(" | ")}\n`)
      })
    })
    // Building the pipeline never needs the warehouse: a sink opens it on its first batch.
    yield* body.pipe(withMaxRecordBytes(maxRecordBytesOf(maxRecordBytes)), Effect.provide(noWarehouse(node)))
  }).pipe(Effect.catch(reportAnyFailure))
