import { drawCdDiagram } from "../cd-diagram.ts"
import { num, shotLabel, str, type SvgFigure } from "./common.ts"

/** Figure 10: one critical-difference diagram per shot count, ranks taken over the tasks. */
export const criticalDifference: SvgFigure = {
  kind: "svg",
  id: "10",
  slug: "critical-difference",
  title: "Critical-difference diagrams",
  caption: "Per shot count, systems ranked within each task (1 = best, ties averaged) and averaged over tasks. Systems joined by a thick bar are not significantly different (Nemenyi, α = 0.05): their mean ranks differ by at most CD.",
  query: "critical-difference",
  draw: (rows, ctx) =>
    ctx.shots.flatMap((shots) => {
      const own = rows.filter((r) => num(r.shots) === shots)
      if (own.length === 0) return []
      const f = own[0]!
      const p = num(f.p_value)
      const subtitle = `Friedman χ² = ${num(f.chi2).toFixed(2)}, p = ${p < 0.001 ? p.toExponential(1) : p.toFixed(3)}; ` +
        `Nemenyi CD = ${num(f.cd).toFixed(2)} (k = ${num(f.k)} systems, N = ${num(f.n)} tasks)` +
        (num(f.n) < 3 ? "; N < 3: descriptive only" : "") + (f.note !== null && f.note !== undefined && /incomplete/.test(str(f.note)) ? "; incomplete blocks: see caveats" : "")
      return [{
        part: `${shots}shot`,
        label: shotLabel(shots),
        svg: drawCdDiagram({
          title: `Critical difference, ${shotLabel(shots)}`,
          subtitle,
          cd: num(f.cd),
          ranks: own.map((r) => ({ system: str(r.system), avgRank: num(r.avg_rank) }))
        })
      }]
    })
}
