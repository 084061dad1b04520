import { Effect, Layer } from "effect"
import { WarehouseError } from "../warehouse/errors.ts"
import { Warehouse } from "../warehouse/warehouse.ts"

/**
 * DuckDB is single-writer per file: only a sink's worker opens the warehouse. Other workers get
 * this stand-in, which refuses every use with a message saying why.
 */
export const noWarehouse = (node: string) => {
  const refuse = Effect.fail(new WarehouseError({ message: `worker '${node}' does not open the warehouse: only the sink's worker writes the DuckDB file` }))
  return Layer.succeed(Warehouse, Warehouse.of({
    path: "",
    exec: () => refuse,
    query: () => refuse,
    append: () => refuse,
    transaction: () => refuse,
    get connection(): never {
      throw new Error(`worker '${node}' has no warehouse connection`)
    }
  }))
}
