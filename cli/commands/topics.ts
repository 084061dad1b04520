import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { topicsFlags } from "../flags/topics.ts"

export const topicsCommand = Command.make("topics", topicsFlags, (args) => lazyHandler(() => import("../handlers/topics.ts"), (h) => h.topicsHandler(args))).pipe(
  Command.withDescription(
    "List the cluster's topics with their partitions and record counts, and under each topic every consumer group " +
      "reading it with its committed position and lag (records it has yet to handle). Stage groups are named fleuve.<pipeline>.<node>."
  ),
  Command.withExamples([{ command: "fleuve topics --brokers kafka:9092", description: "Topics and lag per consumer group" }])
)
