/** What every step of a study is given, and what the steps it reads left behind. */
import type { Effect } from "effect"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { StepReport } from "../../../model/index.ts"
import type { TaskData } from "../../../operators/qa/loaders/manifest.ts"
import type { PromptSet } from "../../../operators/qa/prompts/templates.ts"
import type { RunOptions } from "../../runtime/runtime.ts"
import type { PlannedStep, StudyPlan } from "../plan.ts"

/** A step's outputs that later steps read: a model folder, an adapter folder, packed shards. */
export interface StepOutput {
  readonly model?: string
  readonly adapter?: string
  readonly shards?: string
}

export interface StudyData {
  readonly tasks: ReadonlyArray<TaskData>
  readonly prompts: PromptSet
}

export interface StepEnv {
  readonly plan: StudyPlan
  readonly outputs: Map<string, StepOutput>
  readonly log: (line: string) => void
  readonly onTrainingStep: (label: string) => (r: StepReport) => void
  /** Aborted by a first Ctrl-C: training checkpoints the step under way and returns. */
  readonly signal: AbortSignal
  readonly corpusRun?: RunOptions | undefined
  /** The command's --max-record-bytes (undefined: the readers' default), for training files read outside the fiber. */
  readonly maxRecordBytes?: number | undefined
  /** The datasets and prompts, loaded once when a step first needs them. */
  readonly data: Effect.Effect<StudyData, Error>
}

/** What a step says it did (kept in study_steps.summary and printed in the closing table). */
export interface StepSummary {
  readonly detail: string
  readonly [key: string]: unknown
}

const MARKER = "fleuve-step.json"

/** A step that leaves files is done when its folder holds the marker written with its key. */
export const doneOnDisk = (step: PlannedStep): boolean => {
  const f = join(step.dir, MARKER)
  if (!existsSync(f)) return false
  try {
    return (JSON.parse(readFileSync(f, "utf8")) as { key?: string }).key === step.key
  } catch {
    return false
  }
}

export const markDone = (step: PlannedStep, summary: StepSummary) =>
  writeFileSync(join(step.dir, MARKER), JSON.stringify({ step: step.id, key: step.key, finishedAt: new Date().toISOString(), summary }, null, 2))

/** Where a step's outputs are once it is done: a function of the plan only, so a skipped step has them too. */
export const outputOf = (step: PlannedStep, outputs: ReadonlyMap<string, StepOutput>): StepOutput => {
  const s = step.spec
  switch (s.kind) {
    case "corpus":
      return { shards: join(step.dir, "shards") }
    case "base":
      return "checkpoint" in s ? { model: s.checkpoint } : { model: join(step.dir, s.pretrain && s.pretrain.steps !== 0 ? "final" : "init") }
    case "train": {
      const from = outputs.get(step.deps[0]!)?.model
      if (s.training.merge) return { model: join(step.dir, "merged") }
      if (s.training.lora) return { model: from!, adapter: join(step.dir, "final") }
      // A full-parameter stage of 0 steps leaves its input as it was: the same folder, the same revision.
      return { model: s.training.steps === 0 ? from! : join(step.dir, "final") }
    }
    default:
      return {}
  }
}

/** Steps that leave files in their folder (the others write only the warehouse). */
export const leavesFiles = (step: PlannedStep) => ["corpus", "base", "train"].includes(step.spec.kind)
