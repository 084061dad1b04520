import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { runAnalyses } from "../../analysis/analyses.ts"
import { generatedBlock } from "../../lib/generated-block.ts"
import { importScores } from "../../pipelines/import-scores.ts"
import { columnDocs, readmeTables, SCHEMA_DOCS } from "../../warehouse/schema-docs.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { type AnalysisFixture, loadFixture, writeScores } from "../helpers/analyses.ts"
import { runWithWarehouse, tempWarehousePath } from "../helpers/warehouse.ts"

const root = join(import.meta.dirname, "..", "..")

/** A warehouse after an import and `fleuve analyze`: every table the code creates is there. */
const analysedWarehouse = async (fixture: AnalysisFixture) => {
  const db = tempWarehousePath()
  await runWithWarehouse(db, importScores(writeScores(fixture), { keepGoing: false }))
  await runWithWarehouse(db, runAnalyses({ reference: fixture.reference, resamples: 100 }).pipe(Effect.asVoid))
  return db
}

test("every table, view and column of the warehouse carries its COMMENT from warehouse/schema-docs.ts, and every documented one exists", async () => {
  const db = await analysedWarehouse(loadFixture<AnalysisFixture>("partial"))
  const { columns, tables } = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return {
      columns: yield* w.query<{ t: string; c: string; comment: string | null }>(
        "SELECT table_name AS t, column_name AS c, comment FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' ORDER BY ALL"
      ),
      tables: yield* w.query<{ t: string; comment: string | null }>(
        "SELECT table_name AS t, comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' UNION ALL SELECT view_name, comment FROM duckdb_views() WHERE NOT internal AND database_name = current_database() AND schema_name = 'main' ORDER BY ALL"
      )
    }
  }))
  const undocumented = columns.filter((c) => !c.comment).map((c) => `${c.t}.${c.c}`)
  assert.deepEqual(undocumented, [], "document these columns in warehouse/schema-docs.ts")
  assert.deepEqual(tables.filter((t) => !t.comment).map((t) => t.t), [], "document these tables in warehouse/schema-docs.ts")
  for (const c of columns) assert.equal(c.comment, SCHEMA_DOCS[c.t]!.columns[c.c], `${c.t}.${c.c}`)
  const present = new Set(columns.map((c) => `${c.t}.${c.c}`))
  const stale = Object.entries(SCHEMA_DOCS).flatMap(([t, d]) => Object.keys(d.columns).map((c) => `${t}.${c}`)).filter((k) => !present.has(k))
  assert.deepEqual(stale, [], "documented but absent from the warehouse")
})

test("README's warehouse table and docs/warehouse.md are generated from the same source (node --import tsx scripts/docs/warehouse-tables.ts)", () => {
  assert.equal(generatedBlock(readFileSync(join(root, "README.md"), "utf8"), "warehouse-tables"), readmeTables())
  assert.equal(generatedBlock(readFileSync(join(root, "docs/warehouse.md"), "utf8"), "warehouse-tables"), columnDocs())
})

test("scores_primary has one row per item with the task's primary metric; README's first query runs on it", async () => {
  const fixture = loadFixture<AnalysisFixture>("enmed")
  const db = tempWarehousePath()
  await runWithWarehouse(db, importScores(writeScores(fixture), { keepGoing: false }))
  const readme = readFileSync(join(root, "README.md"), "utf8")
  const first = /npx fleuve query "([^"]+)"/.exec(readme)![1]!
  const { perItem, metrics, rows } = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return {
      perItem: yield* w.query<{ n: number }>("SELECT max(c)::INTEGER AS n FROM (SELECT count(*) AS c FROM scores_primary GROUP BY system, task, shots, item_id, dataset_version)"),
      metrics: yield* w.query<{ task: string; metric: string }>("SELECT task, metric FROM task_primary_metrics ORDER BY task"),
      rows: yield* w.query<{ task: string; metric: string; n: number; mean: number }>(first)
    }
  }))
  assert.equal(perItem[0]!.n, 1)
  // extqa has f1 and em: the primary is f1, and README's query averages f1 only.
  assert.deepEqual(metrics, [{ task: "absqa", metric: "judge" }, { task: "extqa", metric: "f1" }, { task: "mcqa", metric: "acc" }])
  assert.ok(rows.length > 0 && rows.every((r) => r.metric === metrics.find((m) => m.task === r.task)!.metric))
  const f1 = fixture.scores.filter((s) => s.task === "extqa" && s.metric === "f1" && s.system === "vanilla" && s.shots === 0)
  const row = rows.find((r) => r.task === "extqa" && (r as Record<string, unknown>).system === "vanilla" && (r as Record<string, unknown>).shots === 0)!
  assert.equal(row.n, f1.length)
  assert.equal(row.mean, Math.round((f1.reduce((a, s) => a + (s.score as number), 0) / f1.length) * 1000) / 1000)
})
