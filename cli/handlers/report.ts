import { Console, Effect, Option } from "effect"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { ReportError } from "../../report/errors.ts"
import { buildReport } from "../../report/report.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { reportFailure } from "../common.ts"
import type { ReportArgs } from "../flags/report.ts"

const readConfig = (path: string) =>
  Effect.try({
    try: () => {
      const parsed: unknown = JSON.parse(readFileSync(path, "utf8"))
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("expected a JSON object (a Vega-Lite config)")
      return parsed as Record<string, unknown>
    },
    catch: (e) => new ReportError({ message: `--config ${path}: ${e instanceof Error ? e.message : String(e)}` })
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

export const reportHandler = ({ warehouse, out, reference, config }: ReportArgs) =>
  Effect.gen(function*() {
    const userConfig = Option.isSome(config) ? yield* readConfig(config.value) : undefined
    const files = yield* buildReport({
      reference: Option.getOrUndefined(reference),
      config: userConfig,
      onFigure: (id, title) => process.stderr.write(`figure ${id}: ${title}\n`)
    })
    yield* writeFiles(out, files)
    const svgs = files.filter((f) => f.path.endsWith(".svg")).length
    yield* Console.log(`${out}: ${svgs} SVG figures, report.md, report.html (${files.length} files)`)
  }).pipe(
    Effect.provide(Warehouse.layer(warehouse)),
    Effect.catchTags({ ReportError: reportFailure, WarehouseError: reportFailure })
  )
