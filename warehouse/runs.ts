import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { Warehouse } from "./warehouse.ts"

/** Records a job in `runs`, so every row can be traced to the command that wrote it. */
export const Runs = {
  newId: () => `${new Date().toISOString().replace(/[-:.TZ]/g, "").slice(0, 14)}-${randomUUID().slice(0, 8)}`,
  start: (runId: string, command: string, args: unknown) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      yield* w.exec("INSERT INTO runs (run_id, command, started_at, status, args) VALUES ($1, $2, current_timestamp, 'running', $3)", [
        runId,
        command,
        JSON.stringify(args)
      ])
    }),
  finish: (runId: string, status: "succeeded" | "failed", summary: unknown) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      yield* w.exec("UPDATE runs SET finished_at = current_timestamp, status = $2, summary = $3 WHERE run_id = $1", [
        runId,
        status,
        JSON.stringify(summary)
      ])
    })
}
