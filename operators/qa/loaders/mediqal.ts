import type { AbsqaItem, McqaItem } from "../../../schemas/qa-item.ts"
import { answerLetters, letteredOptions, optionalText, reject, requiredText, type Row } from "./fields.ts"

/**
 * MediQAl mcqu (one correct answer) and mcqm (one or more): id, clinical_case, question,
 * answer_a..answer_e, correct_answers "A,C,E", medical_subject, question_type.
 */
export const parseMediqalMcq = (variant: "mcqu" | "mcqm") => (row: Row): McqaItem => {
  const id = requiredText(row, "id")
  const context = optionalText(row, "clinical_case")
  const question = requiredText(row, "question")
  const options = letteredOptions(row)
  const correct = answerLetters(row, "correct_answers")
  const outOfRange = correct.find((c) => "ABCDE".indexOf(c) >= options.length)
  if (outOfRange) return reject(`correct answer ${outOfRange} but only ${options.length} options`, "correct_answers")
  if (variant === "mcqu" && correct.length !== 1) return reject(`mcqu items have exactly one correct answer, got ${correct.join(",")}`, "correct_answers")
  const subject = optionalText(row, "medical_subject")
  const qtype = optionalText(row, "question_type")
  return {
    task: "mcqa",
    id,
    question,
    ...(context ? { context } : {}),
    options,
    correct,
    meta: { source: `mediqal-${variant}`, multiple: correct.length > 1, ...(subject ? { medical_subject: subject } : {}), ...(qtype ? { question_type: qtype } : {}) }
  }
}

/** MediQAl oeq (open-ended): id, clinical_case, question, answer (the reference). */
export const parseMediqalOeq = (row: Row): AbsqaItem => {
  const id = requiredText(row, "id")
  const context = optionalText(row, "clinical_case")
  const subject = optionalText(row, "medical_subject")
  return {
    task: "absqa",
    id,
    ...(context ? { context } : {}),
    question: requiredText(row, "question"),
    reference: requiredText(row, "answer"),
    meta: { source: "mediqal-oeq", ...(subject ? { medical_subject: subject } : {}) }
  }
}
