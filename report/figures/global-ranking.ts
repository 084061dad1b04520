import { num, SCHEMA, str, systemScale, type VegaLiteFigure } from "./common.ts"

/** Figure 5: the global ranking, mean ± std of normalised scores over all cells. */
export const globalRanking: VegaLiteFigure = {
  kind: "vega-lite",
  id: "05",
  slug: "global-ranking",
  title: "Global ranking",
  caption: "Mean ± standard deviation (ddof=1) of each system's normalised scores over the cells every ranked system has (the shared grid), best first; whiskers are clipped to [0, 1]. Systems with too few of those cells are named in the subtitle, not ranked. The dashed line is the reference's mean.",
  query: "global-ranking",
  build: (rows, ctx) => {
    const ranked = rows.filter((r) => r.ranked !== false && Number.isFinite(num(r.mean)))
    const apart = rows.filter((r) => !ranked.includes(r))
    const reference = ranked.find((r) => str(r.system) === ctx.reference)
    // Normalised scores live in [0, 1]: the whiskers are clipped there rather than drawn past the axis.
    const values = ranked.map((r) => {
      const mean = num(r.mean)
      const std = num(r.std)
      const spread = Number.isFinite(std)
      return { system: str(r.system), rank: num(r.rank), mean, low: spread ? Math.max(0, mean - std) : null, high: spread ? Math.min(1, mean + std) : null, reference_mean: reference ? num(reference.mean) : null }
    })
    const size = num(ranked[0]?.grid_size ?? rows[0]?.grid_size)
    const y = { field: "system", type: "nominal", sort: ctx.systems.filter((s) => ranked.some((r) => str(r.system) === s)), title: null }
    const subtitle = [`mean ± std (clipped to [0, 1]) of normalised scores over ${Number.isFinite(size) ? size : "all"} shared cells; dashed line: ${ctx.reference}`]
    if (apart.length > 0) subtitle.push(`not ranked (too few shared cells): ${apart.map((r) => `${str(r.system)} (${num(r.grid_cells)} of ${size})`).join(", ")}`)
    return {
      $schema: SCHEMA,
      title: { text: globalRanking.title, subtitle },
      data: { values },
      width: 360,
      height: { step: 22 },
      layer: [
        {
          name: "bars",
          mark: { type: "bar", height: { band: 0.75 } },
          encoding: {
            y,
            x: { field: "mean", type: "quantitative", title: "normalised score", scale: { domain: [0, 1], nice: false } },
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
