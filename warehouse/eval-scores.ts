import { listValue } from "@duckdb/node-api"
import { Effect } from "effect"
import type { Score } from "../schemas/evaluation.ts"
import { scoreColumnList, scoreColumns, scoreKeyColumns, scoreStagingTable, scoreValues } from "./score-columns.ts"
import { stagingName } from "./staging.ts"
import { stagedSql, Warehouse } from "./warehouse.ts"

/**
 * Landing evaluation scores with re-evaluation in mind: a new score for a key that already has
 * one replaces it, and the old row moves to score_history (reason "changed"); scores of removed
 * items move there too (reason "retired"). `scores` always holds the current answer only.
 */
export const EvalScores = {
  replace: (runId: string, rows: ReadonlyArray<{ readonly score: Score; readonly source: string }>) =>
    Effect.gen(function*() {
      if (rows.length === 0) return { replaced: 0, inserted: 0 }
      const w = yield* Warehouse
      const eval_score_staging = stagingName("eval_score_staging")
      yield* w.exec(scoreStagingTable(eval_score_staging, ["source VARCHAR"]))
      yield* w.append(eval_score_staging, rows.map(({ score, source }) => [...scoreValues(score), source]))
      const [{ n }] = (yield* w.query<{ n: number }>(`SELECT count(*) AS n FROM scores JOIN ${eval_score_staging} USING (${scoreKeyColumns})`)) as [{ n: number }]
      yield* w.exec(`INSERT INTO score_history (${scoreColumnList}, run_id, source, created_at, superseded_by, reason)
        SELECT ${scoreColumns.map((c) => `s.${c.column}`).join(", ")}, s.run_id, s.source, s.created_at, $1, 'changed'
        FROM scores s JOIN ${eval_score_staging} USING (${scoreKeyColumns})`, [runId])
      yield* w.exec(`DELETE FROM scores WHERE (${scoreKeyColumns}) IN (SELECT (${scoreKeyColumns}) FROM ${eval_score_staging})`)
      yield* w.exec(`INSERT INTO scores (${scoreColumnList}, run_id, source)
        SELECT DISTINCT ON (${scoreKeyColumns}) ${scoreColumnList}, $1, source FROM ${eval_score_staging}`, [runId])
      yield* w.exec(`DROP TABLE ${eval_score_staging}`)
      return { replaced: n, inserted: rows.length - n }
    }),

  retire: (runId: string, dataset: string, itemIds: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      if (itemIds.length === 0) return 0
      const w = yield* Warehouse
      const ids = listValue([...itemIds])
      const [{ n }] = (yield* w.query<{ n: number }>("SELECT count(*) AS n FROM scores WHERE dataset_version = $1 AND item_id IN (SELECT unnest($2::VARCHAR[]))", [dataset, ids])) as [{ n: number }]
      yield* w.exec(`INSERT INTO score_history (${scoreColumnList}, run_id, source, created_at, superseded_by, reason)
        SELECT ${scoreColumnList}, run_id, source, created_at, $3, 'retired'
        FROM scores WHERE dataset_version = $1 AND item_id IN (SELECT unnest($2::VARCHAR[]))`, [dataset, ids, runId])
      yield* w.exec("DELETE FROM scores WHERE dataset_version = $1 AND item_id IN (SELECT unnest($2::VARCHAR[]))", [dataset, ids])
      return n
    })
}

export const Judgements = {
  get: (keys: ReadonlyArray<string>, judge: string) =>
    Effect.gen(function*() {
      if (keys.length === 0) return new Map<string, number>()
      const w = yield* Warehouse
      const rows = yield* w.query<{ cache_key: string; score: number }>(
        "SELECT cache_key, score FROM judgements WHERE judge = $1 AND item_order = 'reference-first' AND cache_key IN (SELECT unnest($2::VARCHAR[]))",
        [judge, listValue([...keys])]
      )
      return new Map(rows.map((r) => [r.cache_key, r.score]))
    }),
  put: (rows: ReadonlyArray<{ cacheKey: string; judge: string; kind: string; order: string; score: number; raw: string }>) =>
    Effect.gen(function*() {
      if (rows.length === 0) return
      const w = yield* Warehouse
      const judgement_staging = stagingName("judgement_staging")
      yield* w.exec(`CREATE OR REPLACE TEMP TABLE ${judgement_staging} AS SELECT * EXCLUDE (created_at) FROM judgements LIMIT 0`)
      yield* w.append(judgement_staging, rows.map((r) => [r.cacheKey, r.judge, r.kind, r.order, r.score, r.raw]))
      yield* w.exec(stagedSql("judgements", judgement_staging))
      yield* w.exec(`DROP TABLE ${judgement_staging}`)
    })
}
