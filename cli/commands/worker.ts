import { Effect, Layer } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { runWorker } from "../../pipelines/kafka/runtime.ts"
import { findPipeline, pipelines } from "../../pipelines/registry.ts"
import { WarehouseError } from "../../warehouse/errors.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { reportFailure } from "../common.ts"
import { kafkaFlags, kafkaSettingsOf } from "../kafka-flags.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

/**
 * DuckDB is single-writer per file: only a sink's worker opens the warehouse. Other workers get
 * this stand-in, which refuses every use with a message saying why.
 */
export const noWarehouse = (node: string) => {
  const refuse = Effect.fail(new WarehouseError({ message: `worker '${node}' does not open the warehouse: only the sink's worker writes the DuckDB file` }))
  return Layer.succeed(Warehouse, Warehouse.of({
    path: "",
    exec: () => refuse,
    query: () => refuse,
    append: () => refuse,
    transaction: () => refuse,
    get connection(): never {
      throw new Error(`worker '${node}' has no warehouse connection`)
    }
  }))
}

export const workerCommand = Command.make(
  "worker",
  {
    node: Argument.String("node").pipe(Argument.withDescription("The stage, sink or source to run (see `fleuve pipelines`)")),
    pipeline: Flag.String("pipeline").pipe(Flag.withDescription("Pipeline the node belongs to")),
    runtime: Flag.Literals("runtime", ["kafka"]).pipe(Flag.withDescription("Workers exist on the kafka runtime only"), Flag.withDefault("kafka" as const)),
    instance: Flag.String("instance").pipe(
      Flag.withDescription("Stable id of this worker (default $FLEUVE_WORKER_ID, else the host name): a restarted worker with the same id fences its predecessor's transactions"),
      Flag.optional
    ),
    warehouse: warehouseFlag,
    ...kafkaFlags
  },
  ({ node, pipeline: name, instance, warehouse, runtime: _runtime, ...kafka }) =>
    Effect.gen(function*() {
      const entry = findPipeline(name)
      if (!entry) return yield* reportFailure({ message: `unknown pipeline '${name}'; known: ${pipelines.map((p) => p.name).join(", ")}` })
      const settings = yield* kafkaSettingsOf(kafka)
      const body = Effect.gen(function*() {
        const pipeline = yield* entry.build
        const target = pipeline.nodes.find((n) => n.name === node)
        if (!target) return yield* reportFailure({ message: `pipeline '${name}' has no node '${node}'; nodes: ${pipeline.nodes.map((n) => n.name).join(", ")}` })
        const isSink = target._tag === "Sink"
        yield* runWorker(settings, pipeline, node, {
          ...(instance._tag === "Some" ? { instanceId: instance.value } : {}),
          onProgress: (stats) =>
            process.stderr.write(`${new Date().toISOString()} progress: ${stats.map((s) => s.snapshot()).filter((s) => s.in > 0 || s.name === node).map((s) => `${s.name} ${s.in}→${s.out}${s.rejected ? ` (${s.rejected} rejected)` : ""} ${s.perSecond}/s`).join(" | ")}\n`)
        }).pipe(Effect.provide(isSink ? Warehouse.layer(warehouse) : noWarehouse(node)))
      })
      // Building the pipeline never needs the warehouse: a sink opens it on its first batch.
      yield* body.pipe(Effect.provide(noWarehouse(node)))
    }).pipe(Effect.catch((e: unknown) => reportFailure({ message: e instanceof Error ? e.message : String((e as { message?: string }).message ?? e) })))
).pipe(
  Command.withDescription(
    "Run one node of a pipeline as a long-lived Kafka worker. Start N workers of a stage to share its partitions; " +
      "a sink's worker owns the DuckDB warehouse (one per file) and also lands the dead-letter topics. Stops on SIGINT/SIGTERM."
  ),
  Command.withExamples([
    { command: "fleuve worker validate-score --pipeline sample-scores", description: "One worker of the validate stage (start several to scale out)" },
    { command: "fleuve worker land-scores --pipeline sample-scores --warehouse /data/fleuve.duckdb", description: "The sink: lands rows, commits offsets after they landed" },
    { command: "fleuve worker generate-scores --pipeline sample-scores", description: "Run a source once: produce its records and exit" }
  ])
)
