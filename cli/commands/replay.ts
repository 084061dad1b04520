import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { replayFlags } from "../flags/replay.ts"

export const replayCommand = Command.make("replay", replayFlags, (args) => lazyHandler(() => import("../handlers/replay.ts"), (h) => h.replayHandler(args))).pipe(
  Command.withDescription(
    "Re-process a stage on the Kafka runtime: move its consumer group back (to the beginning, or to a time) and run it until it " +
      "has caught up. Outputs are written again (transactions keep them whole); sinks are idempotent, so the warehouse gains no duplicate."
  ),
  Command.withExamples([
    { command: "fleuve replay validate-score --pipeline sample-scores --from-beginning", description: "Re-validate everything" },
    { command: "fleuve replay land-scores --pipeline sample-scores --from 2026-11-25T08:00:00Z", description: "Re-land what arrived since 8:00" }
  ])
)
