/** The supervised examples an adapter trains on: the training pools rendered as prompt and gold answer. */
import { createHash } from "node:crypto"
import type { TaskName } from "../../../schemas/common.ts"
import type { TaskData } from "../loaders/manifest.ts"
import { trainingExample } from "./render.ts"
import type { PromptSet } from "./templates.ts"

export interface TrainingExample {
  readonly task: TaskName
  readonly id: string
  readonly prompt: string
  readonly completion: string
}

const idHash = (id: string) => createHash("sha256").update(id).digest("hex")

/**
 * The training pools of `wanted` tasks as examples. Several tasks are interleaved
 * deterministically (by the hash of each id, whatever the order of the tasks) so every batch
 * mixes tasks, as a multi-task adapter needs; the prompt set's header carries the task identifier.
 */
export const trainingExamples = (prompts: PromptSet, tasks: ReadonlyArray<TaskData>, wanted: ReadonlyArray<TaskName>): Array<TrainingExample> => {
  const examples = tasks.filter((t) => wanted.includes(t.task)).flatMap((t) => t.train.map(({ item }) => trainingExample(prompts, item)))
  if (wanted.length < 2) return examples
  return examples.map((e) => ({ e, h: idHash(e.id) })).sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0)).map(({ e }) => e)
}
