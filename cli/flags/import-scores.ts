import { Argument, Flag } from "effect/cli"
import { type ArgsOf } from "../lazy.ts"
import { warehouseFlag } from "./warehouse.ts"
import { maxRecordBytesFlag } from "./max-record-bytes.ts"
import { withDefaultSaid } from "./defaults.ts"

export const importScoresFlags = {
  file: Argument.String("file").pipe(Argument.withDescription("CSV, JSONL or Parquet file with columns system, task, shots, item_id, score [, metric, dataset_version, judge]")),
  warehouse: warehouseFlag,
  maxRecordBytes: maxRecordBytesFlag,
  keepGoing: Flag.Boolean("keep-going").pipe(
    Flag.withDescription(withDefaultSaid("Land the valid rows and keep each bad row in dead_letters with its reason (default: any bad row fails the import and nothing lands)", false)),
    Flag.withDefault(false)
  )
}
export type ImportScoresArgs = ArgsOf<typeof importScoresFlags>
