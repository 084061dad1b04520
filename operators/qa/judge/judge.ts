import { Effect, Schema } from "effect"
import { assetPath } from "../../../lib/asset-path.ts"
import { readConfigFileSync } from "../../../schemas/config-file.ts"
import { fill } from "../prompts/templates.ts"

export interface JudgeRequest {
  readonly question: string
  readonly context?: string | undefined
  readonly reference: string
  readonly answer: string
  /** Which text the judge reads first; the swapped-order check judges both. */
  readonly order?: "reference-first" | "answer-first"
}

export interface JudgeVerdict {
  readonly score: number
  /** The judge's identity, stored with every score (scores.judge). */
  readonly judge: string
  readonly raw: string
  readonly order: "reference-first" | "answer-first"
}

export class JudgeError extends Schema.TaggedError<JudgeError>()("JudgeError", {
  judge: Schema.String,
  message: Schema.String
}) {}

/**
 * A judge scores one answer from 1 to 5. `kind` says what it is, so the warehouse and the report
 * can label an offline reference-based score as such and never pass it off as an LLM's.
 */
export interface Judge {
  readonly id: string
  readonly kind: "offline-reference" | "openai-compatible" | "local-model"
  readonly judge: (request: JudgeRequest) => Effect.Effect<JudgeVerdict, JudgeError>
}

const RubricSet = Schema.Struct({
  version: Schema.NonEmptyString,
  system: Schema.String,
  rubric: Schema.String,
  referenceFirst: Schema.String,
  answerFirst: Schema.String,
  format: Schema.String
})
export type RubricSet = typeof RubricSet.Type

export const DEFAULT_RUBRIC = assetPath(import.meta.url, "../../../data/prompts/judge-fr.json", "data/prompts/judge-fr.json")
/** Reads a judge rubric, strictly (unknown keys are errors with the nearest valid name; see schemas/config-file.ts). */
export const loadRubric = (path = DEFAULT_RUBRIC): RubricSet => readConfigFileSync(RubricSet, path)

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
}

/** The rubric prompt as chat messages (system + user), in the requested order. */
export const rubricMessages = (rubric: RubricSet, r: JudgeRequest): Array<ChatMessage> => {
  const body = fill(r.order === "answer-first" ? rubric.answerFirst : rubric.referenceFirst, {
    context: r.context,
    question: r.question,
    reference: r.reference,
    answer: r.answer.trim() === "" ? "(réponse vide)" : r.answer
  })
  return [
    { role: "system", content: rubric.system },
    { role: "user", content: `${rubric.rubric}\n\n${body}\n\n${rubric.format}` }
  ]
}

export interface SwapCheck {
  readonly referenceFirst: JudgeVerdict
  readonly answerFirst: JudgeVerdict
  /** Score difference between the two orders (answer-first minus reference-first). */
  readonly delta: number
  readonly consistent: boolean
}

/** Judges the same answer in both orders: an order-invariant judge gives the same score. */
export const swappedOrderCheck = (judge: Judge, request: JudgeRequest) =>
  Effect.gen(function*() {
    const referenceFirst = yield* judge.judge({ ...request, order: "reference-first" })
    const answerFirst = yield* judge.judge({ ...request, order: "answer-first" })
    const delta = answerFirst.score - referenceFirst.score
    return { referenceFirst, answerFirst, delta, consistent: delta === 0 } satisfies SwapCheck
  })

/** How many times a judge was asked, how many asks failed, and the first failure's message. */
export interface JudgeCallCounts {
  calls: number
  failures: number
  firstFailure: string | undefined
}

/**
 * The same judge, counting its calls and failures: a run in which every call failed has no
 * judge scores at all, and must say so (and fail) rather than end "successfully" with none.
 */
export const countingJudge = (judge: Judge): { readonly judge: Judge; readonly counts: JudgeCallCounts } => {
  const counts: JudgeCallCounts = { calls: 0, failures: 0, firstFailure: undefined }
  return {
    counts,
    judge: {
      ...judge,
      judge: (request) =>
        Effect.suspend(() => {
          counts.calls++
          return judge.judge(request)
        }).pipe(Effect.tapError((e) =>
          Effect.sync(() => {
            counts.failures++
            counts.firstFailure ??= e.message
          })
        ))
    }
  }
}
