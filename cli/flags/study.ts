import { Argument, Flag } from "effect/cli"
import { backendNames } from "../../model/names.ts"
import { type ArgsOf } from "../lazy.ts"
import { engineFlag } from "./model-selection.ts"
import { warehouseFlag } from "./warehouse.ts"
import { maxRecordBytesFlag } from "./max-record-bytes.ts"

export const studyFlags = {
  file: Argument.String("study").pipe(Argument.withDescription("A study file (YAML or JSON; docs/study.md): corpus, base model, training stages, systems, datasets, analyses, report")),
  warehouse: warehouseFlag,
  out: Flag.String("out").pipe(
    Flag.withDescription("Folder for the steps' outputs (steps/: models, adapters, packed corpus; models/: links by name) and the report (default: the study's report.out, else ./fleuve-study-<name>)"),
    Flag.optional
  ),
  dryRun: Flag.Boolean("dry-run").pipe(Flag.withDescription("Print the plan — every step, whether it is already done, and the work left (tokens to train, requests to score) — and run nothing"), Flag.withDefault(false)),
  only: Flag.String("only").pipe(Flag.withDescription("Run this step alone, even if done (e.g. train:unified, score:base, report); the steps it reads must be done"), Flag.optional),
  from: Flag.String("from").pipe(Flag.withDescription("Run this step and every later step that reads it, even if done (e.g. --from analyze)"), Flag.optional),
  backend: Flag.Literals("backend", backendNames).pipe(Flag.withDescription("Tensor backend for every step (default: the study's runtime.backend, else auto)"), Flag.optional),
  engine: engineFlag,
  maxRecordBytes: maxRecordBytesFlag
}
export type StudyArgs = ArgsOf<typeof studyFlags>
