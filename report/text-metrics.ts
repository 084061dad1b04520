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

/**
 * Breaks `text` into lines no wider than `maxWidth` px: at spaces first, then after "/", "-", "_"
 * or "·"; a single unbreakable run longer than the limit is cut by character.
 */
export const wrapText = (text: string, fontSize: number, maxWidth: number): ReadonlyArray<string> => {
  const pieces = text.match(/[^\s/\-_·]+[\s/\-_·]*|[\s/\-_·]+/g) ?? [text]
  const lines: Array<string> = []
  let line = ""
  const push = () => {
    if (line.trim() !== "") lines.push(line.trimEnd())
    line = ""
  }
  for (const piece of pieces) {
    if (textWidth((line + piece).trimEnd(), fontSize) <= maxWidth) {
      line += piece
      continue
    }
    push()
    let rest = piece
    while (textWidth(rest.trimEnd(), fontSize) > maxWidth) {
      let cut = 1
      while (cut < rest.length && textWidth(rest.slice(0, cut + 1), fontSize) <= maxWidth) cut++
      lines.push(rest.slice(0, cut))
      rest = rest.slice(cut)
    }
    line = rest
  }
  push()
  return lines.length > 0 ? lines : [""]
}
