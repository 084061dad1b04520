import { Console, Effect } from "effect"
import { Warehouse } from "../../pipelines/services.ts"
import type { QueryArgs } from "../flags/query.ts"
import { reportFailure } from "../common.ts"
import { formatRows } from "../format.ts"

export const queryHandler = ({ sql, warehouse, format }: QueryArgs) =>
  Effect.gen(function*() {
    const w = yield* Warehouse
    const rows = yield* w.query(sql)
    yield* Console.log(formatRows(rows, format))
  }).pipe(Effect.provide(Warehouse.layer(warehouse)), Effect.catchTag("WarehouseError", reportFailure))
