import { createHash } from "node:crypto"
import type { QAItem } from "../../../schemas/qa-item.ts"
import { selectExemplars } from "./exemplars.ts"
import { fill, type PromptSet, type TaskTemplate } from "./templates.ts"

const LETTERS = "ABCDE"

const optionsBlock = (t: TaskTemplate, options: ReadonlyArray<string>) =>
  options.map((text, i) => fill(t.optionLine ?? "{{letter}}) {{text}}", { letter: LETTERS[i]!, text })).join("\n")

/** The item's question block, ending where the answer starts ("Réponse:"). */
export const renderItem = (set: PromptSet, item: QAItem): string => {
  const t = set.tasks[item.task]
  switch (item.task) {
    case "mcqa":
      return fill(t.item, { context: item.context, question: item.question, options: optionsBlock(t, item.options) })
    case "extqa":
      return fill(t.item, { context: item.context, question: item.question })
    case "absqa":
      return fill(t.item, { context: item.context, question: item.question })
  }
}

/** The gold answer text as the model should produce it after the item block. */
export const goldAnswer = (set: PromptSet, item: QAItem): string => {
  const t = set.tasks[item.task]
  switch (item.task) {
    case "mcqa":
      return fill(t.answer, { answer: item.correct.map((c) => item.options[LETTERS.indexOf(c)]!).join(t.answerJoin ?? " ; ") })
    case "extqa":
      return fill(t.answer, { answer: item.answers[0]!.text })
    case "absqa":
      return fill(t.answer, { answer: item.reference })
  }
}

/** MCQA continuations scored under teacher forcing: each option's text after "Réponse:" (EnMed card). */
export const mcqaContinuations = (set: PromptSet, item: QAItem & { task: "mcqa" }): Array<string> =>
  item.options.map((text) => fill(set.tasks.mcqa.answer, { answer: text }))

const header = (set: PromptSet, item: QAItem) => {
  const t = set.tasks[item.task]
  const multiple = item.task === "mcqa" && item.correct.length > 1 && t.instructionMultiple
  return fill(t.header, { taskId: t.taskId, instruction: multiple ? t.instructionMultiple! : t.instruction })
}

export interface RenderedPrompt {
  readonly prompt: string
  /** sha256 of the prompt set version and the prompt text. */
  readonly promptHash: string
  readonly exemplarIds: ReadonlyArray<string>
}

export const promptHashOf = (set: PromptSet, prompt: string) => createHash("sha256").update(`${set.version}\0${prompt}`).digest("hex")

/**
 * header, k solved exemplars from the training pool (chosen per item, see exemplars.ts), then the
 * item itself, open at "Réponse:". Exemplars of a multi-answer MCQA item still show the same
 * layout, so the model sees how several answers are written.
 */
export const renderPrompt = <A extends { readonly item: QAItem }>(set: PromptSet, item: QAItem, pool: ReadonlyArray<A>, shots: number): RenderedPrompt => {
  const exemplars = selectExemplars(item.id, pool.filter((p) => p.item.task === item.task), shots)
  const blocks = [header(set, item), ...exemplars.map((e) => `${renderItem(set, e.item)}${goldAnswer(set, e.item)}`), renderItem(set, item)]
  const prompt = blocks.join(set.separator)
  return { prompt, promptHash: promptHashOf(set, prompt), exemplarIds: exemplars.map((e) => e.item.id) }
}

/** One supervised example for LoRA training: the 0-shot prompt and the gold answer as completion. */
export const trainingExample = (set: PromptSet, item: QAItem) => ({
  task: item.task,
  id: item.id,
  prompt: renderPrompt(set, item, [], 0).prompt,
  completion: goldAnswer(set, item)
})
