import { inkOn, RECORD_SEGMENTS } from "../palette.ts"
import { textWidth } from "../text-metrics.ts"
import { num, SCHEMA, str, type VegaLiteFigure } from "./common.ts"

/** One system's record cut into the stacked segments of figure 8, left to right. */
export const recordSegments = (r: Record<string, unknown>) => {
  const sigWins = num(r.sig_wins)
  const sigLosses = num(r.sig_losses)
  const numericWins = num(r.numeric_wins)
  const numericLosses = num(r.numeric_losses)
  // numeric_* count every cell with a positive (negative) mean difference, significant or not.
  const counts: Record<string, number> = {
    sig_wins: sigWins,
    numeric_wins: Math.max(0, numericWins - sigWins),
    ties: Math.max(0, num(r.cells) - numericWins - numericLosses),
    numeric_losses: Math.max(0, numericLosses - sigLosses),
    sig_losses: sigLosses
  }
  let x = 0
  return RECORD_SEGMENTS.map((s, order) => {
    const count = counts[s.key]!
    const seg = { segment: s.label, order, count, x0: x, x1: x + count, mid: x + count / 2, ink: inkOn(s.color) }
    x += count
    return seg
  }).filter((s) => s.count > 0)
}

/** Figure 8: wins and losses against the reference, stacked per system, with the majority line. */
export const significanceRecord: VegaLiteFigure = {
  kind: "vega-lite",
  id: "08",
  slug: "significance-record",
  title: "Significance record against the reference",
  caption: "Over all cells, per system: significant wins (p<α), other numeric wins, ties, other numeric losses and significant losses. The dotted line marks a majority of the cells.",
  query: "significance-record",
  build: (rows, ctx) => {
    const candidates = ctx.systems.filter((s) => s !== ctx.reference)
    const cells = Math.max(0, ...rows.map((r) => num(r.cells)))
    const width = 380
    const majority = cells / 2
    // A count centred on the majority line would be struck through by it: move it beside the line,
    // toward the middle of its own segment.
    const labelX = (s: { mid: number; count: number }) => {
      const half = (textWidth(String(s.count), 10) / 2 + 3) * (cells / width)
      if (cells === 0 || Math.abs(s.mid - majority) >= half) return s.mid
      return s.mid <= majority ? majority - half : majority + half
    }
    const values = rows.flatMap((r) => recordSegments(r).map((s) => ({ system: str(r.system), ...s, label_x: labelX(s) })))
    const y = { field: "system", type: "nominal", sort: candidates, title: null }
    return {
      $schema: SCHEMA,
      title: { text: significanceRecord.title, subtitle: `${cells} cells per system; dotted line: majority (${cells / 2} cells)` },
      data: { values },
      width,
      height: { step: 22 },
      layer: [
        {
          name: "segments",
          mark: { type: "bar", height: { band: 0.75 } },
          encoding: {
            y,
            x: { field: "x0", type: "quantitative", title: "cells", scale: { domain: [0, cells], nice: false }, axis: { tickMinStep: 1, format: "d" } },
            x2: { field: "x1" },
            color: {
              field: "segment",
              type: "nominal",
              title: null,
              scale: { domain: RECORD_SEGMENTS.map((s) => s.label), range: RECORD_SEGMENTS.map((s) => s.color) },
              legend: { orient: "bottom", direction: "horizontal", columns: 3, symbolType: "square", symbolStrokeColor: "#333333", symbolStrokeWidth: 0.4 }
            },
            tooltip: [{ field: "system" }, { field: "segment" }, { field: "count" }]
          }
        },
        {
          name: "majority",
          // Its own one-row data: a rule fed the segments would be drawn once per segment.
          data: { values: [{ majority: cells / 2 }] },
          mark: { type: "rule", strokeDash: [2, 3], strokeWidth: 1.5, color: "#000000" },
          encoding: { x: { field: "majority", type: "quantitative" } }
        },
        {
          name: "counts",
          mark: { type: "text", fontSize: 10 },
          encoding: { y, x: { field: "label_x", type: "quantitative" }, text: { field: "count" }, fill: { field: "ink", type: "nominal", scale: null } }
        }
      ]
    } as never
  }
}
