import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { ReportError } from "../../warehouse/report/errors.ts"
import { buildReport } from "../../warehouse/report/report.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { reportFailure } from "../common.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

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

export const reportCommand = Command.make(
  "report",
  {
    warehouse: warehouseFlag,
    out: Flag.String("out").pipe(Flag.withDescription("Directory to write figures/*.svg, figures/*.vl.json, report.md and report.html into (created if missing)")),
    reference: Flag.String("reference").pipe(
      Flag.withDescription("System the figures compare against (default: the reference `fleuve analyze` tested against)"),
      Flag.optional
    ),
    config: Flag.String("config").pipe(
      Flag.withDescription("JSON file with a Vega-Lite config merged over the house theme of every chart (fonts, colours, sizes)"),
      Flag.optional
    )
  },
  ({ warehouse, out, reference, config }) =>
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
).pipe(
  Command.withDescription(
    "Draw the evaluation report from the tables `fleuve analyze` writes: ten figures as SVG (with their Vega-Lite specs), " +
      "report.md (tables and figure links, for a model card) and report.html (one self-contained page). Same warehouse, same bytes."
  ),
  Command.withExamples([
    { command: "fleuve report --out report/", description: "Report on ./fleuve.duckdb against the analysed reference" },
    { command: "fleuve analyze --reference Qwen3-14B-vanilla && fleuve report --out report/", description: "Analyse, then draw" },
    { command: "fleuve report --out report/ --config my-theme.json", description: "Restyle every chart with a Vega-Lite config" }
  ])
)
