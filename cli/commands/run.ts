import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { runFlags } from "../flags/run.ts"

export const runCommand = Command.make("run", runFlags, (args) => lazyHandler(() => import("../handlers/run.ts"), (h) => h.runHandler(args))).pipe(
  Command.withDescription("Run a pipeline as a bounded job, with progress per stage: in-process (embedded) or on a Kafka cluster"),
  Command.withExamples([
    { command: "fleuve run sample-scores", description: "Run in this process (embedded runtime)" },
    { command: "fleuve run sample-scores --runtime kafka --brokers kafka:9092 --schema-registry http://registry:8081", description: "Same pipeline on Kafka: topics, registry serde, transactions" }
  ])
)
