import { Argument, Command, Flag } from "effect/cli"
import { type ArgsOf, lazyHandler } from "../lazy.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

const config = {
  file: Argument.String("file").pipe(Argument.withDescription("CSV, JSONL or Parquet file with columns system, task, shots, item_id, score [, metric, dataset_version, judge]")),
  warehouse: warehouseFlag,
  keepGoing: Flag.Boolean("keep-going").pipe(
    Flag.withDescription("Land the valid rows and keep each bad row in dead_letters with its reason (default: any bad row fails the import and nothing lands)"),
    Flag.withDefault(false)
  )
}
export type ImportScoresArgs = ArgsOf<typeof config>

export const importScoresCommand = Command.make("import-scores", config, (args) => lazyHandler(() => import("../handlers/import-scores.ts"), (h) => h.importScoresHandler(args))).pipe(
  Command.withDescription("Land item-level scores in the warehouse. Strict: one bad row fails the whole import unless --keep-going."),
  Command.withExamples([
    { command: "fleuve import-scores results.csv", description: "Import, failing on the first bad row (nothing lands)" },
    { command: "fleuve import-scores results.jsonl --keep-going", description: "Land valid rows; bad ones go to dead_letters" }
  ])
)
