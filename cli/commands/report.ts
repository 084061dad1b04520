import { Command } from "effect/cli"
import { lazyHandler } from "../lazy.ts"
import { reportFlags } from "../flags/report.ts"

export const reportCommand = Command.make("report", reportFlags, (args) => lazyHandler(() => import("../handlers/report.ts"), (h) => h.reportHandler(args))).pipe(
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
