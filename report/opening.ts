import { Effect } from "effect"
import { Warehouse } from "../warehouse/warehouse.ts"
import type { FigureContext } from "./figures/common.ts"
import { fmt, gainOf, shotLabel, taskLabel } from "./figures/common.ts"
import { lastAnalyzeRun } from "./provenance.ts"

/** One paired t-test of paired_tests (candidate − reference in one cell). */
export interface OpeningTest {
  readonly task: string
  readonly shots: number
  readonly system: string
  readonly n: number
  readonly meanDiff: number
  /** The t statistic (NULL in the warehouse when the cell is degenerate: no variance). */
  readonly statistic: number | null
  readonly pBh: number | null
}

export interface OpeningInput {
  /** What the sample is, in the caller's words (a study's description). */
  readonly sample: string
  readonly reference: string
  readonly alpha: number
  readonly tests: ReadonlyArray<OpeningTest>
}

const cellName = (t: OpeningTest) => `${t.task} ${shotLabel(t.shots)}`
const sentence = (s: string) => (/[.!?]$/.test(s.trim()) ? s.trim() : `${s.trim()}.`)

/**
 * The report's opening, two sentences computed from the analysis tables: what was compared (the
 * sample as the caller describes it, the systems, cells and items), then what the paired t-tests
 * against the reference found after Benjamini–Hochberg — how many differences are significant
 * (better and worse) and the strongest one, by standardised effect |t|/√n (tasks have different units,
 * so the raw deltas are not compared across tasks), with its cell, delta and adjusted p — or that
 * none is.
 */
export const openingSentences = (input: OpeningInput, ctx: FigureContext): [string, string] => {
  const candidates = [...new Set(input.tests.map((t) => t.system))]
  const cells = new Set(input.tests.map((t) => `${t.task}\0${t.shots}`))
  const items = input.tests.map((t) => t.n)
  const itemRange = items.length === 0 ? "no items" : Math.min(...items) === Math.max(...items) ? `${items[0]} items per cell` : `${Math.min(...items)}–${Math.max(...items)} items per cell`
  const first = sentence(
    `${input.sample.trim().replace(/\.+$/, "")}: ${candidates.length} system${candidates.length === 1 ? "" : "s"} compared with ${input.reference} in ${cells.size} cell${cells.size === 1 ? "" : "s"} ` +
      `(${ctx.tasks.map((t) => taskLabel(ctx, t.task)).join(", ")} × ${ctx.shots.join("/")} shots, ${itemRange}), ${input.tests.length} paired differences in all`
  )
  const significant = input.tests.filter((t) => t.pBh !== null && t.pBh < input.alpha && t.meanDiff !== 0)
  if (significant.length === 0) {
    return [first, `No difference against ${input.reference} is significant after the Benjamini–Hochberg adjustment (paired t-tests, α = ${input.alpha}).`]
  }
  const better = significant.filter((t) => gainOf(ctx, t.task, t.meanDiff) > 0).length
  const effect = (t: OpeningTest) => (t.statistic === null ? 0 : Math.abs(t.statistic) / Math.sqrt(Math.max(1, t.n)))
  const strongest = [...significant].sort((a, b) => effect(b) - effect(a) || a.system.localeCompare(b.system) || a.task.localeCompare(b.task) || a.shots - b.shots)[0]!
  const metric = ctx.tasks.find((t) => t.task === strongest.task)?.metric
  const second = `${significant.length} of the ${input.tests.length} paired differences against ${input.reference} are significant after the Benjamini–Hochberg adjustment ` +
    `(paired t-tests, α = ${input.alpha}; ${better} better, ${significant.length - better} worse); the strongest is ${strongest.system} on ${cellName(strongest)}, ` +
    `${fmt(strongest.meanDiff, 3, true)}${metric ? ` ${metric}` : ""} (adjusted p = ${strongest.pBh! < 1e-4 ? strongest.pBh!.toExponential(1) : fmt(strongest.pBh!)}).`
  return [first, second]
}

/** openingSentences from the warehouse: the paired t-tests against `reference` and the α of the last `fleuve analyze`. */
export const loadOpening = (sample: string, reference: string, ctx: FigureContext) =>
  Effect.gen(function*() {
    const w = yield* Warehouse
    const rows = yield* w.query<{ task: string; shots: number; system: string; n: number; mean_diff: number | null; statistic: number | null; p_bh: number | null }>(
      "SELECT task, shots, system, n, mean_diff, statistic, p_bh FROM paired_tests WHERE test = 't' AND reference = $1 ORDER BY task, shots, system",
      [reference]
    )
    const run = yield* lastAnalyzeRun
    return openingSentences({
      sample,
      reference,
      alpha: run?.args.alpha ?? 0.05,
      tests: rows.map((r) => ({ task: r.task, shots: Number(r.shots), system: r.system, n: Number(r.n), meanDiff: r.mean_diff ?? 0, statistic: r.statistic, pBh: r.p_bh }))
    }, ctx)
  })
