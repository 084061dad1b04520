import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect } from "effect"
import { importScores } from "../../pipelines/import-scores.ts"
import { ANALYSIS_TABLES, runAnalyses } from "../../analysis/analyses.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { type AnalysisFixture, assertTable, loadFixture, TABLE_KEYS, writeScores } from "../helpers/analyses.ts"
import { runWithWarehouse, tempWarehousePath } from "../helpers/warehouse.ts"

const readTables = Effect.gen(function*() {
  const w = yield* Warehouse
  const out: Record<string, ReadonlyArray<Record<string, unknown>>> = {}
  for (const t of ANALYSIS_TABLES) out[t] = yield* w.query(`SELECT * FROM ${t}`)
  return out
})

/** Imports a fixture's scores through the real import path into a fresh warehouse. */
const importFixture = async (fixture: AnalysisFixture) => {
  const db = tempWarehousePath()
  const summary = await runWithWarehouse(db, importScores(writeScores(fixture), { keepGoing: false }))
  assert.equal(summary.rejected, 0)
  assert.equal(summary.landed, fixture.scores.length)
  return db
}

const checkAgainstScipy = (fixture: AnalysisFixture, family: "system" | "all", tables: Record<string, ReadonlyArray<Record<string, unknown>>>) => {
  const expected = fixture.expected[family]
  for (const table of ANALYSIS_TABLES) {
    const rows = table === "paired_tests" ? tables[table]!.filter((r) => r.test !== "bootstrap") : tables[table]!
    assertTable(`${fixture.name}/${family}/${table}`, rows, expected[table]!, TABLE_KEYS[table]!)
  }
  // Bootstrap: a Monte Carlo interval, checked against scipy's percentile interval from 200,000
  // resamples within a few Monte Carlo standard errors (the tolerance the fixture carries).
  const boot = tables.paired_tests!.filter((r) => r.test === "bootstrap")
  assert.equal(boot.length, expected.bootstrap.length)
  for (const e of expected.bootstrap) {
    const a = boot.find((r) => r.task === e.task && r.shots === e.shots && r.system === e.system)
    assert.ok(a, `bootstrap row for ${e.task}/${e.shots}/${e.system}`)
    assert.equal(a.n, e.n)
    for (const k of ["ci_low", "ci_high"] as const) {
      const diff = Math.abs((a[k] as number) - (e[k] as number))
      assert.ok(diff <= (e.tolerance as number) + 1e-12, `${fixture.name} bootstrap ${e.task}/${e.shots}/${e.system} ${k} = ${a[k]}, scipy ${e[k]} (tolerance ${e.tolerance})`)
    }
  }
}

for (const name of ["enmed", "tiny", "degenerate", "partial"]) {
  test(`${name}: every analysis table matches scipy/statsmodels, both BH families`, async () => {
    const fixture = loadFixture<AnalysisFixture>(name)
    const db = await importFixture(fixture)
    for (const family of ["system", "all"] as const) {
      const tables = await runWithWarehouse(db, Effect.gen(function*() {
        const summary = yield* runAnalyses({ reference: fixture.reference, alpha: fixture.alpha, family, seed: 1 })
        assert.deepEqual(Object.fromEntries(summary.metrics.map((m) => [m.task, m.metric])), fixture.expected[family].metrics)
        return yield* readTables
      }))
      checkAgainstScipy(fixture, family, tables)
    }
  })
}

