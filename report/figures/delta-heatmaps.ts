import { DIVERGING, divergingColor, inkOn } from "../palette.ts"
import { fmt, gainOf, num, SCHEMA, shotLabel, shotLabels, str, taskLabel, type VegaLiteFigure } from "./common.ts"

/**
 * Figure 3: cell mean minus the reference's, one panel per task. Each panel has its own diverging
 * scale, symmetric around 0, because tasks are in different units (accuracy, F1, a 1-5 judge).
 */
export const deltaHeatmaps: VegaLiteFigure = {
  kind: "vega-lite",
  id: "03",
  slug: "delta-heatmaps",
  title: "Score deltas against the reference",
  caption: "Cell mean minus the reference's cell mean; blue is better than the reference, orange worse, white equal. Each task has its own symmetric scale.",
  query: "reference-deltas",
  build: (rows, ctx) => {
    const candidates = ctx.systems.filter((s) => s !== ctx.reference)
    return {
      $schema: SCHEMA,
      title: { text: deltaHeatmaps.title, subtitle: `Δ = system − ${ctx.reference}, per cell` },
      spacing: 14,
      hconcat: ctx.tasks.map(({ task, higherIsBetter }, i) => {
        const own = rows.filter((r) => str(r.task) === task)
        const largest = Math.max(0, ...own.map((r) => Math.abs(num(r.delta))).filter(Number.isFinite))
        // Every candidate equals the reference here: no scale to show ("−0.00 +0.00" read as noise).
        const degenerate = largest < 1e-12
        const extent = degenerate ? 1 : largest
        // Enough decimals that the legend's ends differ from 0; 0 itself unsigned.
        const decimals = Math.max(2, Math.ceil(-Math.log10(extent)) + 1)
        // Coloured by gain (blue = better), so a lower-is-better metric is not drawn backwards.
        const values = own.map((r) => {
          const d = num(r.delta)
          const gain = gainOf(ctx, task, d)
          return { shots: shotLabel(num(r.shots)), system: str(r.system), delta: d, gain, label: fmt(d, 3, true), ink: inkOn(divergingColor(gain, extent)) }
        })
        return {
          title: { text: taskLabel(ctx, task), ...(degenerate ? { subtitle: "all Δ = 0" } : {}), fontSize: 12, anchor: "middle" },
          data: { values },
          width: { step: 52 },
          height: { step: 24 },
          encoding: {
            x: { field: "shots", type: "ordinal", sort: shotLabels(ctx), title: null, axis: { labelAngle: 0, orient: "top" } },
            y: { field: "system", type: "nominal", sort: candidates, title: null, axis: i === 0 ? {} : null }
          },
          layer: [
            {
              name: `cells_${i}`,
              mark: { type: "rect" },
              encoding: {
                color: {
                  field: "gain",
                  type: "quantitative",
                  title: higherIsBetter ? "Δ" : "−Δ (lower is better)",
                  scale: { domain: [-extent, 0, extent], range: [DIVERGING.low, DIVERGING.mid, DIVERGING.high], interpolate: "rgb" },
                  legend: degenerate
                    ? null
                    : { orient: "bottom", direction: "horizontal", gradientLength: 140, values: [-extent, 0, extent], labelExpr: `datum.value === 0 ? '0' : format(datum.value, '+.${decimals}f')` }
                }
              }
            },
            {
              name: `labels_${i}`,
              mark: { type: "text", fontSize: 10 },
              encoding: { text: { field: "label" }, fill: { field: "ink", type: "nominal", scale: null } }
            }
          ]
        }
      }),
      resolve: { scale: { color: "independent" }, legend: { color: "independent" } }
    } as never
  }
}
