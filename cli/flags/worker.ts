import { Argument, Flag } from "effect/cli"
import { kafkaFlags } from "./kafka.ts"
import { type ArgsOf } from "../lazy.ts"
import { warehouseFlag } from "./warehouse.ts"
import { maxRecordBytesFlag } from "./max-record-bytes.ts"
import { endpointFlags } from "./endpoint.ts"
import { modelSystemFlags } from "./model-selection.ts"

export const workerFlags = {
  node: Argument.String("node").pipe(Argument.withDescription("The stage, sink or source to run (see `fleuve pipelines`)")),
  pipeline: Flag.String("pipeline").pipe(Flag.withDescription("Pipeline the node belongs to (required)")),
  instance: Flag.String("instance").pipe(
    Flag.withDescription("Stable id of this worker (default $FLEUVE_WORKER_ID, else the host name): a restarted worker with the same id fences its predecessor's transactions"),
    Flag.optional
  ),
  warehouse: warehouseFlag,
  // The system of an evaluation grid's scorer worker (`predict --pipeline evaluate-<system>`): the
  // same flags `fleuve reeval` takes for it, so the worker's model is the one its requests name.
  ...endpointFlags,
  ...modelSystemFlags,
  maxRecordBytes: maxRecordBytesFlag,
  ...kafkaFlags
}
export type WorkerArgs = ArgsOf<typeof workerFlags>
