import { Cause, Context, Effect, Exit } from "effect"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import { redact, redactValue } from "../lib/redact.ts"
import { Warehouse } from "./warehouse.ts"

export type RunStatus = "running" | "succeeded" | "failed" | "interrupted"

/**
 * The command line a run is recorded under when the code that starts it is not the command
 * itself: a Kafka sink worker's landing run is `worker land-scores --pipeline sample-scores`,
 * not the label its pipeline gives it for `fleuve run`.
 */
export const RunCommand = Context.Reference<string | undefined>("fleuve/warehouse/RunCommand", { defaultValue: () => undefined })

/** Runs this process started and has not finished: `settleOpen` ends them when it stops. */
const openRuns = new Set<string>()

/** Whether a process of this host still exists (EPERM: it does, owned by someone else). */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const messageOf = (cause: Cause.Cause<unknown>) => {
  const e = Cause.squash(cause)
  return redact(e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String((e as { message: unknown }).message) : String(e))
}

/**
 * Records a job in `runs`, so every row can be traced to the command that wrote it, with the
 * process (pid, host) that ran it and how it ended. Arguments and error messages are stored
 * redacted (lib/redact.ts): a URL's credentials or an API key never land in the warehouse.
 */
export const Runs = {
  newId: () => `${new Date().toISOString().replace(/[-:.TZ]/g, "").slice(0, 14)}-${randomUUID().slice(0, 8)}`,
  /**
   * Marks `interrupted` every run still `running` whose process on this host is gone (killed,
   * crashed): DuckDB lets one process write a file, so such a row can never finish by itself.
   * Rows from before pids were recorded are treated the same. Returns the ids marked.
   */
  sweepStale: Effect.gen(function*() {
    const w = yield* Warehouse
    const me = hostname()
    const rows = yield* w.query<{ run_id: string; pid: number | null; host: string | null }>("SELECT run_id, pid, host FROM runs WHERE status = 'running'")
    const stale = rows.filter((r) => r.pid === null || (r.host === me && r.pid !== process.pid && !alive(r.pid)))
    for (const r of stale) {
      yield* w.exec(
        `UPDATE runs SET status = 'interrupted', finished_at = current_timestamp,
           summary = json_merge_patch(coalesce(summary, '{}'::JSON), $2::JSON) WHERE run_id = $1 AND status = 'running'`,
        [r.run_id, JSON.stringify({ interrupted: r.pid === null ? "found running with no process recorded" : `process ${r.pid} on ${r.host} was gone at the next start` })]
      )
    }
    return stale.map((r) => r.run_id)
  }),
  start: (runId: string, command: string, args: unknown) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      const label = yield* RunCommand
      yield* Runs.sweepStale
      yield* w.exec("INSERT INTO runs (run_id, command, started_at, status, args, pid, host) VALUES ($1, $2, current_timestamp, 'running', $3, $4, $5)", [
        runId,
        label ?? command,
        JSON.stringify(redactValue(args) ?? null),
        process.pid,
        hostname()
      ])
      openRuns.add(runId)
    }),
  finish: (runId: string, status: Exclude<RunStatus, "running">, summary: unknown) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      openRuns.delete(runId)
      yield* w.exec("UPDATE runs SET finished_at = current_timestamp, status = $2, summary = $3 WHERE run_id = $1", [
        runId,
        status,
        JSON.stringify(redactValue(summary) ?? null)
      ])
    }),
  /**
   * Ends a run that its body left `running`: failed (with the error, redacted) or interrupted
   * (Ctrl-C, SIGTERM); a body that succeeded without finishing it is marked succeeded. A run the
   * body already finished is left as it is. Use after `start`: `body.pipe(Runs.settle(runId))`.
   */
  settle: (runId: string) => <A, E, R>(body: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Warehouse> =>
    body.pipe(Effect.onExit((exit) => settleAs(runId, exit))),
  /**
   * Ends every run this process started and left open (a long-lived sink worker's landing run)
   * with the process's exit: call it, with the warehouse still open, as the worker stops.
   */
  settleOpen: (exit: Exit.Exit<unknown, unknown>) => Effect.forEach([...openRuns], (runId) => settleAs(runId, exit), { discard: true }),
  /** Runs `body` as one recorded run: start, then the body, then its final status (see settle). */
  record: <A, E, R>(command: string, args: unknown, body: (runId: string) => Effect.Effect<A, E, R>) =>
    // The start and the settling are one step for interruption: a Ctrl-C between the row's insert
    // and the body would otherwise leave it `running`.
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const runId = Runs.newId()
        yield* Runs.start(runId, command, args)
        return yield* restore(body(runId)).pipe(Runs.settle(runId))
      })
    )
}

/** Ends one run from how its body exited, unless it was already finished. */
const settleAs = (runId: string, exit: Exit.Exit<unknown, unknown>) =>
  Effect.gen(function*() {
    openRuns.delete(runId)
    const w = yield* Warehouse
    const status: RunStatus = Exit.isSuccess(exit) ? "succeeded" : Cause.hasInterruptsOnly(exit.cause) ? "interrupted" : "failed"
    const summary = Exit.isSuccess(exit) ? {} : status === "interrupted" ? { interrupted: "stopped by a signal" } : { error: messageOf(exit.cause) }
    yield* w.exec(
      `UPDATE runs SET finished_at = current_timestamp, status = $2,
         summary = json_merge_patch(coalesce(summary, '{}'::JSON), $3::JSON) WHERE run_id = $1 AND status = 'running'`,
      [runId, status, JSON.stringify(summary)]
    )
  }).pipe(Effect.ignore)
