import assert from "node:assert/strict"
import { test } from "node:test"
import { ANALYSIS_TABLES } from "../../analysis/analyses.ts"
import { type AnalysisFixture, loadFixture, writeScores } from "../helpers/analyses.ts"
import { Effect } from "effect"
import { runCli, runWithWarehouse, tempWarehousePath } from "../helpers/warehouse.ts"

test("fleuve analyze through the CLI: summary on stdout, tables readable with fleuve query", () => {
  const fixture = loadFixture<AnalysisFixture>("enmed")
  const db = tempWarehousePath()
  const imported = runCli(["import-scores", writeScores(fixture), "--warehouse", db])
  assert.equal(imported.code, 0, imported.stderr)

  const run = runCli(["analyze", "--warehouse", db, "--reference", fixture.reference, "--family", "all", "--seed", "3"])
  assert.equal(run.code, 0, run.stderr)
  const expected = fixture.expected.all
  const pairedRows = expected.paired_tests!.length + expected.bootstrap.length
  assert.match(run.stdout, new RegExp(`paired_tests \\(${pairedRows}\\)`))
  assert.match(run.stdout, new RegExp(`cell_scores \\(${expected.cell_scores!.length}\\)`))
  assert.match(run.stdout, /metrics: absqa=judge, extqa=f1, mcqa=acc/)
  assert.match(run.stdout, /significance record vs vanilla/)
  const best = [...expected.significance_record!].sort((a, b) => (b.bh_wins as number) - (a.bh_wins as number) || (b.sig_wins as number) - (a.sig_wins as number))[0]!
  assert.match(run.stdout, new RegExp(`${best.system}\\s+${best.sig_wins}\\s+${best.sig_losses}\\s+${best.bh_wins}\\s+${best.bh_losses}`))
  assert.match(run.stderr, /analyze: bootstrap/, "progress goes to stderr")

  const counts = runCli(["query", "--warehouse", db, "--format", "json", ANALYSIS_TABLES.map((t) => `SELECT '${t}' AS t, count(*) AS n FROM ${t}`).join(" UNION ALL ")])
  assert.equal(counts.code, 0, counts.stderr)
  const byTable = Object.fromEntries((JSON.parse(counts.stdout) as Array<{ t: string; n: number }>).map((r) => [r.t, r.n]))
  assert.equal(byTable.paired_tests, pairedRows)
  assert.equal(byTable.friedman, expected.friedman!.length)
  const q = runCli(["query", "--warehouse", db, "--format", "json", "SELECT system, bh_wins FROM significance_record ORDER BY system"])
  assert.deepEqual(JSON.parse(q.stdout), [...expected.significance_record!].map((r) => ({ system: r.system, bh_wins: r.bh_wins })).sort((a, b) => String(a.system).localeCompare(String(b.system))))

  const unknown = runCli(["analyze", "--warehouse", db, "--reference", "GPT-9"])
  assert.equal(unknown.code, 1)
  assert.match(unknown.stderr, /unknown reference system 'GPT-9'; known systems: late, mcqa-lora, partial, twin, unified, vanilla/)

  // a missing --reference is the error and the usage line, not the whole help
  const missing = runCli(["analyze", "--warehouse", db])
  assert.equal(missing.code, 1)
  assert.equal(missing.stdout, "")
  assert.match(missing.stderr, /^fleuve: Missing required flag: --reference\nusage: fleuve analyze \[flags\]\n\(fleuve analyze --help lists every flag, its default and examples\)\n$/)
})

test("fleuve analyze explains an empty warehouse", async () => {
  const db = tempWarehousePath()
  await runWithWarehouse(db, Effect.void) // made, migrated, and empty
  const empty = runCli(["analyze", "--warehouse", db, "--reference", "x"])
  assert.equal(empty.code, 1)
  assert.match(empty.stderr, /scores table .* is empty: land item-level scores first with `fleuve import-scores FILE`/)
})

test("fleuve analyze warns on stderr when systems do not share the same cells (issue 21's partial grid)", () => {
  const fixture = loadFixture<AnalysisFixture>("partial")
  const db = tempWarehousePath()
  assert.equal(runCli(["import-scores", writeScores(fixture), "--warehouse", db]).code, 0)
  const run = runCli(["analyze", "--warehouse", db, "--reference", fixture.reference])
  assert.equal(run.code, 0, run.stderr)
  assert.match(run.stderr, /analyze: warning: systems do not share the same cells: the global ranking ranks 4 systems over the 8 cells every one of them has; reported apart without a rank: lm-eval-import/)
  assert.match(run.stderr, /analyze: warning: Friedman\/Nemenyi at 5-shot: N = 2 tasks \(< 3 blocks\)/)
})
