/** `fleuve report`: the figures, report.md and report.html drawn from the warehouse, written to a folder. */
import { Effect } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { ReportError } from "../report/errors.ts"
import { buildReport } from "../report/report.ts"
import { readThemeFile } from "../report/theme.ts"

export interface WriteReportOptions {
  readonly out: string
  readonly reference?: string | undefined
  /** A JSON file holding a Vega-Lite config merged over the house theme. */
  readonly configFile?: string | undefined
  readonly onFigure?: (id: string, title: string) => void
  /** The study the report comes from: named in its title and provenance. */
  readonly study?: string | undefined
  /** What the evaluated sample is: the report then opens with two sentences on it and on what was found (report/opening.ts). */
  readonly sample?: string | undefined
  /** A last change to each drawn file before it is written (the demo's note). */
  readonly amend?: (file: { readonly path: string; readonly content: string }) => string
}

// Checked against Vega-Lite's JSON Schema: unknown keys and wrong types name the file and key.
const readConfig = (path: string) =>
  Effect.try({
    try: () => readThemeFile(path),
    catch: (e) => new ReportError({ message: `--config ${e instanceof Error ? e.message : String(e)}` })
  })

const writeFiles = (out: string, files: ReadonlyArray<{ path: string; content: string }>) =>
  Effect.try({
    try: () => {
      for (const f of files) {
        const target = join(out, f.path)
        mkdirSync(dirname(target), { recursive: true })
        writeFileSync(target, f.content)
      }
    },
    catch: (e) => new ReportError({ message: `cannot write the report under ${out}: ${e instanceof Error ? e.message : String(e)}` })
  })

/** Draws the report from the warehouse and writes it under `out`; returns the files written. */
export const writeReport = (o: WriteReportOptions) =>
  Effect.gen(function*() {
    const config = o.configFile === undefined ? undefined : yield* readConfig(o.configFile)
    const drawn = yield* buildReport({ reference: o.reference, config, sample: o.sample, ...(o.study !== undefined ? { study: o.study } : {}), ...(o.onFigure ? { onFigure: o.onFigure } : {}) })
    const files = o.amend ? drawn.map((f) => ({ path: f.path, content: o.amend!(f) })) : drawn
    yield* writeFiles(o.out, files)
    return files
  })
