import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { queryFlags } from "../flags/query.ts"

export const queryCommand = Command.make("query", queryFlags, (args) => lazyHandler(() => import("../handlers/query.ts"), (h) => h.queryHandler(args))).pipe(
  Command.withDescription("Run SQL against the warehouse and print the rows"),
  Command.withExamples([
    { command: "fleuve query \"SELECT system, avg(score) FROM scores GROUP BY ALL\"", description: "Mean score per system" },
    { command: "fleuve query --format json \"SELECT * FROM dead_letters\"", description: "Dead letters as JSON" }
  ])
)
