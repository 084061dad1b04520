// A process that starts a run in a warehouse and waits, the warehouse still open, to be killed:
// the stale-run tests SIGKILL it (no close, no checkpoint: what the next opener must recover from)
// and check the next start marks its run `interrupted`.
// `node --import tsx test/helpers/hold-run.ts WAREHOUSE [RUN_ID]`
import { Effect } from "effect"
import { Runs } from "../../warehouse/runs.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"

setInterval(() => {}, 1000)
await Effect.runPromise(Effect.gen(function*() {
  yield* Runs.start(process.argv[3] ?? "held-run", "hold-run", { purpose: "killed by a test" })
  process.stdout.write("started\n")
  yield* Effect.never
}).pipe(Effect.scoped, Effect.provide(Warehouse.layer(process.argv[2]!))))
