import type { QAItem } from "../../../schemas/qa-item.ts"
import { answerLetters, optionalText, reject, requiredText, type Row } from "./fields.ts"

/**
 * Where a generic table keeps each part of an item. `options` is either one field holding a list
 * or several fields, one per option. For extqa, `answers` holds the answer text(s) and
 * `answerStart` their offsets; for absqa, `reference` the reference answer.
 */
export interface FieldMapping {
  readonly task: "mcqa" | "extqa" | "absqa"
  readonly id: string
  readonly question: string
  readonly context?: string
  readonly options?: string | ReadonlyArray<string>
  readonly correct?: string
  readonly answers?: string
  readonly answerStart?: string
  readonly reference?: string
}

const need = (mapping: FieldMapping, key: keyof FieldMapping): string => {
  const v = mapping[key]
  if (typeof v !== "string") throw new Error(`field mapping for task ${mapping.task} needs '${key}'`)
  return v
}

/** Checks a mapping once, before any row is read: a bad mapping is a usage error, not a bad row. */
export const checkMapping = (mapping: FieldMapping): void => {
  need(mapping, "id")
  need(mapping, "question")
  if (mapping.task === "mcqa") {
    if (mapping.options === undefined) throw new Error("field mapping for task mcqa needs 'options'")
    need(mapping, "correct")
  }
  if (mapping.task === "extqa") {
    need(mapping, "context")
    need(mapping, "answers")
    need(mapping, "answerStart")
  }
  if (mapping.task === "absqa") need(mapping, "reference")
}

const list = (row: Row, field: string): Array<unknown> => {
  const v = row[field]
  if (Array.isArray(v)) return v
  if (v === undefined || v === null) return reject(`missing field '${field}'`, field)
  return [v]
}

export const parseGeneric = (mapping: FieldMapping) => (row: Row): QAItem => {
  const id = requiredText(row, mapping.id)
  const question = requiredText(row, mapping.question)
  const context = mapping.context ? optionalText(row, mapping.context) : undefined
  const meta = { source: "generic" }
  switch (mapping.task) {
    case "mcqa": {
      const fields = typeof mapping.options === "string" ? undefined : mapping.options!
      const options = fields
        ? fields.map((f) => optionalText(row, f)).filter((o): o is string => o !== undefined)
        : list(row, mapping.options as string).map((o, i) => requiredText({ [`${mapping.options}[${i}]`]: o }, `${mapping.options}[${i}]`))
      if (options.length < 2 || options.length > 5) return reject(`expected 2 to 5 options, found ${options.length}`, typeof mapping.options === "string" ? mapping.options : mapping.options![0])
      const correct = answerLetters(row, mapping.correct!)
      const outOfRange = correct.find((c) => "ABCDE".indexOf(c) >= options.length)
      if (outOfRange) return reject(`correct answer ${outOfRange} but only ${options.length} options`, mapping.correct)
      return { task: "mcqa", id, question, ...(context ? { context } : {}), options, correct, meta }
    }
    case "extqa": {
      const ctx = row[mapping.context!]
      if (typeof ctx !== "string" || ctx.trim() === "") return reject(`'${mapping.context}' must be a non-empty string`, mapping.context)
      const texts = list(row, mapping.answers!)
      const starts = list(row, mapping.answerStart!)
      if (texts.length === 0 || texts.length !== starts.length) return reject(`'${mapping.answers}' and '${mapping.answerStart}' must list the same, non-zero number of values`, mapping.answerStart)
      const answers = texts.map((t, i) => {
        const start = Number(starts[i])
        if (typeof t !== "string" || t === "") return reject(`answer ${i} is not a non-empty string`, mapping.answers)
        if (!Number.isInteger(start) || ctx.slice(start, start + t.length) !== t) {
          return reject(`answer ${i} '${t}' is not at offset ${String(starts[i])} of the context`, mapping.answerStart)
        }
        return { text: t, start }
      })
      return { task: "extqa", id, context: ctx, question, answers, meta }
    }
    case "absqa":
      return { task: "absqa", id, ...(context ? { context } : {}), question, reference: requiredText(row, mapping.reference!), meta }
  }
}
