import type { TopLevelSpec } from "vega-lite"
import { textWidth } from "../text-metrics.ts"

/** What every figure shares: the axes of the grid and the reference it is compared against. */
export interface FigureContext {
  readonly reference: string
  /** Systems in global-rank order, best first. */
  readonly systems: ReadonlyArray<string>
  /** One colour per system, same order. */
  readonly colors: ReadonlyArray<string>
  /** Tasks with the metric they were analysed on; a lower-is-better metric flips "better". */
  readonly tasks: ReadonlyArray<{ readonly task: string; readonly metric: string | null; readonly higherIsBetter: boolean }>
  readonly shots: ReadonlyArray<number>
}

export type Rows = ReadonlyArray<Record<string, unknown>>

/** A figure: the query it reads (a .sql file next to it) and what it draws from the rows. */
export interface FigureDefinition {
  /** Two digits, the figure's number in the report; also the prefix of its file names. */
  readonly id: string
  readonly slug: string
  readonly title: string
  /** One or two sentences for the report: what is drawn and how to read it. */
  readonly caption: string
  /** Name of the .sql file under report/figures/ whose rows feed the figure. */
  readonly query: string
}

export interface VegaLiteFigure extends FigureDefinition {
  readonly kind: "vega-lite"
  readonly build: (rows: Rows, ctx: FigureContext) => TopLevelSpec
  /** Colour of the hatching used by this figure, if any. */
  readonly hatchColor?: string
}

/** A figure drawn as hand-written SVG; may produce one file per part (one CD diagram per shot count). */
export interface SvgFigure extends FigureDefinition {
  readonly kind: "svg"
  readonly draw: (rows: Rows, ctx: FigureContext) => ReadonlyArray<{ readonly part: string; readonly label: string; readonly svg: string }>
}

export type Figure = VegaLiteFigure | SvgFigure

export const SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"

/** A number from a row; NULL (a std over one value, a missing cell) becomes NaN, drawn as "–" and skipped by charts. */
export const num = (v: unknown): number => (v === null || v === undefined ? Number.NaN : typeof v === "number" ? v : Number(v))
export const str = (v: unknown): string => String(v)

/**
 * "mcqa (acc)": a task and the metric its scores are in. "score" is the name an import without a
 * metric column gets: it says nothing, so the label is the task alone (the provenance says why).
 */
export const taskLabel = (ctx: FigureContext, task: string): string => {
  const metric = ctx.tasks.find((t) => t.task === task)?.metric
  return metric && metric !== "score" ? `${task} (${metric})` : task
}
export const taskLabels = (ctx: FigureContext) => ctx.tasks.map((t) => taskLabel(ctx, t.task))
export const shotLabel = (shots: number) => `${shots}-shot`
export const shotLabels = (ctx: FigureContext) => ctx.shots.map(shotLabel)

/** A difference turned into a gain: positive means better than the reference, whatever the metric's direction. */
export const gainOf = (ctx: FigureContext, task: string, delta: number): number =>
  ctx.tasks.find((t) => t.task === task)?.higherIsBetter === false ? -delta : delta

/** Stars of a p-value: * p<.05, ** p<.01, *** p<.001, "" otherwise. */
export const stars = (p: number): string => (p < 0.001 ? "***" : p < 0.01 ? "**" : p < 0.05 ? "*" : "")

/** Fixed decimals with a typographic minus; "+" on request, so deltas read as deltas. */
export const fmt = (x: number, digits = 3, signed = false): string => {
  if (!Number.isFinite(x)) return "–"
  const s = Math.abs(x).toFixed(digits)
  const zero = Number(s) === 0
  return x < 0 && !zero ? `−${s}` : signed && !zero ? `+${s}` : s
}

/** Room for the longest of `labels` at `fontSize`, so nothing is truncated and nothing overlaps. */
export const widest = (labels: ReadonlyArray<string>, fontSize: number, weight: string | number = "normal") =>
  Math.ceil(Math.max(0, ...labels.map((l) => textWidth(l, fontSize, weight))))

/** Scale mapping every system to its colour, in rank order. */
export const systemScale = (ctx: FigureContext) => ({ domain: [...ctx.systems], range: [...ctx.colors] })

/** How many legend columns fit in `width` for these labels (symbol + gap + label). */
export const legendColumns = (labels: ReadonlyArray<string>, width: number) =>
  Math.max(1, Math.min(labels.length, Math.floor(width / (widest(labels, 11) + 34))))
