import { Argument, Flag } from "effect/cli"
import { kafkaFlags } from "./kafka.ts"
import { type ArgsOf } from "../lazy.ts"
import { warehouseFlag } from "./warehouse.ts"
import { maxRecordBytesFlag } from "./max-record-bytes.ts"
import { withDefaultSaid } from "./defaults.ts"

export const runtimeFlag = Flag.Literals("runtime", ["embedded", "kafka"]).pipe(
  Flag.withDescription(withDefaultSaid("embedded: the whole graph in this process (default). kafka: every stage as a consumer group on a Kafka cluster", "embedded" as const)),
  Flag.withDefault("embedded" as const)
)

export const runFlags = {
  pipeline: Argument.String("pipeline").pipe(Argument.withDescription("Pipeline name (see `fleuve pipelines`)")),
  warehouse: warehouseFlag,
  maxRecordBytes: maxRecordBytesFlag,
  partitions: Flag.Int("partitions").pipe(Flag.withDescription(withDefaultSaid("Partitions per topic (per-key order is kept)", 4)), Flag.withDefault(4)),
  runtime: runtimeFlag,
  ...kafkaFlags
}
export type RunArgs = ArgsOf<typeof runFlags>
