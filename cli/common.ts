import { Effect, Layer } from "effect"
import { EmbeddedRuntime } from "../pipelines/runtime/embedded.ts"
import { Warehouse } from "../warehouse/warehouse.ts"

/** Prints a typed failure as one clear message and sets a failing exit code; no stack traces. */
export const reportFailure = (e: { readonly message: string }) =>
  Effect.sync(() => {
    process.stderr.write(`fleuve: ${e.message}\n`)
    process.exitCode = 1
  })

/** The services most commands need: the warehouse at `path` and the embedded runtime. */
export const withWarehouse = (path: string) => Layer.mergeAll(Warehouse.layer(path), EmbeddedRuntime)
