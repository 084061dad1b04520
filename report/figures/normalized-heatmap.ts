import { SEQUENTIAL, inkOn, viridis } from "../palette.ts"
import { fmt, num, SCHEMA, shotLabel, shotLabels, str, taskLabel, taskLabels, type VegaLiteFigure, widest } from "./common.ts"

/** Figure 2: normalised scores over every cell, rows in global-rank order. */
export const normalizedHeatmap: VegaLiteFigure = {
  kind: "vega-lite",
  id: "02",
  slug: "normalized-heatmap",
  title: "Normalised scores over all cells",
  caption: "Per cell, the worst system scores 0 and the best 1. Rows are sorted by global mean (best at the top).",
  query: "normalized-scores",
  build: (rows, ctx) => {
    const values = rows.map((r) => {
      const v = num(r.normalized)
      return { task: taskLabel(ctx, str(r.task)), shots: shotLabel(num(r.shots)), system: str(r.system), normalized: v, label: fmt(v, 2), ink: inkOn(viridis(v)) }
    })
    const domain = SEQUENTIAL.map((_, i) => i / (SEQUENTIAL.length - 1))
    // A panel is at least as wide as its task title (header labels, 12 px): with 1 or 2 shot
    // columns, "medmcqa-fr (acc)" is wider than the cells and titles ran into each other.
    const step = Math.max(44, Math.ceil((widest(taskLabels(ctx), 12) + 12) / Math.max(1, ctx.shots.length)))
    return {
      $schema: SCHEMA,
      title: { text: normalizedHeatmap.title, subtitle: "0 = worst system in the cell, 1 = best" },
      data: { values },
      facet: { column: { field: "task", type: "nominal", sort: taskLabels(ctx), title: null } },
      spacing: 6,
      spec: {
        width: { step },
        height: { step: 24 },
        encoding: {
          x: { field: "shots", type: "ordinal", sort: shotLabels(ctx), title: null, axis: { labelAngle: 0, orient: "top" } },
          y: { field: "system", type: "nominal", sort: [...ctx.systems], title: null }
        },
        layer: [
          {
            name: "cells",
            mark: { type: "rect" },
            encoding: {
              color: { field: "normalized", type: "quantitative", title: "normalised", scale: { domain, range: [...SEQUENTIAL], interpolate: "rgb" }, legend: { orient: "right", direction: "vertical", gradientLength: 120 } }
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
