import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { describeDeadLetter } from "../../operators/operator.ts"
import { importScores } from "../../pipelines/import-scores.ts"
import { progressReporter } from "../progress.ts"
import { reportFailure, withWarehouse } from "../common.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

export const importScoresCommand = Command.make(
  "import-scores",
  {
    file: Argument.String("file").pipe(Argument.withDescription("CSV, JSONL or Parquet file with columns system, task, shots, item_id, score [, metric, dataset_version, judge]")),
    warehouse: warehouseFlag,
    keepGoing: Flag.Boolean("keep-going").pipe(
      Flag.withDescription("Land the valid rows and keep each bad row in dead_letters with its reason (default: any bad row fails the import and nothing lands)"),
      Flag.withDefault(false)
    )
  },
  ({ file, warehouse, keepGoing }) =>
    Effect.gen(function*() {
      const summary = yield* importScores(file, { keepGoing, run: { onProgress: progressReporter() } })
      yield* Console.log(
        `${file}: ${summary.rowsRead} rows read, ${summary.landed} landed, ${summary.alreadyPresent} already present, ` +
          `${summary.repeatedRows} repeated in file, ${summary.rejected} rejected (run ${summary.runId})`
      )
      for (const d of summary.deadLetters.slice(0, 10)) yield* Console.error(`  rejected ${describeDeadLetter(d)}`)
      if (summary.rejected > 10) yield* Console.error(`  … ${summary.rejected - 10} more in the dead_letters table`)
    }).pipe(
      Effect.provide(withWarehouse(warehouse)),
      Effect.catchTags({ ImportRejected: reportFailure, WarehouseError: reportFailure, PipelineFailure: reportFailure })
    )
).pipe(
  Command.withDescription("Land item-level scores in the warehouse. Strict: one bad row fails the whole import unless --keep-going."),
  Command.withExamples([
    { command: "fleuve import-scores results.csv", description: "Import, failing on the first bad row (nothing lands)" },
    { command: "fleuve import-scores results.jsonl --keep-going", description: "Land valid rows; bad ones go to dead_letters" }
  ])
)
