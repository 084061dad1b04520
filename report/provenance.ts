/**
 * Where the report's numbers come from: per cell the metric, n and dataset versions; the
 * `fleuve analyze` invocation that wrote the analysis tables (recorded in `runs`); the runs that
 * landed the scores; and a study name when the caller gives one. Read from the warehouse only, so
 * the same warehouse gives the same bytes.
 */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Warehouse } from "../warehouse/warehouse.ts"
import type { ReportTable } from "./tables.ts"

const PROVENANCE_SQL = readFileSync(join(import.meta.dirname, "provenance.sql"), "utf8")

export interface AnalyzeArgs {
  readonly reference?: string
  readonly alpha?: number
  readonly family?: string
  readonly seed?: number
  readonly resamples?: number
  readonly metrics?: Readonly<Record<string, string>>
}

export interface Provenance {
  readonly study: string | undefined
  /** The `fleuve analyze` command line that produced the analysis tables, when recorded. */
  readonly analyze: { readonly command: string; readonly runId: string; readonly finishedAt: string } | undefined
  /** Runs that landed the scores (command, id, rows); rows with no run id are counted under "unrecorded". */
  readonly dataRuns: ReadonlyArray<{ readonly command: string; readonly runId: string | null; readonly rows: number; readonly source: string | null }>
  readonly cells: ReportTable
}

/** The latest analyze run's arguments (metric overrides included), or undefined for analyses written before runs were recorded. */
export const lastAnalyzeRun = Effect.gen(function*() {
  const w = yield* Warehouse
  const [run] = yield* w.query<{ run_id: string; args: string | null; finished_at: unknown }>(
    "SELECT run_id, args::VARCHAR AS args, finished_at::VARCHAR AS finished_at FROM runs WHERE command = 'analyze' AND status = 'succeeded' ORDER BY finished_at DESC, run_id DESC LIMIT 1"
  )
  if (!run) return undefined
  return { runId: run.run_id, finishedAt: String(run.finished_at), args: (run.args ? JSON.parse(run.args) : {}) as AnalyzeArgs }
})

export const analyzeCommand = (a: AnalyzeArgs): string =>
  [
    "fleuve analyze",
    a.reference === undefined ? "" : `--reference ${a.reference}`,
    a.alpha === undefined ? "" : `--alpha ${a.alpha}`,
    a.family === undefined ? "" : `--family ${a.family}`,
    a.seed === undefined ? "" : `--seed ${a.seed}`,
    ...Object.entries(a.metrics ?? {}).map(([t, m]) => `--metric ${t}=${m}`)
  ].filter((s) => s !== "").join(" ")

export const loadProvenance = (study: string | undefined) =>
  Effect.gen(function*() {
    const w = yield* Warehouse
    const run = yield* lastAnalyzeRun
    const rows = yield* w.query<{ task: string; shots: number; metric: string; higher_is_better: boolean | null; systems: number; n_min: number; n_max: number; dataset_versions: string | null }>(PROVENANCE_SQL)
    const dataRuns = yield* w.query<{ command: string; run_id: string | null; rows: number; source: string | null }>(
      `SELECT coalesce(r.command, 'unrecorded') AS command, s.run_id, count(*)::INTEGER AS rows,
              CASE WHEN count(DISTINCT split_part(s.source, ':', 1)) = 1 THEN min(split_part(s.source, ':', 1)) END AS source
       FROM scores s LEFT JOIN runs r USING (run_id)
       GROUP BY ALL ORDER BY min(r.started_at) NULLS LAST, s.run_id NULLS LAST`
    )
    const cells: ReportTable = {
      id: "provenance",
      title: "Provenance per cell",
      caption: "The metric each task was analysed on (and its direction), the systems in the cell, the items per system (min–max over systems: n of the paired tests may be smaller, on shared items only) and the dataset versions of those items.",
      header: ["Task", "Shots", "Metric", "Systems", "Items per system", "Dataset versions"],
      numeric: [false, true, false, true, true, false],
      rows: rows.map((r) => [
        r.task,
        String(r.shots),
        r.metric === "score" ? "score (unnamed: imported without a metric column)" : `${r.metric} (${r.higher_is_better === false ? "lower" : "higher"} is better)`,
        String(r.systems),
        r.n_min === r.n_max ? String(r.n_min) : `${r.n_min}–${r.n_max}`,
        r.dataset_versions ?? "–"
      ])
    }
    return {
      study,
      analyze: run ? { command: analyzeCommand(run.args), runId: run.runId, finishedAt: run.finishedAt } : undefined,
      dataRuns: dataRuns.map((d) => ({ command: d.command, runId: d.run_id, rows: d.rows, source: d.source })),
      cells
    } satisfies Provenance
  })

/** The provenance as Markdown lines (report.md) and as plain sentences (report.html escapes them). */
export const provenanceLines = (p: Provenance): Array<string> => [
  ...(p.study ? [`Study: ${p.study}.`] : []),
  p.analyze
    ? `Analyses: \`${p.analyze.command}\` (run ${p.analyze.runId}, finished ${p.analyze.finishedAt} UTC); figures and tables: \`fleuve report\`.`
    : "Analyses: `fleuve analyze` (this warehouse's analyses predate the recording of analyze runs).",
  `Scores landed by: ${p.dataRuns.map((d) => `${d.command}${d.source ? ` ${d.source}` : ""}${d.runId ? ` (run ${d.runId})` : ""}: ${d.rows} rows`).join("; ")}.`
]
