import { num, SCHEMA, str, systemScale, type VegaLiteFigure } from "./common.ts"

/** Figure 5: the global ranking, mean ± std of normalised scores over all cells. */
export const globalRanking: VegaLiteFigure = {
  kind: "vega-lite",
  id: "05",
  slug: "global-ranking",
  title: "Global ranking",
  caption: "Mean ± standard deviation (ddof=1) of each system's normalised scores over all cells, best first. The dashed line is the reference's mean.",
  query: "global-ranking",
  build: (rows, ctx) => {
    const reference = rows.find((r) => str(r.system) === ctx.reference)
    const values = rows.map((r) => {
      const mean = num(r.mean)
      const std = num(r.std)
      const spread = Number.isFinite(std)
      return { system: str(r.system), rank: num(r.rank), mean, low: spread ? mean - std : null, high: spread ? mean + std : null, reference_mean: reference ? num(reference.mean) : null }
    })
    const y = { field: "system", type: "nominal", sort: [...ctx.systems], title: null }
    return {
      $schema: SCHEMA,
      title: { text: globalRanking.title, subtitle: `mean ± std of normalised scores; dashed line: ${ctx.reference}` },
      data: { values },
      width: 360,
      height: { step: 22 },
      layer: [
        {
          name: "bars",
          mark: { type: "bar", height: { band: 0.75 } },
          encoding: {
            y,
            x: { field: "mean", type: "quantitative", title: "normalised score" },
            color: { field: "system", type: "nominal", scale: systemScale(ctx), legend: null }
          }
        },
        { name: "errors", mark: { type: "rule", color: "#000000" }, encoding: { y, x: { field: "low", type: "quantitative" }, x2: { field: "high" } } },
        {
          name: "reference",
          mark: { type: "rule", strokeDash: [6, 4], strokeWidth: 1.5, color: "#000000" },
          encoding: { x: { field: "reference_mean", aggregate: "min", type: "quantitative" } }
        }
      ]
    } as never
  }
}
