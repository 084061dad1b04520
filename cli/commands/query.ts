import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { queryFlags } from "../flags/query.ts"

export const queryCommand = Command.make("query", queryFlags, (args) => lazyHandler(() => import("../handlers/query.ts"), (h) => h.queryHandler(args))).pipe(
  Command.withDescription("Run SQL against the warehouse and print the rows. Read-only unless --write; the warehouse must exist (a mistyped --warehouse is an error, never a new file)"),
  Command.withExamples([
    { command: "fleuve query \"SELECT system, avg(score) FROM scores GROUP BY ALL\"", description: "Mean score per system" },
    { command: "fleuve query --format json \"SELECT * FROM dead_letters\"", description: "Dead letters as JSON" },
    { command: "fleuve query --write \"DELETE FROM dead_letters WHERE run_id = '20261205-abc'\"", description: "A statement that changes data" }
  ])
)
