/** The warehouse's memory of studies: `studies` (each run's file, plan, versions) and `study_steps` (each step's key and status). */
import { Effect } from "effect"
import { redactValue } from "../lib/redact.ts"
import { Warehouse } from "./warehouse.ts"

export type StepStatus = "running" | "succeeded" | "failed" | "interrupted"

export interface StepRecord {
  readonly step: string
  readonly key: string
  readonly status: StepStatus
  readonly output: string | null
  readonly seconds: number | null
  readonly finishedAt: string | null
}

export const Studies = {
  /** Records a study run: the file's text, the resolved plan and the versions (secrets redacted). */
  record: (runId: string, study: string, file: string, content: string, plan: unknown, versions: unknown) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      yield* w.exec("INSERT INTO studies (run_id, study, file, content, plan, versions) VALUES ($1, $2, $3, $4, $5, $6)", [
        runId,
        study,
        file,
        content,
        JSON.stringify(redactValue(plan) ?? null),
        JSON.stringify(versions)
      ])
    }),

  /** The steps of a study that succeeded, by step id and key. */
  succeeded: (study: string) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      const rows = yield* w.query<{ step: string; key: string; status: StepStatus; output: string | null; seconds: number | null; finished_at: string | null }>(
        "SELECT step, key, status, output, seconds, CAST(finished_at AS VARCHAR) AS finished_at FROM study_steps WHERE study = $1 AND status = 'succeeded'",
        [study]
      )
      return new Map(rows.map((r): [string, StepRecord] => [`${r.step}\0${r.key}`, { step: r.step, key: r.key, status: r.status, output: r.output, seconds: r.seconds, finishedAt: r.finished_at }]))
    }),

  start: (study: string, step: string, key: string, studyRunId: string, runId: string, output: string | null) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      yield* w.exec(
        `INSERT OR REPLACE INTO study_steps (study, step, key, status, study_run_id, run_id, output, started_at)
         VALUES ($1, $2, $3, 'running', $4, $5, $6, current_timestamp)`,
        [study, step, key, studyRunId, runId, output]
      )
    }),

  finish: (study: string, step: string, key: string, status: Exclude<StepStatus, "running">, seconds: number, summary: unknown) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      yield* w.exec(
        "UPDATE study_steps SET status = $4, finished_at = current_timestamp, seconds = $5, summary = $6 WHERE study = $1 AND step = $2 AND key = $3",
        [study, step, key, status, seconds, JSON.stringify(redactValue(summary) ?? null)]
      )
    })
}
