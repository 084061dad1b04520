/**
 * The report's caveats: the same partial-grid warnings `fleuve analyze` prints on stderr (systems
 * left out of the global ranking, Friedman on N < 3 or incomplete blocks), rebuilt from the tables
 * it wrote, so a report read later says what the terminal said.
 */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { type CoverageRow, coverageWarnings } from "../analysis/coverage.ts"
import { Warehouse } from "../warehouse/warehouse.ts"

const CELLS_SQL = readFileSync(join(import.meta.dirname, "caveats.sql"), "utf8")

export const loadCaveats = Effect.gen(function*() {
  const w = yield* Warehouse
  const coverage = yield* w.query<CoverageRow>("SELECT * FROM ranking_coverage ORDER BY scope DESC, shots NULLS FIRST, system")
  const cells = yield* w.query<{ task: string; shots: number; systems: number; in_grid: boolean }>(CELLS_SQL)
  const notes = yield* w.query<{ shots: number; note: string | null }>("SELECT shots, note FROM friedman ORDER BY shots")
  const grid = cells.filter((c) => c.in_grid).map((c) => ({ scope: "global", task: c.task, shots: c.shots }))
  return coverageWarnings(coverage, grid, cells, notes)
})
