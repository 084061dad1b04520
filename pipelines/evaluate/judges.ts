/** Which judge scores open answers (AbsQA), from what the command was given. */
import type { Redacted } from "effect"
import { localModelJudge } from "../../operators/qa/judge/local-model.ts"
import type { Judge } from "../../operators/qa/judge/judge.ts"
import type { QaModel } from "../../operators/qa/model.ts"
import { offlineReferenceJudge } from "../../operators/qa/judge/offline-reference.ts"
import { openAiCompatibleJudge } from "../../operators/qa/judge/openai-compatible.ts"

export interface JudgeChoice {
  /** The evaluated checkpoint judges its own answers (a weak judge; for offline runs). */
  readonly localModel?: QaModel | undefined
  /** An OpenAI-compatible chat endpoint and the model it serves. */
  readonly url?: string | undefined
  readonly model: string
  /** Sent as `Authorization: Bearer` (credentials in `url` go as Basic auth). */
  readonly apiKey?: Redacted.Redacted<string> | undefined
}

/** A local model, else an endpoint, else the offline reference judge (token F1 against the reference). */
export const judgeFor = (c: JudgeChoice): Judge =>
  c.localModel ? localModelJudge(c.localModel) : c.url !== undefined ? openAiCompatibleJudge({ baseUrl: c.url, model: c.model, ...(c.apiKey ? { apiKey: c.apiKey } : {}) }) : offlineReferenceJudge
