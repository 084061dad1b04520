// The warehouse's schema: the Score columns defined once, and migrations numbered without gaps.
// The Score record's columns are defined once (warehouse/score-columns.ts, from the Score
// Schema): the list names every field of the Schema, in order, and the tables the migrations
// made carry exactly these columns with these types, first, in this order.
import assert from "node:assert/strict"
import { Effect } from "effect"
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Score } from "../../schemas/evaluation.ts"
import { scoreColumns, scoreStagingTable } from "../../warehouse/score-columns.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { repoRoot } from "../helpers/paths.ts"
import { runWithWarehouse, tempWarehousePath } from "../helpers/warehouse.ts"

test("the score columns name every field of the Score Schema, in order", () => {
  assert.deepEqual(scoreColumns.map((c) => c.field), Object.keys(Score.fields))
})

test("scores, score_history and the staging tables carry the Score columns first, with their types and nullability", async () => {
  const columns = await runWithWarehouse(tempWarehousePath(), Effect.gen(function*() {
    const w = yield* Warehouse
    yield* w.exec(scoreStagingTable("probe_staging", ["source VARCHAR"]))
    return yield* w.query<{ table_name: string; column_name: string; data_type: string; is_nullable: boolean }>(
      "SELECT table_name, column_name, data_type, is_nullable FROM duckdb_columns() WHERE table_name IN ('scores', 'score_history', 'probe_staging') ORDER BY table_name, column_index"
    )
  }))
  const expected = scoreColumns.map((c) => ({ column_name: c.column, data_type: c.type.split(" ")[0], is_nullable: !c.type.includes("NOT NULL") }))
  for (const table of ["scores", "score_history", "probe_staging"]) {
    const got = columns.filter((c) => c.table_name === table).slice(0, scoreColumns.length).map(({ column_name, data_type, is_nullable }) => ({ column_name, data_type, is_nullable }))
    assert.deepEqual(got, expected, table)
  }
})

test("a warehouse made when the corpus migration was numbered 0005 opens as it was, the migration known as 0003", async () => {
  const path = tempWarehousePath()
  await runWithWarehouse(path, Effect.gen(function*() {
    const w = yield* Warehouse
    yield* w.exec("INSERT INTO corpus_documents (doc_id, content_hash, source, status, first_run, last_run) VALUES ('d1', 'h', 's', 'kept', 'r1', 'r1')")
    // As such a warehouse was: without the later 0005 (the similarity column), its corpus migration as version 5.
    yield* w.exec("DELETE FROM schema_migrations WHERE version = 5; ALTER TABLE corpus_documents DROP COLUMN similarity")
    yield* w.exec("UPDATE schema_migrations SET version = 5, name = '0005_corpus.sql' WHERE version = 3")
  }))
  const [migrations, docs] = await runWithWarehouse(path, Effect.gen(function*() {
    const w = yield* Warehouse
    return [yield* w.query<{ version: number; name: string }>("SELECT version, name FROM schema_migrations ORDER BY version"), yield* w.query("SELECT doc_id FROM corpus_documents")]
  }))
  // every migration once, under its own number: 0003 is the corpus one, and none is missing or doubled
  const files = readdirSync(join(repoRoot, "warehouse/migrations")).filter((f) => f.endsWith(".sql")).sort()
  assert.deepEqual(migrations.map((m) => `${m.version} ${m.name}`), files.map((f) => `${Number(f.slice(0, 4))} ${f}`))
  assert.equal(files[2], "0003_corpus.sql")
  assert.equal(docs.length, 1)
})
