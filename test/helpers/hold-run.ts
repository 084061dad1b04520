// A process that starts a run in a warehouse and then waits to be killed: the stale-run tests
// SIGKILL it and check the next start marks its run `interrupted`.
// `node --import tsx test/helpers/hold-run.ts WAREHOUSE`
import { Effect } from "effect"
import { Runs } from "../../warehouse/runs.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"

await Effect.runPromise(Effect.gen(function*() {
  yield* Runs.start(process.argv[3] ?? "held-run", "hold-run", { purpose: "killed by a test" })
}).pipe(Effect.provide(Warehouse.layer(process.argv[2]!))))
// The warehouse is closed (the layer's scope ended) so the test can open it; the run stays `running`.
process.stdout.write("started\n")
setInterval(() => {}, 1000)
