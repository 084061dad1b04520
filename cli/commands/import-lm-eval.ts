import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { describeDeadLetter } from "../../operators/operator.ts"
import { taskFromFileName } from "../../operators/qa/lm-eval/parse-sample.ts"
import { importLmEval } from "../../pipelines/import-lm-eval.ts"
import { reportFailure, withWarehouse } from "../common.ts"
import { progressReporter } from "../progress.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

export const importLmEvalCommand = Command.make(
  "import-lm-eval",
  {
    file: Argument.String("samples").pipe(Argument.withDescription("lm-evaluation-harness --log_samples file (samples_<task>_<date>.jsonl)")),
    system: Flag.String("system").pipe(Flag.withDescription("System name the scores land under (required)")),
    task: Flag.String("task").pipe(Flag.withDescription("Task name for scores.task (default: from the file name, e.g. samples_frenchmedmcqa_… → frenchmedmcqa); use mcqa/extqa/absqa to compare with fleuve's grid"), Flag.optional),
    shots: Flag.Int("shots").pipe(Flag.withDescription("num_fewshot of the run (the sample lines do not record it)"), Flag.withDefault(0)),
    datasetVersion: Flag.String("dataset-version").pipe(Flag.withDescription("scores.dataset_version (default lm-eval:<task>); use the dataset name of fleuve's items to pair with its systems"), Flag.optional),
    idField: Flag.String("id-field").pipe(Flag.withDescription("Field of each sample's doc holding the item id (default: doc_id)"), Flag.optional),
    keepGoing: Flag.Boolean("keep-going").pipe(Flag.withDescription("Land valid lines; bad ones go to dead_letters"), Flag.withDefault(false)),
    warehouse: warehouseFlag
  },
  (o) =>
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
      Effect.provide(withWarehouse(o.warehouse)),
      Effect.catch((e: unknown) => reportFailure({ message: String((e as { message?: string }).message ?? e) }))
    )
).pipe(
  Command.withDescription("Land lm-evaluation-harness --log_samples outputs as a system, to compare runs made elsewhere with fleuve's."),
  Command.withExamples([
    { command: "fleuve import-lm-eval samples_frenchmedmcqa_2026-11-20T10-15-02.jsonl --system Mistral-7B", description: "acc and acc_norm per item, task from the file name" },
    { command: "fleuve import-lm-eval out/samples_x.jsonl --system M --task mcqa --shots 5 --id-field id --dataset-version enmed-sample/mcqa", description: "Pair with fleuve's own MCQA items" }
  ])
)
