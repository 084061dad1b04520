import { Effect } from "effect"
import { NORMALISATION_VERSION } from "../metrics/french-normalize.ts"
import { tokenF1 } from "../metrics/squad.ts"
import type { Judge } from "./judge.ts"

/**
 * The offline reference-based judge: no LLM, a deterministic 1-5 score from the token F1 between
 * the answer and the reference (French normalisation): 1 + round(4·F1). It lets the demo and the
 * tests run without a judge model; its id starts with "offline-reference" and the report labels
 * it so. It is order-invariant by construction.
 */
export const OFFLINE_REFERENCE_JUDGE_ID = `offline-reference/token-f1/${NORMALISATION_VERSION}`

export const offlineReferenceScore = (answer: string, reference: string): number => 1 + Math.round(4 * tokenF1(answer, reference))

export const offlineReferenceJudge: Judge = {
  id: OFFLINE_REFERENCE_JUDGE_ID,
  kind: "offline-reference",
  judge: (r) =>
    Effect.sync(() => {
      const score = offlineReferenceScore(r.answer, r.reference)
      return { score, judge: OFFLINE_REFERENCE_JUDGE_ID, raw: `Note: ${score}`, order: r.order ?? "reference-first" }
    })
}
