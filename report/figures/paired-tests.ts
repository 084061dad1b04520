import { fmt, num, SCHEMA, shotLabel, shotLabels, stars, str, taskLabel, taskLabels, type VegaLiteFigure } from "./common.ts"

/** Figure 6: mean paired difference ± 95% CI per system and cell, starred by p-value. */
export const pairedTests: VegaLiteFigure = {
  kind: "vega-lite",
  id: "06",
  slug: "paired-tests",
  title: "Paired t-tests against the reference",
  caption: "Mean item-level difference to the reference with its 95% confidence interval (t quantile), per system and cell. Stars: * p<.05, ** p<.01, *** p<.001 (unadjusted).",
  query: "paired-t",
  build: (rows, ctx) => {
    const candidates = ctx.systems.filter((s) => s !== ctx.reference)
    const values = rows.map((r) => ({
      task: taskLabel(ctx, str(r.task)),
      shots: shotLabel(num(r.shots)),
      system: str(r.system),
      mean_diff: num(r.mean_diff),
      ci_low: num(r.ci_low),
      ci_high: num(r.ci_high),
      p_value: num(r.p_value),
      stars: stars(num(r.p_value)),
      label: `${fmt(num(r.mean_diff), 3, true)} ${stars(num(r.p_value)) || "ns"}`
    }))
    const y = { field: "system", type: "nominal", sort: candidates, title: null }
    return {
      $schema: SCHEMA,
      title: { text: pairedTests.title, subtitle: `mean Δ (system − ${ctx.reference}) ± 95% CI; * p<.05, ** p<.01, *** p<.001` },
      data: { values },
      facet: {
        row: { field: "task", type: "nominal", sort: taskLabels(ctx), title: null, header: { labelAngle: 0, labelAlign: "left", labelAnchor: "middle" } },
        column: { field: "shots", type: "ordinal", sort: shotLabels(ctx), title: null }
      },
      spacing: { row: 10, column: 10 },
      spec: {
        width: 170,
        height: { step: 18 },
        layer: [
          {
            name: "zero",
            // One line per panel, not one per system: collapse the panel's rows first.
            transform: [{ aggregate: [{ op: "count", as: "rows" }], groupby: ["task", "shots"] }],
            mark: { type: "rule", color: "#888888" },
            encoding: { x: { datum: 0, type: "quantitative" } }
          },
          {
            name: "intervals",
            mark: { type: "rule", color: "#333333", strokeWidth: 1.5 },
            encoding: { y, x: {
              field: "ci_low",
              type: "quantitative",
              title: "Δ ± 95% CI",
              scale: { padding: 24 },
              // "~g": no "0.000000" on a panel where every interval is 0; few ticks so labels never collide.
              axis: { format: "~g", tickCount: 4, labelOverlap: "greedy" }
            }, x2: { field: "ci_high" } }
          },
          {
            name: "points",
            mark: { type: "point", filled: true, size: 36, color: "#08519c", stroke: "#ffffff", strokeWidth: 0.5 },
            encoding: { y, x: { field: "mean_diff", type: "quantitative" }, tooltip: [{ field: "system" }, { field: "label" }, { field: "p_value", format: ".2e" }] }
          },
          {
            name: "stars",
            transform: [{ filter: "datum.stars !== ''" }],
            mark: { type: "text", align: "left", dx: 3, fontSize: 10, fontWeight: "bold" },
            encoding: { y, x: { field: "ci_high", type: "quantitative" }, text: { field: "stars" } }
          }
        ]
      },
      resolve: { scale: { x: "independent" } }
    } as never
  }
}
