/**
 * The services a command runs with: the warehouse (DuckDB, single-writer per file) and the
 * embedded runtime. Commands get them from here rather than opening the warehouse themselves.
 */
import { Effect, Layer } from "effect"
import { WarehouseError } from "../warehouse/errors.ts"
import { Warehouse } from "../warehouse/warehouse.ts"
import { EmbeddedRuntime } from "./runtime/embedded.ts"

export { Warehouse } from "../warehouse/warehouse.ts"
export type { Row } from "../warehouse/values.ts"
export type { StatsSnapshot } from "../operators/stats.ts"

/** The warehouse file at `path`, opened when the command starts. */
export const warehouseAt = (path: string) => Warehouse.layer(path)

/** The services most commands need: the warehouse at `path` and the embedded runtime. */
export const withWarehouse = (path: string) => Layer.mergeAll(Warehouse.layer(path), EmbeddedRuntime)

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
