import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { formatRows } from "../format.ts"
import { reportFailure } from "../common.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

export const queryCommand = Command.make(
  "query",
  {
    sql: Argument.String("sql").pipe(Argument.withDescription("SQL to run against the warehouse")),
    warehouse: warehouseFlag,
    format: Flag.Literals("format", ["table", "json", "csv"]).pipe(
      Flag.withDescription("table (aligned, for people), json (one array of row objects), csv"),
      Flag.withDefault("table")
    )
  },
  ({ sql, warehouse, format }) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      const rows = yield* w.query(sql)
      yield* Console.log(formatRows(rows, format))
    }).pipe(Effect.provide(Warehouse.layer(warehouse)), Effect.catchTag("WarehouseError", reportFailure))
).pipe(
  Command.withDescription("Run SQL against the warehouse and print the rows"),
  Command.withExamples([
    { command: "fleuve query \"SELECT system, avg(score) FROM scores GROUP BY ALL\"", description: "Mean score per system" },
    { command: "fleuve query --format json \"SELECT * FROM dead_letters\"", description: "Dead letters as JSON" }
  ])
)
