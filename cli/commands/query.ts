import { Argument, Command, Flag } from "effect/cli"
import { type ArgsOf, lazyHandler } from "../lazy.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

const config = {
  sql: Argument.String("sql").pipe(Argument.withDescription("SQL to run against the warehouse")),
  warehouse: warehouseFlag,
  format: Flag.Literals("format", ["table", "json", "csv"]).pipe(
    Flag.withDescription("table (aligned, for people), json (one array of row objects), csv"),
    Flag.withDefault("table")
  )
}
export type QueryArgs = ArgsOf<typeof config>

export const queryCommand = Command.make("query", config, (args) => lazyHandler(() => import("../handlers/query.ts"), (h) => h.queryHandler(args))).pipe(
  Command.withDescription("Run SQL against the warehouse and print the rows"),
  Command.withExamples([
    { command: "fleuve query \"SELECT system, avg(score) FROM scores GROUP BY ALL\"", description: "Mean score per system" },
    { command: "fleuve query --format json \"SELECT * FROM dead_letters\"", description: "Dead letters as JSON" }
  ])
)
