import { Effect, type Exit } from "effect"
import { redact } from "../../lib/redact.ts"
import type { WarehouseError } from "../../warehouse/errors.ts"
import { RunCommand, Runs } from "../../warehouse/runs.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import type { Pipeline } from "../runtime/graph.ts"
import type { PipelineFailure } from "../runtime/runtime.ts"
import { noWarehouse } from "../services.ts"
import { runWorker, type WorkerOptions } from "./runtime.ts"
import type { KafkaSettings } from "./settings.ts"

const defaultLog = (line: string) => process.stderr.write(`${new Date().toISOString()} ${redact(line)}\n`)

/**
 * `fleuve worker NODE --pipeline P` (and the fault tests' worker processes): runs one node with
 * the warehouse it may use. A sink's worker opens the DuckDB file only once it holds the file's
 * write lock: a second sink worker of the same warehouse waits as a standby, outside the consumer
 * group, and joins it when the first dies (SIGKILL included: the lock dies with its process).
 * Its landing runs are recorded as `worker NODE --pipeline P` and end with the worker's exit
 * (interrupted on SIGTERM/SIGINT, failed on an error).
 */
export const runNodeWorker = <R>(
  settings: KafkaSettings,
  pipeline: Pipeline<R>,
  nodeName: string,
  warehouse: string,
  options: WorkerOptions = {},
  /**
   * `waitForLock: false` fails at once when another process holds the warehouse (a replay, whose
   * user must stop the sink first); `command` labels its runs (default `worker NODE --pipeline P`).
   */
  how: { readonly waitForLock?: boolean; readonly command?: string } = {}
): Effect.Effect<void, PipelineFailure | WarehouseError, Exclude<R, Warehouse>> => {
  const log = options.log ?? defaultLog
  const node = pipeline.nodes.find((n) => n.name === nodeName)
  const isSink = node?._tag === "Sink"
  // A sink that just took the lock over marks its dead predecessor's run interrupted at once.
  const body = (isSink ? Runs.sweepStale.pipe(Effect.andThen(runWorker(settings, pipeline, nodeName, { ...options, log }))) : runWorker(settings, pipeline, nodeName, { ...options, log })).pipe(
    Effect.onExit((exit) => (isSink ? Runs.settleOpen(exit as Exit.Exit<unknown, unknown>) : Effect.void)),
    Effect.provideService(RunCommand, how.command ?? `worker ${nodeName} --pipeline ${pipeline.name}`)
  )
  const sinkWarehouse = how.waitForLock === false ? Warehouse.layer(warehouse) : Warehouse.layerWhenFree(warehouse, log)
  return body.pipe(Effect.provide(isSink ? sinkWarehouse : noWarehouse(nodeName))) as Effect.Effect<
    void,
    PipelineFailure | WarehouseError,
    Exclude<R, Warehouse>
  >
}
