import { Console, Effect } from "effect"
import { withMaxRecordBytes } from "../../pipelines/record-limit.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"
import { describeDeadLetter, importScores } from "../../pipelines/import-scores.ts"
import { progressReporter } from "../progress.ts"
import { reportFailure } from "../common.ts"
import { withWarehouse } from "../../pipelines/services.ts"
import type { ImportScoresArgs } from "../flags/import-scores.ts"

export const importScoresHandler = ({ file, warehouse, keepGoing, maxRecordBytes }: ImportScoresArgs) =>
  Effect.gen(function*() {
    const summary = yield* importScores(file, { keepGoing, run: { onProgress: progressReporter() } })
    if (summary.rowsRead === 0) yield* Console.error(`${file}: no rows: the file holds no data rows (it is empty or has a header only)`)
    yield* Console.log(
      `${file}: ${summary.rowsRead} rows read, ${summary.landed} landed, ${summary.alreadyPresent} already present, ` +
        `${summary.repeatedRows} repeated in file, ${summary.rejected} rejected (run ${summary.runId})`
    )
    for (const d of summary.deadLetters.slice(0, 10)) yield* Console.error(`  rejected ${describeDeadLetter(d)}`)
    if (summary.rejected > 10) yield* Console.error(`  … ${summary.rejected - 10} more in the dead_letters table`)
  }).pipe(
    withMaxRecordBytes(maxRecordBytesOf(maxRecordBytes)),
    Effect.provide(withWarehouse(warehouse)),
    Effect.catchTags({ ImportRejected: reportFailure, WarehouseError: reportFailure, PipelineFailure: reportFailure })
  )
