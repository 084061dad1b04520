import { Effect } from "effect"
import type { Score } from "../schemas/evaluation.ts"
import { scoreStagingTable, scoreValues } from "./score-columns.ts"
import { sqlFile, Warehouse } from "./warehouse.ts"

export interface StagedScore {
  readonly score: Score
  /** Where the row came from (file:line), kept in the warehouse as `scores.source`. */
  readonly source: string
  /** Order of the row in its input (line or offset): the first row of a key wins. */
  readonly seq: number
}

export interface ScoreConflict {
  readonly seq: number
  readonly source: string
  readonly reason: string
  readonly record: Record<string, unknown>
}

export interface MergeCounts {
  readonly newKeys: number
  readonly existingKeys: number
  readonly repeatedRows: number
}

/**
 * Score landing in three steps: stage (bulk append), check (conflicts found in SQL), merge
 * (idempotent insert). Nothing reaches `scores` until the merge, so a strict import that fails
 * leaves the warehouse untouched.
 */
export const ScoreStore = {
  begin: Effect.gen(function*() {
    const w = yield* Warehouse
    // One import's rows before they are checked and merged into `scores`; `seq` is the arrival
    // order (the first row of a key wins). Temporary: it lives only as long as the connection.
    yield* w.exec(scoreStagingTable("score_staging", ["source VARCHAR NOT NULL", "seq BIGINT NOT NULL"]))
    yield* w.exec("CREATE OR REPLACE TEMP TABLE score_rejected (seq BIGINT)")
    return {
      stage: (rows: ReadonlyArray<StagedScore>) =>
        w.append(
          "score_staging",
          rows.map(({ score, source, seq }) => [...scoreValues(score), source, BigInt(seq)])
        ),
      conflicts: w.query<Record<string, unknown>>(sqlFile("score_conflicts")).pipe(
        Effect.map((rows) =>
          rows.map(({ seq, source, reason, ...record }): ScoreConflict => ({ seq: Number(seq), source: String(source), reason: String(reason), record }))
        )
      ),
      reject: (seqs: ReadonlyArray<number>) => (seqs.length === 0 ? Effect.void : w.append("score_rejected", seqs.map((s) => [BigInt(s)]))),
      merge: (runId: string) =>
        Effect.gen(function*() {
          const [counts] = yield* w.query<{ new_keys: number; existing_keys: number; repeated_rows: number }>(sqlFile("score_import_counts"))
          yield* w.exec(sqlFile("scores"), { run_id: runId })
          return { newKeys: counts!.new_keys, existingKeys: counts!.existing_keys, repeatedRows: counts!.repeated_rows } satisfies MergeCounts
        }),
      /**
       * Streaming landing: stages one batch and merges it at once, in one transaction, then
       * empties the staging table. Idempotent on the row key (the merge skips keys already in
       * `scores`), so a replayed batch lands nothing twice.
       */
      land: (rows: ReadonlyArray<StagedScore>, runId: string) =>
        w.transaction(Effect.gen(function*() {
          yield* w.append(
            "score_staging",
            rows.map(({ score, source, seq }) => [...scoreValues(score), source, BigInt(seq)])
          )
          yield* w.exec(sqlFile("scores"), { run_id: runId })
          yield* w.exec("DELETE FROM score_staging")
        })),
      discard: w.exec("DROP TABLE IF EXISTS score_staging; DROP TABLE IF EXISTS score_rejected")
    }
  })
}
