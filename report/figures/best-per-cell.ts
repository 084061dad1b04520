import { inkOn } from "../palette.ts"
import { wrapText } from "../text-metrics.ts"
import { fmt, num, SCHEMA, shotLabel, shotLabels, str, taskLabel, taskLabels, widest, type VegaLiteFigure } from "./common.ts"

const MAX_NAME_WIDTH = 190
const LINE_HEIGHT = 13

/** Figure 9: the best system of every cell, in its system colour, labelled with its name and score. */
export const bestPerCell: VegaLiteFigure = {
  kind: "vega-lite",
  id: "09",
  slug: "best-per-cell",
  title: "Best system per cell",
  caption: "The system with the highest mean in each cell, in its colour from the other figures, with its score. Tied winners share a cell.",
  query: "best-per-cell",
  build: (rows, ctx) => {
    const colorOf = new Map(ctx.systems.map((s, i) => [s, ctx.colors[i]!]))
    // Long names wrap inside their cell instead of widening the whole grid.
    // More than three tied winners (every system equal in a cell) read as a count, not a list.
    const nameOf = (r: Record<string, unknown>) => (num(r.winners) > 3 ? `${num(r.winners)} systems tied` : str(r.system))
    const nameWidth = Math.min(MAX_NAME_WIDTH, widest(rows.map(nameOf), 10))
    const values = rows.map((r) => {
      const system = nameOf(r)
      const fill = colorOf.get(system) ?? "#bdbdbd"
      return { task: taskLabel(ctx, str(r.task)), shots: shotLabel(num(r.shots)), system, score: num(r.score), label: [...wrapText(system, 10, nameWidth), fmt(num(r.score), 3)], fill, ink: inkOn(fill) }
    })
    const cellWidth = Math.max(64, nameWidth + 16)
    // Vega puts the first line of a multi-line label at the anchor and the others below it, so
    // every label is padded to the same number of lines (blank lines split above and below) and
    // the whole block is lifted by half its height.
    const lines = Math.max(...values.map((v) => v.label.length))
    for (const v of values) {
      const pad = lines - v.label.length
      v.label = [...Array<string>(Math.floor(pad / 2)).fill(""), ...v.label, ...Array<string>(Math.ceil(pad / 2)).fill("")]
    }
    const cellHeight = Math.max(40, lines * LINE_HEIGHT + 14)
    return {
      $schema: SCHEMA,
      title: { text: bestPerCell.title, subtitle: "colour = system (as in the other figures), label = its score" },
      data: { values },
      width: { step: cellWidth },
      height: { step: cellHeight },
      encoding: {
        x: { field: "shots", type: "ordinal", sort: shotLabels(ctx), title: null, axis: { labelAngle: 0, orient: "top" } },
        y: { field: "task", type: "nominal", sort: taskLabels(ctx), title: null }
      },
      layer: [
        { name: "cells", mark: { type: "rect", stroke: "#ffffff", strokeWidth: 2 }, encoding: { color: { field: "fill", type: "nominal", scale: null } } },
        {
          name: "labels",
          mark: { type: "text", fontSize: 10, lineHeight: LINE_HEIGHT, baseline: "middle", dy: -((lines - 1) * LINE_HEIGHT) / 2 },
          encoding: { text: { field: "label" }, fill: { field: "ink", type: "nominal", scale: null } }
        }
      ]
    } as never
  }
}
