import { fmt, type FigureContext, num, type Rows, shotLabel, str, taskLabel } from "./figures/common.ts"

/** A table of the report, rendered to both Markdown and HTML from the same cells. */
export interface ReportTable {
  readonly id: string
  readonly title: string
  readonly caption: string
  readonly header: ReadonlyArray<string>
  /** Which columns hold numbers (right-aligned). */
  readonly numeric: ReadonlyArray<boolean>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
}

/** Per-task mean ± std over shot counts, systems in global-rank order. */
export const taskMeansTable = (rows: Rows, ctx: FigureContext): ReportTable => ({
  id: "task-means",
  title: "Per-task mean over shot counts",
  caption: "Mean of each system's cell means over the shot counts of a task, ± standard deviation (ddof=1).",
  header: ["System", ...ctx.tasks.map((t) => taskLabel(ctx, t.task))],
  numeric: [false, ...ctx.tasks.map(() => true)],
  rows: ctx.systems.map((system) => [
    system === ctx.reference ? `${system} (reference)` : system,
    ...ctx.tasks.map(({ task }) => {
      const r = rows.find((x) => str(x.task) === task && str(x.system) === system)
      return r ? `${fmt(num(r.mean))} ± ${fmt(num(r.std))}` : "–"
    })
  ])
})

export const globalRankingTable = (rows: Rows, ctx: FigureContext): ReportTable => ({
  id: "global-ranking",
  title: "Global ranking",
  caption: "Mean and standard deviation (ddof=1) of the normalised scores over the cells every ranked system has (the shared grid: cells more than half of the systems have); rank 1 has the highest mean. Systems lacking some of those cells are listed with their coverage and no rank.",
  header: ["Rank", "System", "Mean", "Std", "Cells"],
  numeric: [true, false, true, true, true],
  rows: rows.map((r) => [
    r.rank === null || r.rank === undefined ? "not ranked" : String(num(r.rank)),
    str(r.system) === ctx.reference ? `${str(r.system)} (reference)` : str(r.system),
    fmt(num(r.mean)),
    fmt(num(r.std)),
    r.grid_size === undefined ? "–" : `${num(r.grid_cells)} of ${num(r.grid_size)} shared (${num(r.cells)} in all)`
  ])
})

export const significanceRecordTable = (rows: Rows, ctx: FigureContext): ReportTable => {
  const bySystem = new Map(rows.map((r) => [str(r.system), r]))
  return {
    id: "significance-record",
    title: `Significance record against ${ctx.reference}`,
    caption: "Paired t-tests over all cells. Significant: p < α. BH-robust: still significant after the Benjamini–Hochberg adjustment (p_bh < α); marked † when every significant win is BH-robust.",
    header: ["System", "Significant wins", "BH-robust wins", "Numeric wins", "Numeric losses", "Significant losses", "BH-robust losses", "Cells"],
    numeric: [false, true, true, true, true, true, true, true],
    rows: ctx.systems.filter((s) => bySystem.has(s)).map((system) => {
      const r = bySystem.get(system)!
      const sig = num(r.sig_wins)
      const bh = num(r.bh_wins)
      return [
        system,
        sig > 0 && bh === sig ? `${sig} †` : String(sig),
        String(bh),
        String(num(r.numeric_wins)),
        String(num(r.numeric_losses)),
        String(num(r.sig_losses)),
        String(num(r.bh_losses)),
        String(num(r.cells))
      ]
    })
  }
}

export const bestPerCellTable = (rows: Rows, ctx: FigureContext): ReportTable => ({
  id: "best-per-cell",
  title: "Best system per cell",
  caption: "The system with the highest mean in each cell, with its score; tied winners are joined by “=”.",
  header: ["Task", ...ctx.shots.map(shotLabel)],
  numeric: [false, ...ctx.shots.map(() => false)],
  rows: ctx.tasks.map(({ task }) => [
    taskLabel(ctx, task),
    ...ctx.shots.map((shots) => {
      const r = rows.find((x) => str(x.task) === task && num(x.shots) === shots)
      if (!r) return "–"
      // Many tied winners (every system equal in a cell) would make one very wide cell.
      const winners = num(r.winners)
      return winners > 3 ? `${winners} systems tied (${fmt(num(r.score))})` : `${str(r.system)} (${fmt(num(r.score))})`
    })
  ])
})

const mdCell = (s: string) => s.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\n/g, " ")

export const tableToMarkdown = (t: ReportTable): string =>
  [
    `| ${t.header.map(mdCell).join(" | ")} |`,
    `| ${t.numeric.map((n) => (n ? "---:" : ":---")).join(" | ")} |`,
    ...t.rows.map((r) => `| ${r.map(mdCell).join(" | ")} |`)
  ].join("\n")

export const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

export const tableToHtml = (t: ReportTable): string =>
  `<table id="table-${t.id}">` +
  `<thead><tr>${t.header.map((h, i) => `<th${t.numeric[i] ? ' class="num"' : ""}>${escapeHtml(h)}</th>`).join("")}</tr></thead>` +
  `<tbody>${t.rows.map((r) => `<tr>${r.map((c, i) => `<td${t.numeric[i] ? ' class="num"' : ""}>${escapeHtml(c)}</td>`).join("")}</tr>`).join("")}</tbody></table>`
