import { HATCH_PATTERN_ID } from "../render.ts"
import { num, SCHEMA, str, systemScale, taskLabel, taskLabels, type VegaLiteFigure } from "./common.ts"

/** Figure 4: per task, each system's mean over shot counts ± std; the reference hatched. */
export const taskMeans: VegaLiteFigure = {
  kind: "vega-lite",
  id: "04",
  slug: "task-means",
  title: "Per-task mean over shot counts",
  caption: "Each bar is a system's mean cell score over the shot counts of a task, with ± one standard deviation (ddof=1). The reference's bar is hatched and its mean is the dashed line.",
  query: "task-means",
  hatchColor: "#555555",
  build: (rows, ctx) => {
    const values = rows.map((r) => {
      const mean = num(r.mean)
      const std = num(r.std)
      return { task: taskLabel(ctx, str(r.task)), system: str(r.system), mean, low: mean - std, high: mean + std, reference_mean: null as number | null }
    })
    const y = { field: "system", type: "nominal", sort: [...ctx.systems], title: null }
    for (const v of values) v.reference_mean = values.find((w) => w.task === v.task && w.system === ctx.reference)?.mean ?? null
    return {
      $schema: SCHEMA,
      title: { text: taskMeans.title, subtitle: `hatched bar and dashed line: ${ctx.reference}` },
      data: { values },
      facet: { column: { field: "task", type: "nominal", sort: taskLabels(ctx), title: null } },
      spacing: 12,
      spec: {
        width: 190,
        height: { step: 20 },
        layer: [
          {
            name: "bars",
            mark: { type: "bar", height: { band: 0.75 } },
            encoding: {
              y,
              x: { field: "mean", type: "quantitative", title: "mean ± std", axis: { format: "~g", tickCount: 4, labelOverlap: "greedy", labelFlush: true } },
              fill: {
                condition: { test: `datum.system === ${JSON.stringify(ctx.reference)}`, value: `url(#${HATCH_PATTERN_ID})` },
                field: "system",
                type: "nominal",
                scale: systemScale(ctx),
                legend: null
              }
            }
          },
          { name: "errors", mark: { type: "rule", color: "#000000" }, encoding: { y, x: { field: "low", type: "quantitative" }, x2: { field: "high" } } },
          {
            name: "reference",
            mark: { type: "rule", strokeDash: [6, 4], strokeWidth: 1.5, color: "#000000" },
            encoding: { x: { field: "reference_mean", aggregate: "min", type: "quantitative" } }
          }
        ]
      },
      resolve: { scale: { x: "independent" } }
    } as never
  }
}
