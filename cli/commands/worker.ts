import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { workerFlags } from "../flags/worker.ts"

export const workerCommand = Command.make("worker", workerFlags, (args) => lazyHandler(() => import("../handlers/worker.ts"), (h) => h.workerHandler(args))).pipe(
  Command.withDescription(
    "Run one node of a pipeline as a long-lived Kafka worker. Start N workers of a stage to share its partitions; " +
      "a sink's worker owns the DuckDB warehouse (one writer per file) and also lands the dead-letter topics; a second sink worker of the same file " +
      "waits for its lock as a standby and takes over when the first dies. Stops on SIGINT/SIGTERM."
  ),
  Command.withExamples([
    { command: "fleuve worker validate-score --pipeline sample-scores", description: "One worker of the validate stage (start several to scale out)" },
    { command: "fleuve worker land-scores --pipeline sample-scores --warehouse /data/fleuve.duckdb", description: "The sink: lands rows, commits offsets after they landed (run it twice: the second is a standby)" },
    { command: "fleuve worker generate-scores --pipeline sample-scores", description: "Run a source once: produce its records and exit" }
  ])
)
