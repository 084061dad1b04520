import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { ANALYSIS_TABLES } from "../analysis/analyses.ts"
import { Warehouse } from "../warehouse/warehouse.ts"
import { analysisSql } from "../analysis/sql.ts"
import { renderHtml, renderMarkdown, type RenderedFigure } from "./documents.ts"
import { loadCaveats } from "./caveats.ts"
import { DEFAULT_ITEMS_PER_CELL, explorerHtml, loadExplorer } from "./explorer.ts"
import { lastAnalyzeRun, loadProvenance } from "./provenance.ts"
import { ReportError } from "./errors.ts"
import type { FigureContext, Rows } from "./figures/common.ts"
import { FIGURES } from "./figures/index.ts"
import { systemColors } from "./palette.ts"
import { renderVegaLite, withTheme } from "./render.ts"
import { loadHeldoutLossTable } from "./heldout-loss.ts"
import { loadOpening } from "./opening.ts"
import { bestPerCellTable, globalRankingTable, significanceRecordTable, taskMeansTable } from "./tables.ts"

/** The query of a figure: report/figures/<name>.sql. */
export const figureSql = (name: string): string => readFileSync(join(import.meta.dirname, "figures", `${name}.sql`), "utf8")

export interface ReportOptions {
  /** System the tests compare against; default: the only reference in paired_tests. */
  readonly reference?: string | undefined
  /** Vega-Lite config merged over the house theme of every chart. */
  readonly config?: Record<string, unknown> | undefined
  /** Items per cell in report.html's item explorer (most disputed first; default 1000). */
  readonly explorerItemsPerCell?: number | undefined
  /** A study name, printed at the top of the report and in its provenance. */
  readonly study?: string | undefined
  /**
   * What the evaluated sample is, in a few words (a study's description): when given, the report
   * opens with two sentences computed from the warehouse, this one and what the tests found
   * (report/opening.ts).
   */
  readonly sample?: string | undefined
  /** Called once per figure drawn, for progress on stderr. */
  readonly onFigure?: ((id: string, title: string) => void) | undefined
}

/** One output file, relative to the report's directory. */
export interface ReportFile {
  readonly path: string
  readonly content: string
}

