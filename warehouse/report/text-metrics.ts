import { readFileSync } from "node:fs"
import { join } from "node:path"

/**
 * Text widths from a committed table of DejaVu Sans advance widths (font-metrics.json, written by
 * scripts/report/font-metrics.py), so layout never depends on the fonts of the machine that
 * writes the report. Every figure declares the same font stack (FONT_FAMILY), whose first
 * available member is at most as wide as DejaVu Sans.
 */
interface Metrics {
  readonly weights: Record<"normal" | "bold", { readonly fallback: number; readonly widths: Record<string, number> }>
}

const metrics: Metrics = JSON.parse(readFileSync(join(import.meta.dirname, "font-metrics.json"), "utf8"))

/** DejaVu Sans first: what we measure is what most Linux browsers draw; the others are narrower. */
export const FONT_FAMILY = "'DejaVu Sans', Verdana, 'Helvetica Neue', Helvetica, Arial, sans-serif"

/** Width in pixels of `text` at `fontSize` px; bold for weights ≥ 600 or "bold". */
export const textWidth = (text: string, fontSize: number, weight: string | number = "normal"): number => {
  const bold = weight === "bold" || (typeof weight === "number" && weight >= 600) || (typeof weight === "string" && Number(weight) >= 600)
  const table = metrics.weights[bold ? "bold" : "normal"]
  let em = 0
  for (const ch of text) em += table.widths[ch] ?? table.fallback
  return em * fontSize
}
