import { Console, Effect, Option } from "effect"
import { withMaxRecordBytes } from "../../pipelines/record-limit.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"
import { describeDeadLetter, importLmEval, taskFromFileName } from "../../pipelines/import-lm-eval.ts"
import { reportAnyFailure, reportFailure } from "../common.ts"
import { withWarehouse } from "../../pipelines/services.ts"
import { progressReporter } from "../progress.ts"
import type { ImportLmEvalArgs } from "../flags/import-lm-eval.ts"

export const importLmEvalHandler = (o: ImportLmEvalArgs) =>
  Effect.gen(function*() {
    const task = Option.getOrUndefined(o.task) ?? taskFromFileName(o.file)
    if (!task) return yield* reportFailure({ message: `${o.file}: cannot tell the task from the file name; pass --task` })
    const summary = yield* importLmEval(o.file, {
      system: o.system,
      task,
      shots: o.shots,
      datasetVersion: Option.getOrUndefined(o.datasetVersion) ?? `lm-eval:${task}`,
      ...(Option.isSome(o.idField) ? { idField: o.idField.value } : {}),
      keepGoing: o.keepGoing,
      run: { onProgress: progressReporter() }
    })
    yield* Console.log(`${o.file}: ${summary.lines} sample line(s), ${summary.landed} score(s) landed for system ${o.system} (task ${task}), ${summary.alreadyPresent} already present, ${summary.rejected} rejected (run ${summary.runId})`)
    for (const d of summary.deadLetters.slice(0, 10)) yield* Console.error(`  rejected ${describeDeadLetter(d)}`)
  }).pipe(
    withMaxRecordBytes(maxRecordBytesOf(o.maxRecordBytes)),
    Effect.provide(withWarehouse(o.warehouse)),
    Effect.catch(reportAnyFailure)
  )
