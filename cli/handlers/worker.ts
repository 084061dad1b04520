import { Effect, Option } from "effect"
import { basename } from "node:path"
import { redact } from "../../lib/redact.ts"
import { isEvaluationPipeline, scorerWorkerPipeline } from "../../pipelines/evaluate/scorer-worker.ts"
import { endpointSpecOf } from "../flags/endpoint.ts"
import { withMaxRecordBytes } from "../../pipelines/record-limit.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"
import { runNodeWorker } from "../../pipelines/kafka/worker-warehouse.ts"
import { findPipeline, pipelines } from "../../pipelines/runtime/registry.ts"
import { noWarehouse } from "../../pipelines/services.ts"
import { reportAnyFailure, reportFailure } from "../common.ts"
import { kafkaSettingsOf } from "../flags/kafka.ts"
import type { WorkerArgs } from "../flags/worker.ts"

export const workerHandler = (args: WorkerArgs) =>
  Effect.gen(function*() {
    const { node, pipeline: name, instance, warehouse, maxRecordBytes } = args
    const entry = findPipeline(name)
    const graded = isEvaluationPipeline(name)
    if (!entry && !graded) return yield* reportFailure({ message: `unknown pipeline '${name}'; known: ${[...pipelines.map((p) => p.name), "evaluate-<system>"].join(", ")}` })
    if (Option.isSome(args.endpoint) !== Option.isSome(args.endpointModel)) return yield* reportFailure({ message: "--endpoint and --endpoint-model go together" })
    const settings = yield* kafkaSettingsOf(args)
    const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${redact(line)}\n`)
    const body = Effect.gen(function*() {
      // An evaluation grid's scorer worker: its model from the flags, no warehouse.
      const pipeline = entry ? yield* entry.build : yield* scorerWorkerPipeline(name, node, {
        endpoint: endpointSpecOf(args),
        model: Option.isSome(args.model)
          ? { dir: args.model.value, name: Option.getOrUndefined(args.modelName) ?? basename(args.model.value), backend: args.backend, engine: Option.getOrUndefined(args.engine) }
          : undefined
      }, log)
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
