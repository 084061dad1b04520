import { Argument, Command, Flag } from "effect/cli"
import { kafkaFlags } from "../kafka-flags.ts"
import { type ArgsOf, lazyHandler } from "../lazy.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

const config = {
  node: Argument.String("stage").pipe(Argument.withDescription("The stage or sink to re-process (its consumer group is moved back)")),
  pipeline: Flag.String("pipeline").pipe(Flag.withDescription("Pipeline the stage belongs to")),
  fromBeginning: Flag.Boolean("from-beginning").pipe(Flag.withDescription("Re-process everything the input topic still holds"), Flag.withDefault(false)),
  from: Flag.String("from").pipe(Flag.withDescription("Re-process records written at or after this time (ISO 8601, e.g. 2026-11-25T08:00:00Z)"), Flag.optional),
  warehouse: warehouseFlag,
  ...kafkaFlags
}
export type ReplayArgs = ArgsOf<typeof config>

export const replayCommand = Command.make("replay", config, (args) => lazyHandler(() => import("../handlers/replay.ts"), (h) => h.replayHandler(args))).pipe(
  Command.withDescription(
    "Re-process a stage on the Kafka runtime: move its consumer group back (to the beginning, or to a time) and run it until it " +
      "has caught up. Outputs are written again (transactions keep them whole); sinks are idempotent, so the warehouse gains no duplicate."
  ),
  Command.withExamples([
    { command: "fleuve replay validate-score --pipeline sample-scores --from-beginning", description: "Re-validate everything" },
    { command: "fleuve replay land-scores --pipeline sample-scores --from 2026-11-25T08:00:00Z", description: "Re-land what arrived since 8:00" }
  ])
)
