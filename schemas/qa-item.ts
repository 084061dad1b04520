import { Schema } from "effect"

const OptionLetter = Schema.Literals(["A", "B", "C", "D", "E"])

const hasValidAnswers = Schema.makeFilter<{ readonly options: ReadonlyArray<unknown>; readonly correct: ReadonlyArray<string> }>(
  (item) => {
    const letters = "ABCDE".slice(0, item.options.length)
    const bad = item.correct.find((c) => !letters.includes(c))
    return bad === undefined ? true : `correct answer ${bad} is not one of the options ${letters.split("").join(",")}`
  }
)

/** Multiple-choice item: 2-5 options lettered A.., one or more correct letters. */
export const McqaItem = Schema.Struct({
  task: Schema.Literal("mcqa"),
  id: Schema.NonEmptyString,
  question: Schema.NonEmptyString,
  context: Schema.optional(Schema.String),
  options: Schema.Array(Schema.NonEmptyString).check(Schema.isMinLength(2), Schema.isMaxLength(5)),
  correct: Schema.Array(OptionLetter).check(Schema.isMinLength(1)),
  meta: Schema.optional(Schema.Record(Schema.String, Schema.Unknown))
}).check(hasValidAnswers)

export const GoldSpan = Schema.Struct({ text: Schema.String, start: Schema.Int })

/** Extractive QA item (SQuAD layout): answers are spans of the context. */
export const ExtqaItem = Schema.Struct({
  task: Schema.Literal("extqa"),
  id: Schema.NonEmptyString,
  context: Schema.NonEmptyString,
  question: Schema.NonEmptyString,
  answers: Schema.Array(GoldSpan).check(Schema.isMinLength(1)),
  meta: Schema.optional(Schema.Record(Schema.String, Schema.Unknown))
})

/** Abstractive (open-ended) QA item with a reference answer for the judge. */
export const AbsqaItem = Schema.Struct({
  task: Schema.Literal("absqa"),
  id: Schema.NonEmptyString,
  context: Schema.optional(Schema.String),
  question: Schema.NonEmptyString,
  reference: Schema.NonEmptyString,
  meta: Schema.optional(Schema.Record(Schema.String, Schema.Unknown))
})

export const QAItem = Schema.Union([McqaItem, ExtqaItem, AbsqaItem])
export type QAItem = typeof QAItem.Type
export type McqaItem = typeof McqaItem.Type
export type ExtqaItem = typeof ExtqaItem.Type
export type AbsqaItem = typeof AbsqaItem.Type
