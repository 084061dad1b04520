/**
 * `fleuve analyze`: significance and ranking analyses over `scores`. SQL (warehouse/sql/, one file
 * per table) computes every sufficient statistic; analysis/stats/ turns them into p-values,
 * adjustments, bootstrap intervals and critical differences. All tables are replaced in one
 * transaction: readers see the old analysis or the new one, never half of each.
 */
import type { DuckDBValue } from "@duckdb/node-api"
import { Effect, Schema } from "effect"
import { bootstrapIntervals, defaultWorkers } from "./stats/bootstrap-pool.ts"
import { benjaminiHochberg, bonferroni } from "./stats/multiple.ts"
import { friedman, mcnemar, pairedT, type PairedStats, wilcoxon } from "./stats/hypothesis-tests.ts"
import { Runs } from "../warehouse/runs.ts"
import { applySchemaDocs, Warehouse } from "../warehouse/warehouse.ts"
import { analysisSql } from "./sql.ts"
import { ANALYSIS_TABLES } from "./analysis-tables.ts"
import { type CoverageRow, coverageWarnings, friedmanShots } from "./coverage.ts"

export { ANALYSIS_TABLES }

export class AnalysisError extends Schema.TaggedError<AnalysisError>()("AnalysisError", {
  message: Schema.String
}) {}

export type Family = "system" | "all"

export interface AnalysisOptions {
  readonly reference: string
  readonly alpha?: number
  /** BH/Bonferroni family: one candidate's cells ("system", default) or every candidate × cell ("all"). */
  readonly family?: Family
  readonly seed?: number
  readonly resamples?: number
  /** Worker threads for the bootstrap (default: one per core when there are many pairs); results do not depend on it. */
  readonly workers?: number
  /** Per-task metric choices overriding the preference acc > f1 > judge > score > alphabetical. */
  readonly metrics?: Readonly<Record<string, string>>
  /**
   * Which paired tests to compute (default all four). The t-test is always computed: the
   * significance record and the figures' stars are defined by it, as in the EnMed card.
   */
  readonly tests?: ReadonlyArray<"t" | "wilcoxon" | "mcnemar" | "bootstrap">
  /** Called as each step starts (progress on stderr in the CLI). */
  readonly onStep?: (step: string) => void
}


export interface AnalysisSummary {
  readonly reference: string
  readonly metrics: ReadonlyArray<{ readonly task: string; readonly metric: string }>
  readonly rowCounts: Readonly<Record<(typeof ANALYSIS_TABLES)[number], number>>
  /** Cells (task, shots) without the reference system: no paired tests there. */
  readonly cellsWithoutReference: ReadonlyArray<string>
  /** Partial-grid caveats (systems left out of a ranking, Friedman on N < 3 or incomplete blocks): said on stderr and in the report. */
  readonly warnings: ReadonlyArray<string>
}

type PairedStatsRow = {
  task: string
  shots: number
  system: string
  n: number
  mean_diff: number
  sd_diff: number | null
  distinct_values: number
  w_plus: number
  w_minus: number
  nonzero: number
  tie_term: number
  is_binary: boolean
  b: number | null
  c: number | null
}

type PairedRow = {
  task: string
  shots: number
  system: string
  test: "t" | "wilcoxon" | "mcnemar" | "bootstrap"
  n: number
  mean_diff: number
  statistic: number | null
  df: number | null
  p_value: number | null
  ci_low: number | null
  ci_high: number | null
  p_bh: number | null
  p_bonferroni: number | null
  nonzero: number | null
  b: number | null
  c: number | null
  note: string | null
}

