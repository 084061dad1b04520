/**
 * The judges step: how far the AbsQA judge can be trusted. The panel's judges score the same
 * answers (the reference system's, at the fewest shots) and their agreement is measured
 * (quadratic-weighted Cohen's kappa per pair, Krippendorff's alpha); with `swappedOrder`, the
 * scoring judge sees each answer a second time with the reference and the answer swapped.
 */
import { Effect, Redacted } from "effect"
import type { Judge, JudgeRequest } from "../../../operators/qa/judge/judge.ts"
import { swappedOrderCheck } from "../../../operators/qa/judge/judge.ts"
import { offlineReferenceJudge } from "../../../operators/qa/judge/offline-reference.ts"
import { judgePanel } from "../../../operators/qa/judge/panel.ts"
import { judgeAgreementSample } from "../../../warehouse/judge-sample.ts"
import { judgeFor } from "../../evaluate/judges.ts"
import type { PlannedStep, StudyPlan } from "../plan.ts"
import type { StudyFile } from "../study-file.ts"
import type { StepEnv, StepSummary } from "./context.ts"

type PanelEntry = NonNullable<StudyFile["judges"]>["panel"][number]

/** An API key from the environment variable a study names (never from the file itself). */
export const apiKeyFrom = (env: string | undefined) => {
  if (env === undefined) return undefined
  const v = process.env[env]
  if (v === undefined || v === "") throw new Error(`the environment variable ${env} (apiKeyEnv) is not set`)
  return Redacted.make(v)
}

export const judgeOf = (j: PanelEntry): Judge =>
  j.kind === "offline-reference" ? offlineReferenceJudge : judgeFor({ url: j.url!, model: j.model!, apiKey: apiKeyFrom(j.apiKeyEnv) })

/** The judge that scores AbsQA: the panel's first (the offline reference judge without a panel). */
export const studyJudge = (plan: StudyPlan): Judge => {
  const first = plan.study.spec.judges?.panel[0]
  return first ? judgeOf(first) : offlineReferenceJudge
}

export const runJudgesStep = (step: PlannedStep, env: StepEnv) =>
  Effect.gen(function*() {
    const s = step.spec
    if (s.kind !== "judges") return yield* Effect.die(new Error(`${step.id} is not a judges step`))
    const j = env.plan.study.spec.judges!
    const panel = j.panel.map(judgeOf)
    const sample = yield* judgeAgreementSample(s.system, s.shots, s.sample)
    if (sample.length === 0) return yield* Effect.fail(new Error(`${step.id}: ${s.system} has no AbsQA answer at ${s.shots} shots to judge (is absqa among the tasks?)`))
    const requests: Array<JudgeRequest> = sample.map((a) => ({ question: a.question, context: a.context, reference: a.reference, answer: a.answer }))
    const parts: Array<string> = []
    let agreement: unknown
    if (panel.length > 1) {
      const r = yield* judgePanel(panel, requests)
      agreement = { pairs: r.pairs, alpha: r.alpha, failures: r.failures.length }
      parts.push(`Krippendorff's alpha ${r.alpha.toFixed(3)} over ${panel.length} judges${r.pairs.length ? ` (kappa ${r.pairs.map((p) => `${p.a}~${p.b} ${p.kappa.toFixed(3)}`).join(", ")})` : ""}${r.failures.length ? `, ${r.failures.length} failed call(s)` : ""}`)
    }
    let swapped: unknown
    if (j.swappedOrder) {
      const checks = (yield* Effect.forEach(requests, (r) => Effect.option(swappedOrderCheck(panel[0]!, r)), { concurrency: 4 })).flatMap((o) => (o._tag === "Some" ? [o.value] : []))
      const consistent = checks.filter((c) => c.consistent).length
      const meanDelta = checks.length ? checks.reduce((a, c) => a + c.delta, 0) / checks.length : 0
      swapped = { judged: checks.length, consistent, meanDelta, failed: requests.length - checks.length }
      parts.push(`swapped order: ${consistent} of ${checks.length} scores unchanged, mean change ${meanDelta.toFixed(3)}`)
    }
    for (const p of parts) env.log(`judges: ${p}`)
    return { detail: `${sample.length} answers of ${s.system}: ${parts.join("; ")}`, items: sample.length, agreement, swapped } satisfies StepSummary
  })
