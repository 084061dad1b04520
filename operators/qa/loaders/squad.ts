import type { ExtqaItem } from "../../../schemas/qa-item.ts"
import { reject, requiredText, type Row } from "./fields.ts"

/**
 * One extractive QA row in the flat SQuAD layout (as on the Hugging Face hub):
 * id, context, question, answers {text: [...], answer_start: [...]}. Every gold answer must be
 * the exact span of the context at its offset (UTF-16 code units, as Python str indices for
 * BMP text); a shifted offset is a malformed item, never silently repaired.
 */
export const parseSquad = (row: Row): ExtqaItem => {
  const id = requiredText(row, "id")
  // Keep the context exact (no trimming): offsets refer to the text as published.
  const rawContext = typeof row.context === "string" && row.context.trim() !== "" ? row.context : reject(row.context === undefined ? "missing field 'context'" : "'context' must be a non-empty string", "context")
  const question = requiredText(row, "question")
  const answers = row.answers
  if (typeof answers !== "object" || answers === null || Array.isArray(answers)) {
    return reject("'answers' must be an object {text: [...], answer_start: [...]}", "answers")
  }
  const { text, answer_start } = answers as { text?: unknown; answer_start?: unknown }
  if (!Array.isArray(text) || text.length === 0) return reject("'answers.text' must be a non-empty list", "answers.text")
  if (!Array.isArray(answer_start) || answer_start.length !== text.length) {
    return reject(`'answers.answer_start' must list one offset per answer (${text.length})`, "answers.answer_start")
  }
  const spans = text.map((t, i) => {
    const start = Number(answer_start[i])
    if (typeof t !== "string" || t === "") return reject(`answer ${i} is not a non-empty string`, "answers.text")
    if (!Number.isInteger(start) || start < 0) return reject(`answer ${i} has offset '${String(answer_start[i])}'`, "answers.answer_start")
    const found = rawContext.slice(start, start + t.length)
    if (found !== t) {
      const elsewhere = rawContext.indexOf(t)
      return reject(
        `answer ${i} '${t}' is not at offset ${start} (context has '${found}' there${elsewhere >= 0 ? `; the text occurs at ${elsewhere}` : "; the text is not in the context"})`,
        "answers.answer_start"
      )
    }
    return { text: t, start }
  })
  return { task: "extqa", id, context: rawContext, question, answers: spans, meta: { source: "squad" } }
}

/**
 * The nested SQuAD JSON file ({data: [{title, paragraphs: [{context, qas: [...]}]}]}) flattened
 * into the rows parseSquad reads.
 */
export const flattenNestedSquad = (doc: unknown): Array<Row> | undefined => {
  if (typeof doc !== "object" || doc === null || !Array.isArray((doc as { data?: unknown }).data)) return undefined
  const rows: Array<Row> = []
  for (const article of (doc as { data: Array<{ paragraphs?: Array<{ context?: unknown; qas?: Array<Record<string, unknown>> }> }> }).data) {
    for (const p of article.paragraphs ?? []) {
      for (const qa of p.qas ?? []) {
        const answers = Array.isArray(qa.answers) ? (qa.answers as Array<{ text?: unknown; answer_start?: unknown }>) : []
        rows.push({
          id: qa.id,
          context: p.context,
          question: qa.question,
          answers: { text: answers.map((a) => a.text), answer_start: answers.map((a) => a.answer_start) }
        })
      }
    }
  }
  return rows
}