/** Adjusts p-values within each family of one test: per candidate, or all rows of the test together. */
const adjust = (rows: Array<PairedRow>, family: Family) => {
  const families = new Map<string, Array<PairedRow>>()
  for (const r of rows) {
    if (r.p_value === null) continue
    const key = `${r.test}\u0000${family === "system" ? r.system : ""}`
    const list = families.get(key) ?? []
    list.push(r)
    families.set(key, list)
  }
  for (const list of families.values()) {
    const ps = list.map((r) => r.p_value!)
    const bh = benjaminiHochberg(ps)
    const bonf = bonferroni(ps)
    list.forEach((r, i) => {
      r.p_bh = bh[i]!
      r.p_bonferroni = bonf[i]!
    })
  }
}

const sqlValue = (v: unknown): DuckDBValue => (v === undefined ? null : (v as DuckDBValue))

export const runAnalyses = (options: AnalysisOptions) =>
  Effect.gen(function*() {
    const w = yield* Warehouse
    const alpha = options.alpha ?? 0.05
    const family = options.family ?? "system"
    const seed = options.seed ?? 0
    const resamples = options.resamples ?? 10_000
    const step = options.onStep ?? (() => {})
    if (!(alpha > 0 && alpha < 1)) return yield* new AnalysisError({ message: `--alpha must be between 0 and 1 (exclusive), got ${alpha}` })

    const [count] = yield* w.query<{ rows: number }>("SELECT count(*) AS rows FROM scores")
    if (!count || count.rows === 0) {
      return yield* new AnalysisError({
        message: `the scores table of ${w.path} is empty: land item-level scores first with \`fleuve import-scores FILE\` (CSV, JSONL or Parquet), or try \`fleuve run sample-scores\``
      })
    }
    const systems = (yield* w.query<{ system: string }>("SELECT DISTINCT system FROM scores ORDER BY system")).map((r) => r.system)
    if (!systems.includes(options.reference)) {
      return yield* new AnalysisError({ message: `unknown reference system '${options.reference}'; known systems: ${systems.join(", ")}` })
    }

    step("choosing one metric per task")
    yield* w.exec(analysisSql("analysis_metrics"))
    for (const [task, metric] of Object.entries(options.metrics ?? {})) {
      const present = yield* w.query("SELECT 1 FROM scores WHERE task = $1 AND metric = $2 LIMIT 1", [task, metric])
      if (present.length === 0) {
        const known = (yield* w.query<{ metric: string }>("SELECT DISTINCT metric FROM scores WHERE task = $1 ORDER BY metric", [task])).map((r) => r.metric)
        return yield* new AnalysisError({
          message: known.length === 0 ? `--metric ${task}=${metric}: no task '${task}' in scores` : `--metric ${task}=${metric}: task '${task}' has no '${metric}' scores; it has: ${known.join(", ")}`
        })
      }
      yield* w.exec("UPDATE analysis_metrics SET metric = $2, higher_is_better = (SELECT higher_is_better FROM metrics WHERE metric = $2) WHERE task = $1", [task, metric])
    }
    const metrics = yield* w.query<{ task: string; metric: string; higher_is_better: boolean | null }>("SELECT * FROM analysis_metrics ORDER BY task")
    const undirected = metrics.filter((m) => m.higher_is_better === null)
    if (undirected.length > 0) {
      const names = [...new Set(undirected.map((m) => m.metric))]
      return yield* new AnalysisError({
        message: `metric(s) ${names.join(", ")} (task ${undirected.map((m) => m.task).join(", ")}) have no direction in the metrics table; add one, e.g. ` +
          `fleuve query "INSERT INTO metrics VALUES ('${names[0]}', true, 'higher is better')"`
      })
    }

    // Recorded in `runs`, so a report can say which command produced the analysis tables.
    const runId = Runs.newId()
    yield* Runs.start(runId, "analyze", { reference: options.reference, alpha, family, seed, resamples, metrics: options.metrics ?? {}, ...(options.tests ? { tests: options.tests } : {}) })
    const summary = yield* w.transaction(Effect.gen(function*() {
      step("scores of the chosen metrics")
      yield* w.exec(analysisSql("analysis_scores"))
      step("cell_scores")
      yield* w.exec(analysisSql("cell_scores"))

      step("paired differences")
      yield* w.exec(analysisSql("paired_differences"), { reference: options.reference })
      const stats = yield* w.query<PairedStatsRow>(analysisSql("paired_stats"), { reference: options.reference })
      step(`paired tests (${stats.length} candidate × cell pairs)`)
      const tRows: Array<PairedRow> = []
      const wRows: Array<PairedRow> = []
      const mRows: Array<PairedRow> = []
      for (const s of stats) {
        const ps: PairedStats = {
          n: s.n, meanDiff: s.mean_diff, sdDiff: s.sd_diff, distinct: s.distinct_values,
          wPlus: s.w_plus, wMinus: s.w_minus, nonzero: s.nonzero, tieTerm: s.tie_term
        }
        const base = { task: s.task, shots: s.shots, system: s.system, n: s.n, mean_diff: s.mean_diff, p_bh: null, p_bonferroni: null }
        const t = pairedT(ps)
        tRows.push({ ...base, test: "t", statistic: t.statistic, df: t.df, p_value: t.pValue, ci_low: t.ciLow, ci_high: t.ciHigh, nonzero: null, b: null, c: null, note: t.note })
        const wx = wilcoxon(ps)
        wRows.push({ ...base, test: "wilcoxon", statistic: wx.statistic, df: null, p_value: wx.pValue, ci_low: null, ci_high: null, nonzero: s.nonzero, b: null, c: null, note: wx.note })
        if (s.is_binary && s.n > 0) {
          const m = mcnemar(s.b ?? 0, s.c ?? 0)
          mRows.push({ ...base, test: "mcnemar", statistic: m.statistic, df: null, p_value: m.pValue, ci_low: null, ci_high: null, nonzero: null, b: s.b ?? 0, c: s.c ?? 0, note: m.note })
        }
      }
      adjust(tRows, family)
      adjust(wRows, family)
      adjust(mRows, family)

      const wanted = new Set(["t", ...(options.tests ?? ["wilcoxon", "mcnemar", "bootstrap"])])
      if (!wanted.has("wilcoxon")) wRows.length = 0
      if (!wanted.has("mcnemar")) mRows.length = 0
      step(wanted.has("bootstrap") ? `bootstrap (${resamples} resamples per candidate × cell)` : "no bootstrap (not among the tests asked for)")
      // One row per pair with its histogram as two lists: ~1,000 rows to convert, not ~120,000.
      const histograms = yield* w.query<{ task: string; shots: number; system: string; values: Array<number>; counts: Array<number> }>(
        "SELECT task, shots, system, list(d ORDER BY d) AS values, list(n ORDER BY d) AS counts FROM paired_differences GROUP BY task, shots, system"
      )
      const byPair = new Map(histograms.map((h) => [`${h.task}\u0000${h.shots}\u0000${h.system}`, h]))
      const jobs = stats.map((s) => {
        const hist = byPair.get(`${s.task}\u0000${s.shots}\u0000${s.system}`) ?? { values: [], counts: [] }
        return { seedLabel: `${seed}\u0000${s.task}\u0000${s.shots}\u0000${s.system}`, values: hist.values, counts: hist.counts }
      })
      const intervals = !wanted.has("bootstrap") ? [] : yield* Effect.tryPromise({
        try: () => bootstrapIntervals(jobs, resamples, options.workers ?? defaultWorkers(jobs.length)),
        catch: (e) => new AnalysisError({ message: `bootstrap failed: ${e instanceof Error ? e.message : String(e)}` })
      })
      const bRows: Array<PairedRow> = !wanted.has("bootstrap") ? [] : stats.map((s, i) => {
        const [lo, hi] = intervals[i]!
        return {
          task: s.task, shots: s.shots, system: s.system, test: "bootstrap", n: s.n, mean_diff: s.mean_diff,
          statistic: null, df: null, p_value: null, ci_low: lo, ci_high: hi, p_bh: null, p_bonferroni: null,
          nonzero: null, b: null, c: null, note: s.n === 0 ? "no shared items" : null
        }
      })

      yield* w.exec(analysisSql("paired_tests"))
      const order = (r: PairedRow) => `${r.task}\u0000${String(r.shots).padStart(6, "0")}\u0000${r.system}`
      const all = [...tRows, ...wRows, ...mRows, ...bRows].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0))
      yield* w.append(
        "paired_tests",
        all.map((r) => [r.task, r.shots, r.system, options.reference, r.test, r.n, r.mean_diff, r.statistic, r.df, r.p_value, r.ci_low, r.ci_high, r.p_bh, r.p_bonferroni, r.nonzero, r.b, r.c, r.note].map(sqlValue))
      )

      step("normalized_scores, ranking_coverage, global_ranking, best_per_cell")
      yield* w.exec(analysisSql("normalized_scores"))
      yield* w.exec(analysisSql("ranking_coverage"))
      yield* w.exec(analysisSql("global_ranking"))
      yield* w.exec(analysisSql("best_per_cell"))
      step("avg_ranks, friedman")
      yield* w.exec(analysisSql("cell_ranks"))
      yield* w.exec(analysisSql("avg_ranks"))
      const fStats = yield* w.query<{ shots: number; k: number; n: number; sum_rank_squares: number; tie_term: number }>(analysisSql("friedman_stats"))
      const coverage = yield* w.query<CoverageRow>("SELECT * FROM ranking_coverage ORDER BY scope DESC, shots NULLS FIRST, system")
      const grid = yield* w.query<{ scope: string; task: string; shots: number }>("SELECT * FROM ranking_grid ORDER BY scope, shots, task")
      const cells = yield* w.query<{ task: string; shots: number; systems: number }>("SELECT task, shots, count(*)::INTEGER AS systems FROM cell_scores GROUP BY ALL ORDER BY ALL")
      yield* w.exec(analysisSql("friedman"))
      const friedmanRows = friedmanShots(coverage, grid, cells).map(({ shots, note }) => {
        const f = fStats.find((x) => x.shots === shots)
        if (!f || f.k < 2) return [shots, f?.k ?? 0, f?.n ?? 0, null, null, null, null, null, note]
        const r = friedman(f.k, f.n, f.sum_rank_squares, f.tie_term, alpha)
        return [f.shots, f.k, f.n, r.chi2, r.pValue, r.imanDavenportF, r.imanDavenportP, r.cd, note]
      })
      yield* w.append("friedman", friedmanRows.map((r) => r.map(sqlValue)))
      const warnings = coverageWarnings(coverage, grid, cells, friedmanRows.map((r) => ({ shots: r[0] as number, note: r[8] as string | null })))
      step("significance_record")
      yield* w.exec(analysisSql("significance_record"), { alpha })

      const rowCounts = {} as Record<(typeof ANALYSIS_TABLES)[number], number>
      for (const table of ANALYSIS_TABLES) {
        const [c] = yield* w.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)
        rowCounts[table] = c!.n
      }
      const missing = yield* w.query<{ task: string; shots: number }>(
        analysisSql("cells_without_reference"),
        { reference: options.reference }
      )
      return {
        reference: options.reference,
        metrics: metrics.map((m) => ({ task: m.task, metric: m.metric })),
        rowCounts,
        cellsWithoutReference: missing.map((m) => `${m.task}/${m.shots}-shot`),
        warnings
      } satisfies AnalysisSummary
    }))
    yield* applySchemaDocs(w)
    yield* Runs.finish(runId, "succeeded", { rowCounts: summary.rowCounts, warnings: summary.warnings })
    yield* w.exec("DROP VIEW IF EXISTS analysis_scores; DROP TABLE IF EXISTS paired_differences; DROP TABLE IF EXISTS cell_ranks; DROP TABLE IF EXISTS ranking_grid")
    return summary
  })
