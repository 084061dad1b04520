import { Flag } from "effect/cli"
import { type ArgsOf } from "../lazy.ts"
import { warehouseFlag } from "./warehouse.ts"

export const reportFlags = {
  warehouse: warehouseFlag,
  out: Flag.String("out").pipe(Flag.withDescription("Directory to write figures/*.svg, figures/*.vl.json, report.md and report.html into (created if missing) (required)")),
  reference: Flag.String("reference").pipe(
    Flag.withDescription("System the figures compare against (default: the reference `fleuve analyze` tested against)"),
    Flag.optional
  ),
  sample: Flag.String("sample").pipe(
    Flag.withDescription("What the evaluated sample is, in a few words (e.g. \"FrenchMedMCQA test, 622 items\"): the report then opens with two sentences on it and on what the paired tests against the reference found"),
    Flag.optional
  ),
  config: Flag.String("config").pipe(
    Flag.withDescription("JSON file with a Vega-Lite config merged over the house theme of every chart (fonts, colours, sizes)"),
    Flag.optional
  )
}
export type ReportArgs = ArgsOf<typeof reportFlags>
