/**
 * Partial grids: the caveats of rankings run on the shared grid of ranking_coverage.sql. Turns the
 * coverage rows into the `friedman.note` of each shot count and into the warnings `fleuve analyze`
 * prints on stderr and `fleuve report` repeats (report/caveats.ts reads the same tables).
 */

export type CoverageRow = {
  readonly scope: "global" | "friedman"
  readonly shots: number | null
  readonly system: string
  readonly cells: number
  readonly grid_cells: number
  readonly grid_size: number
  readonly ranked: boolean
}

export interface GridCell {
  readonly scope: string
  readonly task: string
  readonly shots: number
}

export interface CellSupport {
  readonly task: string
  readonly shots: number
  readonly systems: number
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** One entry per shot count with its Friedman caveat (null for a full result). */
export const friedmanShots = (
  coverage: ReadonlyArray<CoverageRow>,
  grid: ReadonlyArray<GridCell>,
  cells: ReadonlyArray<CellSupport>
): Array<{ shots: number; note: string | null }> => {
  const shotCounts = [...new Set(coverage.filter((c) => c.scope === "friedman").map((c) => c.shots!))].sort((a, b) => a - b)
  return shotCounts.map((shots) => {
    const rows = coverage.filter((c) => c.scope === "friedman" && c.shots === shots)
    const ranked = rows.filter((r) => r.ranked)
    const apart = rows.filter((r) => !r.ranked)
    const n = grid.filter((g) => g.scope === "friedman" && g.shots === shots).length
    const outside = cells.filter((c) => c.shots === shots && !grid.some((g) => g.scope === "friedman" && g.shots === shots && g.task === c.task))
    const notes: Array<string> = []
    if (ranked.length < 2) notes.push(`no test: fewer than 2 systems have every task of the shared grid (${ranked.length} ranked)`)
    else if (n < 3) notes.push(`N = ${plural(n, "task")} (< 3 blocks): too few for Friedman's χ² approximation and the Nemenyi CD; read the ranks as descriptive`)
    if (apart.length > 0) notes.push(`incomplete blocks: ${apart.map((a) => `${a.system} (${a.grid_cells} of ${n} tasks)`).join(", ")} left out`)
    if (outside.length > 0) notes.push(`tasks outside the shared grid (fewer than half the systems have them): ${outside.map((o) => `${o.task} (${plural(o.systems, "system")})`).join(", ")}`)
    return { shots, note: notes.length > 0 ? notes.join("; ") : null }
  })
}

/** Warnings for stderr and the report: empty when every system has the same cells and every Friedman test is full. */
export const coverageWarnings = (
  coverage: ReadonlyArray<CoverageRow>,
  grid: ReadonlyArray<GridCell>,
  cells: ReadonlyArray<CellSupport>,
  friedmanNotes: ReadonlyArray<{ shots: number; note: string | null }>
): Array<string> => {
  const out: Array<string> = []
  const global = coverage.filter((c) => c.scope === "global")
  const size = global[0]?.grid_size ?? 0
  const apart = global.filter((g) => !g.ranked)
  const outside = cells.filter((c) => !grid.some((g) => g.scope === "global" && g.task === c.task && g.shots === c.shots))
  if (apart.length > 0 || outside.length > 0 || global.some((g) => g.cells !== size)) {
    const ranked = global.filter((g) => g.ranked).length
    out.push(
      `systems do not share the same cells: the global ranking ranks ${plural(ranked, "system")} over the ${plural(size, "cell")} every one of them has` +
        (apart.length > 0 ? `; reported apart without a rank: ${apart.map((a) => `${a.system} (${a.grid_cells} of ${size} shared cells, ${a.cells} in all)`).join(", ")}` : "") +
        (outside.length > 0 ? `; cells outside the shared grid (fewer than half the systems have them): ${outside.map((o) => `${o.task}/${o.shots}-shot (${plural(o.systems, "system")})`).join(", ")}` : "")
    )
  }
  for (const f of friedmanNotes) if (f.note) out.push(`Friedman/Nemenyi at ${f.shots}-shot: ${f.note}`)
  return out
}
