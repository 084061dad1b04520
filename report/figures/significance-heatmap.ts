import { inkOn, SIGNIFICANCE_CLASSES } from "../palette.ts"
import { fmt, gainOf, num, SCHEMA, shotLabel, shotLabels, stars, str, taskLabel, taskLabels, type VegaLiteFigure } from "./common.ts"

/** The significance class of a test: direction of the difference and its star level, or "ns". */
export const significanceClass = (gain: number, p: number): string => {
  const s = stars(p)
  return s === "" || gain === 0 ? "ns" : `${gain > 0 ? "better" : "worse"} ${s}`
}

/** Figure 7: signed deltas annotated with stars or "ns", coloured by direction and significance. */
export const significanceHeatmap: VegaLiteFigure = {
  kind: "vega-lite",
  id: "07",
  slug: "significance-heatmap",
  title: "Significance against the reference",
  caption: "Mean paired difference to the reference in each cell, with its significance (paired t-test, unadjusted): * p<.05, ** p<.01, *** p<.001, ns otherwise. Colour encodes direction and level, comparable across tasks.",
  query: "paired-t",
  build: (rows, ctx) => {
    const candidates = ctx.systems.filter((s) => s !== ctx.reference)
    const colorOf = new Map(SIGNIFICANCE_CLASSES.map((c) => [c.label, c.color]))
    const values = rows.map((r) => {
      const d = num(r.mean_diff)
      const p = num(r.p_value)
      const cls = significanceClass(gainOf(ctx, str(r.task), d), p)
      return { task: taskLabel(ctx, str(r.task)), shots: shotLabel(num(r.shots)), system: str(r.system), class: cls, label: `${fmt(d, 3, true)} ${stars(p) || "ns"}`, ink: inkOn(colorOf.get(cls)!) }
    })
    return {
      $schema: SCHEMA,
      title: { text: significanceHeatmap.title, subtitle: `Δ = system − ${ctx.reference}; paired t-test per cell` },
      data: { values },
      facet: { column: { field: "task", type: "nominal", sort: taskLabels(ctx), title: null } },
      spacing: 6,
      spec: {
        width: { step: 70 },
        height: { step: 24 },
        encoding: {
          x: { field: "shots", type: "ordinal", sort: shotLabels(ctx), title: null, axis: { labelAngle: 0, orient: "top" } },
          y: { field: "system", type: "nominal", sort: candidates, title: null }
        },
        layer: [
          {
            name: "cells",
            mark: { type: "rect" },
            encoding: {
              color: {
                field: "class",
                type: "ordinal",
                title: "significance",
                scale: { domain: SIGNIFICANCE_CLASSES.map((c) => c.label), range: SIGNIFICANCE_CLASSES.map((c) => c.color) },
                legend: { orient: "bottom", direction: "horizontal", columns: SIGNIFICANCE_CLASSES.length, symbolType: "square", symbolStrokeColor: "#888888", symbolStrokeWidth: 0.5 }
              }
            }
          },
          {
            name: "labels",
            mark: { type: "text", fontSize: 10 },
            encoding: { text: { field: "label" }, fill: { field: "ink", type: "nominal", scale: null } }
          }
        ]
      }
    } as never
  }
}
