import { Argument, Command, Flag } from "effect/cli"
import { kafkaFlags } from "../kafka-flags.ts"
import { type ArgsOf, lazyHandler } from "../lazy.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

const config = {
  node: Argument.String("node").pipe(Argument.withDescription("The stage, sink or source to run (see `fleuve pipelines`)")),
  pipeline: Flag.String("pipeline").pipe(Flag.withDescription("Pipeline the node belongs to")),
  runtime: Flag.Literals("runtime", ["kafka"]).pipe(Flag.withDescription("Workers exist on the kafka runtime only"), Flag.withDefault("kafka" as const)),
  instance: Flag.String("instance").pipe(
    Flag.withDescription("Stable id of this worker (default $FLEUVE_WORKER_ID, else the host name): a restarted worker with the same id fences its predecessor's transactions"),
    Flag.optional
  ),
  warehouse: warehouseFlag,
  ...kafkaFlags
}
export type WorkerArgs = ArgsOf<typeof config>

export const workerCommand = Command.make("worker", config, (args) => lazyHandler(() => import("../handlers/worker.ts"), (h) => h.workerHandler(args))).pipe(
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
