import { Argument, Command, Flag } from "effect/cli"
import { kafkaFlags } from "../kafka-flags.ts"
import { type ArgsOf, lazyHandler } from "../lazy.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

export const runtimeFlag = Flag.Literals("runtime", ["embedded", "kafka"]).pipe(
  Flag.withDescription("embedded: the whole graph in this process (default). kafka: every stage as a consumer group on a Kafka cluster"),
  Flag.withDefault("embedded" as const)
)

const config = {
  pipeline: Argument.String("pipeline").pipe(Argument.withDescription("Pipeline name (see `fleuve pipelines`)")),
  warehouse: warehouseFlag,
  partitions: Flag.Int("partitions").pipe(Flag.withDescription("Partitions per topic (per-key order is kept)"), Flag.withDefault(4)),
  runtime: runtimeFlag,
  ...kafkaFlags
}
export type RunArgs = ArgsOf<typeof config>

export const runCommand = Command.make("run", config, (args) => lazyHandler(() => import("../handlers/run.ts"), (h) => h.runHandler(args))).pipe(
  Command.withDescription("Run a pipeline as a bounded job, with progress per stage: in-process (embedded) or on a Kafka cluster"),
  Command.withExamples([
    { command: "fleuve run sample-scores", description: "Run in this process (embedded runtime)" },
    { command: "fleuve run sample-scores --runtime kafka --brokers kafka:9092 --schema-registry http://registry:8081", description: "Same pipeline on Kafka: topics, registry serde, transactions" }
  ])
)
