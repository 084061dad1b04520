import { Argument, Flag } from "effect/cli"
import { kafkaFlags } from "./kafka.ts"
import { type ArgsOf } from "../lazy.ts"
import { warehouseFlag } from "./warehouse.ts"
import { withDefaultSaid } from "./defaults.ts"

export const replayFlags = {
  node: Argument.String("stage").pipe(Argument.withDescription("The stage or sink to re-process (its consumer group is moved back)")),
  pipeline: Flag.String("pipeline").pipe(Flag.withDescription("Pipeline the stage belongs to (required)")),
  fromBeginning: Flag.Boolean("from-beginning").pipe(Flag.withDescription(withDefaultSaid("Re-process everything the input topic still holds", false)), Flag.withDefault(false)),
  from: Flag.String("from").pipe(Flag.withDescription("Re-process records written at or after this time (ISO 8601, e.g. 2026-11-25T08:00:00Z)"), Flag.optional),
  warehouse: warehouseFlag,
  ...kafkaFlags
}
export type ReplayArgs = ArgsOf<typeof replayFlags>
