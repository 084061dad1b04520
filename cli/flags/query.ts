import { Argument, Flag } from "effect/cli"
import { type ArgsOf } from "../lazy.ts"
import { warehouseFlag } from "./warehouse.ts"
import { withDefaultSaid } from "./defaults.ts"

export const queryFlags = {
  sql: Argument.String("sql").pipe(Argument.withDescription("SQL to run against the warehouse")),
  warehouse: warehouseFlag,
  format: Flag.Literals("format", ["table", "json", "csv"]).pipe(
    Flag.withDescription(withDefaultSaid("table (aligned, for people), json (one array of row objects), csv", "table")),
    Flag.withDefault("table")
  ),
  write: Flag.Boolean("write").pipe(
    Flag.withDescription("Open the warehouse read-write, for statements that change data (recorded in `runs`). Default: read-only, which other read-only readers (a notebook) do not block"),
    Flag.withDefault(false)
  )
}
export type QueryArgs = ArgsOf<typeof queryFlags>