const requireTables = Effect.gen(function*() {
  const w = yield* Warehouse
  const present = new Set((yield* w.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'main'")).map((r) => r.name))
  const missing = ANALYSIS_TABLES.filter((t) => !present.has(t))
  if (missing.length > 0) {
    return yield* new ReportError({
      message: `warehouse ${w.path} has no ${missing.join(", ")} table${missing.length > 1 ? "s" : ""}: run \`fleuve analyze --reference SYSTEM\` first`
    })
  }
})

const resolveReference = (requested: string | undefined) =>
  Effect.gen(function*() {
    const w = yield* Warehouse
    const references = (yield* w.query<{ reference: string }>("SELECT DISTINCT reference FROM paired_tests ORDER BY reference")).map((r) => r.reference)
    if (requested !== undefined) {
      if (!references.includes(requested)) {
        return yield* new ReportError({
          message: `--reference ${requested}: paired_tests has no tests against it (references: ${references.join(", ") || "none"}); run \`fleuve analyze --reference ${requested}\``
        })
      }
      return requested
    }
    if (references.length !== 1) {
      return yield* new ReportError({
        message: references.length === 0
          ? "paired_tests is empty: run `fleuve analyze --reference SYSTEM` on a warehouse with scores"
          : `paired_tests compares against several references (${references.join(", ")}): choose one with --reference`
      })
    }
    return references[0]!
  })

const loadContext = (reference: string) =>
  Effect.gen(function*() {
    const w = yield* Warehouse
    // The metric each task was analysed on: the preference rule of `fleuve analyze`, then the
    // --metric overrides its recorded run used.
    yield* w.exec(analysisSql("analysis_metrics"))
    const run = yield* lastAnalyzeRun
    for (const [task, metric] of Object.entries(run?.args.metrics ?? {})) {
      yield* w.exec("UPDATE analysis_metrics SET metric = $2, higher_is_better = (SELECT higher_is_better FROM metrics WHERE metric = $2) WHERE task = $1", [task, metric])
    }
    const rows = yield* w.query<{ kind: string; name: string; ord: number | null; metric: string | null; higher_is_better: boolean | null }>(figureSql("context"))
    const systems = rows.filter((r) => r.kind === "system").map((r) => r.name)
    if (systems.length === 0) return yield* new ReportError({ message: "global_ranking is empty: nothing to report" })
    const ctx: FigureContext = {
      reference,
      systems,
      colors: systemColors(systems.length),
      tasks: rows.filter((r) => r.kind === "task").map((r) => ({ task: r.name, metric: r.metric, higherIsBetter: r.higher_is_better !== false })),
      shots: rows.filter((r) => r.kind === "shots").map((r) => Number(r.ord))
    }
    return ctx
  })

const queryFor = (name: string, reference: string) =>
  Effect.gen(function*() {
    const w = yield* Warehouse
    const sql = figureSql(name)
    return (yield* (sql.includes("$reference") ? w.query(sql, { reference }) : w.query(sql))) as Rows
  })

/**
 * Builds every file of the report from the analysis tables: figures/*.svg with their Vega-Lite
 * specs (*.vl.json, data inline, to restyle), report.md and report.html. Pure output: the caller
 * writes the files. Same warehouse, same options ⇒ same bytes.
 */
export const buildReport = (options: ReportOptions = {}) =>
  Effect.gen(function*() {
    yield* requireTables
    const reference = yield* resolveReference(options.reference)
    const ctx = yield* loadContext(reference)
    const cache = new Map<string, Rows>()
    const rowsOf = (name: string) =>
      cache.has(name) ? Effect.succeed(cache.get(name)!) : queryFor(name, reference).pipe(Effect.tap((rows) => Effect.sync(() => cache.set(name, rows))))

    const files: Array<ReportFile> = []
    const figures: Array<RenderedFigure> = []
    for (const figure of FIGURES) {
      options.onFigure?.(figure.id, figure.title)
      const rows = yield* rowsOf(figure.query)
      const base = `${figure.id}-${figure.slug}`
      if (figure.kind === "vega-lite") {
        const spec = figure.build(rows, ctx)
        const svg = yield* Effect.tryPromise({
          try: () => renderVegaLite(spec, figure.id, { config: options.config, hatchColor: figure.hatchColor }),
          catch: (e) => new ReportError({ message: `figure ${figure.id} (${figure.slug}): ${e instanceof Error ? e.message : String(e)}` })
        })
        files.push({ path: `figures/${base}.svg`, content: svg })
        files.push({ path: `figures/${base}.vl.json`, content: `${JSON.stringify(withTheme(spec, options.config), null, 2)}\n` })
        figures.push({ figure, parts: [{ file: `figures/${base}.svg`, label: null, svg }] })
      } else {
        const parts = figure.draw(rows, ctx).map((p) => ({ file: `figures/${base}-${p.part}.svg`, label: p.label, svg: p.svg }))
        for (const p of parts) files.push({ path: p.file, content: p.svg })
        figures.push({ figure, parts })
      }
    }
    const tables = [
      taskMeansTable(yield* rowsOf("task-means"), ctx),
      globalRankingTable(yield* rowsOf("global-ranking"), ctx),
      significanceRecordTable(yield* rowsOf("significance-record"), ctx),
      bestPerCellTable(yield* rowsOf("best-per-cell"), ctx)
    ]
    // Measured only by runs that train (the demo, a study): left out when there is none.
    const heldout = yield* loadHeldoutLossTable(reference)
    if (heldout) tables.push(heldout)
    const opening = options.sample === undefined ? [] : yield* loadOpening(options.sample, reference, ctx)
    const caveats = yield* loadCaveats
    const provenance = yield* loadProvenance(options.study)
    const perCell = options.explorerItemsPerCell ?? DEFAULT_ITEMS_PER_CELL
    const explorer = yield* loadExplorer(perCell)
    files.push({ path: "report.md", content: renderMarkdown(ctx, tables, figures, caveats, provenance, explorer, opening) })
    files.push({ path: "report.html", content: renderHtml(ctx, tables, figures, caveats, provenance, explorerHtml(explorer, perCell), opening) })
    return files
  })
