import { Command, Flag } from "effect/cli"
import { type ArgsOf, lazyHandler } from "../lazy.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

const config = {
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
}
export type ReportArgs = ArgsOf<typeof config>

export const reportCommand = Command.make("report", config, (args) => lazyHandler(() => import("../handlers/report.ts"), (h) => h.reportHandler(args))).pipe(
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
