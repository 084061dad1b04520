import { legendColumns, num, SCHEMA, shotLabel, shotLabels, str, systemScale, taskLabel, taskLabels, type VegaLiteFigure } from "./common.ts"

/** Figure 1: grouped bars of raw cell means, one panel per task (each in its own metric's units). */
export const rawScores: VegaLiteFigure = {
  kind: "vega-lite",
  id: "01",
  slug: "raw-scores",
  title: "Raw scores per system, task and shot count",
  caption: "Mean item score of each system in each cell, one panel per task in that task's metric. The dotted line is the reference's 0-shot score.",
  query: "raw-scores",
  build: (rows, ctx) => {
    const barWidth = 9
    const panelWidth = ctx.shots.length * (ctx.systems.length * barWidth + 14)
    const values = rows.map((r) => ({
      task: taskLabel(ctx, str(r.task)),
      shots: shotLabel(num(r.shots)),
      system: str(r.system),
      mean: num(r.mean),
      reference_zero_shot: r.reference_zero_shot === null ? null : num(r.reference_zero_shot)
    }))
    return {
      $schema: SCHEMA,
      title: { text: rawScores.title, subtitle: `dotted line: ${ctx.reference} at 0 shots` },
      data: { values },
      facet: { column: { field: "task", type: "nominal", sort: taskLabels(ctx), title: null } },
      spec: {
        width: panelWidth,
        height: 220,
        layer: [
          {
            name: "bars",
            mark: { type: "bar" },
            encoding: {
              x: { field: "shots", type: "ordinal", sort: shotLabels(ctx), title: "shots", axis: { labelAngle: 0 } },
              xOffset: { field: "system", type: "nominal", sort: [...ctx.systems] },
              // "~g": a panel where every mean is 0 reads "0", not "0.000000" (issue 21)
              y: { field: "mean", type: "quantitative", title: "mean score", axis: { format: "~g" } },
              color: { field: "system", type: "nominal", scale: systemScale(ctx), sort: [...ctx.systems], title: "system" },
              tooltip: [{ field: "system" }, { field: "task" }, { field: "shots" }, { field: "mean", format: ".3f" }]
            }
          },
          {
            name: "reference",
            mark: { type: "rule", strokeDash: [2, 3], strokeWidth: 1.5, color: "#000000" },
            encoding: { y: { field: "reference_zero_shot", aggregate: "min", type: "quantitative" } }
          }
        ]
      },
      resolve: { scale: { y: "independent" } },
      config: { legend: { columns: legendColumns(ctx.systems, ctx.tasks.length * (panelWidth + 60)) } }
    } as never
  }
}
