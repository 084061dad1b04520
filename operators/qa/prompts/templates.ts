import { Schema } from "effect"
import { assetPath } from "../../../lib/asset-path.ts"
import { readConfigFileSync } from "../../../schemas/config-file.ts"
import { Decoding } from "../../../schemas/evaluation.ts"

const TaskTemplate = Schema.Struct({
  taskId: Schema.NonEmptyString,
  header: Schema.String,
  instruction: Schema.String,
  /** MCQA items with several correct answers get this instruction instead, when given. */
  instructionMultiple: Schema.optional(Schema.String),
  item: Schema.String,
  optionLine: Schema.optional(Schema.String),
  answer: Schema.String,
  answerJoin: Schema.optional(Schema.String),
  decoding: Decoding
})
export type TaskTemplate = typeof TaskTemplate.Type

/** A prompt set: data, not code (data/prompts/*.json). Its version is part of every prompt hash. */
export const PromptSet = Schema.Struct({
  version: Schema.NonEmptyString,
  description: Schema.optional(Schema.String),
  separator: Schema.String,
  tasks: Schema.Struct({ mcqa: TaskTemplate, extqa: TaskTemplate, absqa: TaskTemplate })
})
export type PromptSet = typeof PromptSet.Type

export const DEFAULT_PROMPTS = assetPath(import.meta.url, "../../../data/prompts/enmed-fr.json", "data/prompts/enmed-fr.json")

/** Reads a prompt set, strictly (unknown keys are errors with the nearest valid name; see schemas/config-file.ts). */
export const loadPromptSet = (path = DEFAULT_PROMPTS): PromptSet => readConfigFileSync(PromptSet, path)

/**
 * Fills a template: {{name}} inserts a field, {{#name}}…{{/name}} keeps its body only when the
 * field is a non-empty string. An unknown field is an error, so a typo never ships silently.
 */
export const fill = (template: string, fields: Readonly<Record<string, string | undefined>>): string =>
  template
    .replace(/\{\{#(\w+)\}\}([\s\S]*?)\{\{\/\1\}\}/g, (_, name: string, body: string) => (fields[name] ? body : ""))
    .replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
      if (!(name in fields)) throw new Error(`template field '${name}' is not defined`)
      return fields[name] ?? ""
    })

/** The prompt set with generation capped at `maxNewTokens` (the cap is part of each request's decoding, hence of its cache key). */
export const capDecoding = (prompts: PromptSet, maxNewTokens: number): PromptSet => ({
  ...prompts,
  tasks: Object.fromEntries(Object.entries(prompts.tasks).map(([task, t]) => [task, { ...t, decoding: { ...t.decoding, maxNewTokens: Math.min(t.decoding.maxNewTokens, maxNewTokens) } }])) as PromptSet["tasks"]
})
