import { Argument, Command, Flag } from "effect/cli"
import { type ArgsOf, lazyHandler } from "../lazy.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

const config = {
  file: Argument.String("samples").pipe(Argument.withDescription("lm-evaluation-harness --log_samples file (samples_<task>_<date>.jsonl)")),
  system: Flag.String("system").pipe(Flag.withDescription("System name the scores land under (required)")),
  task: Flag.String("task").pipe(Flag.withDescription("Task name for scores.task (default: from the file name, e.g. samples_frenchmedmcqa_… → frenchmedmcqa); use mcqa/extqa/absqa to compare with fleuve's grid"), Flag.optional),
  shots: Flag.Int("shots").pipe(Flag.withDescription("num_fewshot of the run (the sample lines do not record it)"), Flag.withDefault(0)),
  datasetVersion: Flag.String("dataset-version").pipe(Flag.withDescription("scores.dataset_version (default lm-eval:<task>); use the dataset name of fleuve's items to pair with its systems"), Flag.optional),
  idField: Flag.String("id-field").pipe(Flag.withDescription("Field of each sample's doc holding the item id (default: doc_id)"), Flag.optional),
  keepGoing: Flag.Boolean("keep-going").pipe(Flag.withDescription("Land valid lines; bad ones go to dead_letters"), Flag.withDefault(false)),
  warehouse: warehouseFlag
}
export type ImportLmEvalArgs = ArgsOf<typeof config>

export const importLmEvalCommand = Command.make("import-lm-eval", config, (args) => lazyHandler(() => import("../handlers/import-lm-eval.ts"), (h) => h.importLmEvalHandler(args))).pipe(
  Command.withDescription("Land lm-evaluation-harness --log_samples outputs as a system, to compare runs made elsewhere with fleuve's."),
  Command.withExamples([
    { command: "fleuve import-lm-eval samples_frenchmedmcqa_2026-11-20T10-15-02.jsonl --system Mistral-7B", description: "acc and acc_norm per item, task from the file name" },
    { command: "fleuve import-lm-eval out/samples_x.jsonl --system M --task mcqa --shots 5 --id-field id --dataset-version enmed-sample/mcqa", description: "Pair with fleuve's own MCQA items" }
  ])
)
