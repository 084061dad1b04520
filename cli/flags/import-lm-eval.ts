import { Argument, Flag } from "effect/cli"
import { type ArgsOf } from "../lazy.ts"
import { warehouseFlag } from "./warehouse.ts"
import { maxRecordBytesFlag } from "./max-record-bytes.ts"
import { decimalIntFlag } from "./decimal-int.ts"
import { withDefaultSaid } from "./defaults.ts"

export const importLmEvalFlags = {
  file: Argument.String("samples").pipe(Argument.withDescription("lm-evaluation-harness --log_samples file (samples_<task>_<date>.jsonl)")),
  system: Flag.String("system").pipe(Flag.withDescription("System name the scores land under (required)")),
  task: Flag.String("task").pipe(Flag.withDescription("Task name for scores.task (default: from the file name, e.g. samples_frenchmedmcqa_… → frenchmedmcqa); use mcqa/extqa/absqa to compare with fleuve's grid"), Flag.optional),
  shots: decimalIntFlag("shots").pipe(Flag.withDescription(withDefaultSaid("num_fewshot of the run (the sample lines do not record it)", 0)), Flag.withDefault(0)),
  datasetVersion: Flag.String("dataset-version").pipe(Flag.withDescription("scores.dataset_version (default lm-eval:<task>); use the dataset name of fleuve's items to pair with its systems"), Flag.optional),
  idField: Flag.String("id-field").pipe(Flag.withDescription("Field of each sample's doc holding the item id (default: doc_id)"), Flag.optional),
  keepGoing: Flag.Boolean("keep-going").pipe(Flag.withDescription(withDefaultSaid("Land valid lines; bad ones go to dead_letters", false)), Flag.withDefault(false)),
  warehouse: warehouseFlag,
  maxRecordBytes: maxRecordBytesFlag
}
export type ImportLmEvalArgs = ArgsOf<typeof importLmEvalFlags>
