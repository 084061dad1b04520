import type { McqaItem } from "../../../schemas/qa-item.ts"
import { answerLetters, integer, letteredOptions, reject, requiredText, type Row } from "./fields.ts"

/**
 * FrenchMedMCQA in either published layout:
 * - raw JSON: id, question, answers {a..e}, correct_answers ["a","c"], type, nbr_correct_answers;
 * - DrBenchmark columns: id, question, answer_a..answer_e, correct_answers, number_correct_answers.
 * The declared answer count and type, when present, must agree with the answers: a mismatch is a
 * malformed item, not something to guess about.
 */
export const parseFrenchMedMcqa = (row: Row): McqaItem => {
  const id = requiredText(row, "id")
  const question = requiredText(row, "question")
  let options: Array<string>
  if (row.answers !== undefined) {
    const answers = row.answers
    if (typeof answers !== "object" || answers === null || Array.isArray(answers)) return reject("'answers' must be an object {a: …, b: …}", "answers")
    const a = answers as Record<string, unknown>
    options = []
    for (const l of "abcde") {
      const v = a[l] ?? a[l.toUpperCase()]
      if (v === undefined || v === null || String(v).trim() === "") break
      options.push(requiredText({ [`answers.${l}`]: v }, `answers.${l}`))
    }
    if (options.length < 2) return reject(`expected at least 2 options in 'answers', found ${options.length}`, "answers")
  } else options = letteredOptions(row)
  const correct = answerLetters(row, "correct_answers")
  const outOfRange = correct.find((c) => "ABCDE".indexOf(c) >= options.length)
  if (outOfRange) return reject(`correct answer ${outOfRange} but only ${options.length} options`, "correct_answers")
  const declared = integer(row, "nbr_correct_answers") ?? integer(row, "number_correct_answers")
  if (declared !== undefined && declared !== correct.length) {
    return reject(`declares ${declared} correct answer(s) but lists ${correct.length}`, row.nbr_correct_answers !== undefined ? "nbr_correct_answers" : "number_correct_answers")
  }
  const type = row.type
  if (type !== undefined && type !== null) {
    if (type !== "simple" && type !== "multiple") return reject(`'type' must be "simple" or "multiple", got '${String(type)}'`, "type")
    if ((type === "simple") !== (correct.length === 1)) return reject(`type "${type}" but ${correct.length} correct answer(s)`, "type")
  }
  return {
    task: "mcqa",
    id,
    question,
    options,
    correct,
    meta: { source: row.answers !== undefined ? "frenchmedmcqa" : "drbenchmark", multiple: correct.length > 1 }
  }
}
