/**
 * The services a command runs with: the warehouse (DuckDB, single-writer per file) and the
 * embedded runtime. Commands get them from here rather than opening the warehouse themselves.
 */
import { Effect, Layer } from "effect"
import { WarehouseError } from "../warehouse/errors.ts"
import { Runs } from "../warehouse/runs.ts"
import { type OpenOptions, Warehouse } from "../warehouse/warehouse.ts"
import { EmbeddedRuntime } from "./runtime/embedded.ts"

export { Warehouse } from "../warehouse/warehouse.ts"
export type { Row } from "../warehouse/values.ts"
export type { StatsSnapshot } from "../operators/stats.ts"

/**
 * The warehouse file at `path`, opened when the command starts; `readOnly` shares it with other
 * readers (a notebook), `mustExist` refuses to create it (commands that only read or analyse).
 */
export const warehouseAt = (path: string, options: OpenOptions = {}) => Warehouse.layer(path, options)

/**
 * `body` recorded as one run of `command` in `runs`, ending succeeded, failed (with the error,
 * redacted) or interrupted; its result becomes the run's summary when it is an object.
 */
export const recordedRun = <A, E, R>(command: string, args: unknown, body: Effect.Effect<A, E, R>) =>
  Runs.record(command, args, (runId) =>
    body.pipe(Effect.tap((a) => (a !== null && typeof a === "object" ? Runs.finish(runId, "succeeded", a) : Effect.void))))

/** The services most commands need: the warehouse at `path` and the embedded runtime. */
export const withWarehouse = (path: string) => Layer.mergeAll(Warehouse.layer(path), EmbeddedRuntime)

/**
 * DuckDB is single-writer per file: only a sink's worker opens the warehouse. Other workers get
 * this stand-in, which refuses every use with a message saying why.
 */
/** Whether this process has a warehouse, or noWarehouse's stand-in (a stage's worker). */
export const hasWarehouse = Effect.gen(function*() {
  return (yield* Warehouse).path !== NO_WAREHOUSE_PATH
})

const NO_WAREHOUSE_PATH = ""

export const noWarehouse = (node: string) => {
  const refuse = Effect.fail(new WarehouseError({ message: `worker '${node}' does not open the warehouse: only the sink's worker writes the DuckDB file` }))
  return Layer.succeed(Warehouse, Warehouse.of({
    path: NO_WAREHOUSE_PATH,
    exec: () => refuse,
    query: () => refuse,
    append: () => refuse,
    transaction: () => refuse,
    get connection(): never {
      throw new Error(`worker '${node}' has no warehouse connection`)
    }
  }))
}
