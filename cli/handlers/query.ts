import { Console, Effect } from "effect"
import { recordedRun, Warehouse, warehouseAt } from "../../pipelines/services.ts"
import type { QueryArgs } from "../flags/query.ts"
import { reportFailure } from "../common.ts"
import { formatRows } from "../format.ts"

/**
 * Read-only by default: DuckDB lets several read-only processes share a file (a notebook and this
 * command), while one read-write opener locks everyone else out. `--write` opens it read-write and
 * records the statement as a run. Either way the file must exist.
 */
export const queryHandler = ({ sql, warehouse, format, write }: QueryArgs) => {
  const body = Effect.gen(function*() {
    const w = yield* Warehouse
    const rows = yield* w.query(sql)
    yield* Console.log(formatRows(rows, format))
    return { rows: rows.length }
  })
  return (write ? recordedRun("query --write", { sql }, body) : body).pipe(
    Effect.provide(warehouseAt(warehouse, { readOnly: !write, mustExist: true })),
    Effect.catchTag("WarehouseError", reportFailure)
  )
}