test("partial grid (issue 21): a system with one cell nobody else has is reported apart, not joint #1; the 0-shot Friedman row stays and says why", async () => {
  const fixture = loadFixture<AnalysisFixture>("partial")
  const db = await importFixture(fixture)
  const { summary, ranking, friedman } = await runWithWarehouse(db, Effect.gen(function*() {
    const summary = yield* runAnalyses({ reference: fixture.reference, resamples: 200 })
    const w = yield* Warehouse
    return {
      summary,
      ranking: yield* w.query<{ system: string; rank: number | null; ranked: boolean; cells: number; grid_size: number }>("SELECT * FROM global_ranking"),
      friedman: yield* w.query<{ shots: number; k: number; n: number; chi2: number | null; note: string | null }>("SELECT * FROM friedman ORDER BY shots")
    }
  }))
  const lmEval = ranking.find((r) => r.system === "lm-eval-import")!
  assert.equal(lmEval.ranked, false)
  assert.equal(lmEval.rank, null)
  assert.equal(lmEval.cells, 1)
  assert.deepEqual(ranking.filter((r) => r.rank === 1).map((r) => r.system), ["unified"])
  assert.ok(ranking.filter((r) => r.ranked).every((r) => r.grid_size === 8))
  assert.deepEqual(friedman.map((f) => [f.shots, f.k, f.n]), [[0, 4, 3], [3, 4, 3], [5, 4, 2]])
  assert.match(friedman[0]!.note!, /lm-eval-import \(0 of 3 tasks\) left out/)
  assert.match(friedman[0]!.note!, /mmlu-fr \(1 system\)/)
  assert.equal(friedman[1]!.note, null)
  assert.match(friedman[2]!.note!, /N = 2 tasks \(< 3 blocks\)/)
  assert.equal(summary.warnings.length, 3)
  assert.match(summary.warnings[0]!, /systems do not share the same cells: the global ranking ranks 4 systems over the 8 cells every one of them has; reported apart without a rank: lm-eval-import \(0 of 8 shared cells, 1 in all\)/)
})

test("the bootstrap is reproducible: same seed, same intervals; another seed, other intervals", async () => {
  const fixture = loadFixture<AnalysisFixture>("enmed")
  const db = await importFixture(fixture)
  const bootstrapRows = (seed: number) =>
    runWithWarehouse(db, Effect.gen(function*() {
      yield* runAnalyses({ reference: fixture.reference, seed })
      const w = yield* Warehouse
      return yield* w.query("SELECT task, shots, system, ci_low, ci_high FROM paired_tests WHERE test = 'bootstrap' ORDER BY ALL")
    }))
  const first = await bootstrapRows(42)
  assert.deepEqual(await bootstrapRows(42), first)
  assert.notDeepEqual(await bootstrapRows(43), first)
})

test("--metric TASK=METRIC analyses that metric; unknown metric and reference fail clearly", async () => {
  const fixture = loadFixture<AnalysisFixture>("enmed")
  const db = await importFixture(fixture)
  const emMeans = new Map<string, Array<number>>()
  for (const r of fixture.scores.filter((s) => s.task === "extqa" && s.metric === "em")) {
    const key = `${r.shots}|${r.system}`
    emMeans.set(key, [...(emMeans.get(key) ?? []), r.score as number])
  }
  const rows = await runWithWarehouse(db, Effect.gen(function*() {
    yield* runAnalyses({ reference: fixture.reference, metrics: { extqa: "em" } })
    const w = yield* Warehouse
    return yield* w.query<{ shots: number; system: string; n: number; mean: number }>("SELECT shots, system, n, mean FROM cell_scores WHERE task = 'extqa'")
  }))
  assert.equal(rows.length, emMeans.size)
  for (const r of rows) {
    const xs = emMeans.get(`${r.shots}|${r.system}`)!
    assert.equal(r.n, xs.length)
    assert.ok(Math.abs(r.mean - xs.reduce((a, b) => a + b, 0) / xs.length) < 1e-12)
  }
  const failure = (options: Parameters<typeof runAnalyses>[0]) =>
    runWithWarehouse(db, runAnalyses(options).pipe(Effect.flip, Effect.map((e) => e.message)))
  assert.match(await failure({ reference: fixture.reference, metrics: { extqa: "bleu" } }), /task 'extqa' has no 'bleu' scores; it has: em, f1/)
  assert.match(await failure({ reference: "nobody" }), /unknown reference system 'nobody'; known systems: late, mcqa-lora, partial, twin, unified, vanilla/)
})
