import { Console, Effect, Option } from "effect"
import { join } from "node:path"
import { planOf, runStudy, type StepResult, type StudyOptions } from "../../pipelines/study/run.ts"
import type { PlannedStep, StudyPlan } from "../../pipelines/study/plan.ts"
import { withWarehouse } from "../../pipelines/services.ts"
import { withMaxRecordBytes } from "../../pipelines/record-limit.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"
import { reportAnyFailure } from "../common.ts"
import { progressReporter } from "../progress.ts"
import type { StudyArgs } from "../flags/study.ts"
import type { StepReport } from "../../pipelines/train.ts"

const stderr = (line: string) => process.stderr.write(`${line}\n`)
const int = (n: number) => Math.round(n).toLocaleString("en-US")

const work = (s: PlannedStep) =>
  s.tokens !== undefined ? `${int(s.tokens)} tokens` : s.requests !== undefined ? `${int(s.requests)} requests` : s.spec.kind === "train" || s.spec.kind === "base" ? "an epoch of its data" : ""

/** The plan as a table: step, state, work, what it does; then the work left. */
export const renderPlan = (plan: StudyPlan, states: ReadonlyMap<string, string>): string => {
  const w = Math.max(4, ...plan.steps.map((s) => s.id.length))
  const rows = plan.steps.map((s) => `  ${s.id.padEnd(w)}  ${(states.get(s.id) ?? "").padEnd(6)}  ${work(s).padEnd(20)}  ${s.describe}`)
  const left = plan.steps.filter((s) => states.get(s.id) !== "done")
  const tokens = left.reduce((n, s) => n + (s.tokens ?? 0), 0)
  const requests = left.reduce((n, s) => n + (s.requests ?? 0), 0)
  const epochs = left.filter((s) => (s.spec.kind === "train" || s.spec.kind === "base") && s.tokens === undefined).length
  return [
    `study ${plan.study.spec.name} (${plan.study.file}) → ${plan.out}`,
    `  ${"step".padEnd(w)}  ${"state".padEnd(6)}  ${"work".padEnd(20)}  what`,
    ...rows,
    left.length === 0
      ? "every step is done: a run would do nothing"
      : `work left: ${left.length} of ${plan.steps.length} steps; ${int(tokens)} tokens to train${epochs ? ` (+ ${epochs} stage(s) sized by epochs)` : ""}; at most ${int(requests)} grid requests (only those not already current are answered)`
  ].join("\n")
}

/** The closing table: every step, what happened, its time and what it did. */
export const renderResults = (results: ReadonlyArray<StepResult>): string => {
  const w = Math.max(4, ...results.map((r) => r.id.length))
  return results.map((r) => `  ${r.id.padEnd(w)}  ${r.status.padEnd(12)}  ${r.status === "ran" && r.seconds > 0 ? `${r.seconds.toFixed(1)}s`.padStart(8) : "".padStart(8)}  ${r.detail}`).join("\n")
}

/** One line every few optimizer steps: enough to see training move without flooding the terminal. */
export const trainingProgress = () => {
  let last = 0
  return (label: string) => (r: StepReport) => {
    const now = performance.now()
    if (r.step === r.totalSteps || r.step === 1 || now - last > 5000) {
      last = now
      stderr(`${label}: step ${r.step}/${r.totalSteps}  loss ${r.loss.toFixed(4)}  ${r.tokensPerSecond.toFixed(0)} tokens/s`)
    }
  }
}

/** First Ctrl-C: stop cleanly (training checkpoints its step); second: exit at once. */
export const interruptions = (say: (line: string) => void) => {
  const controller = new AbortController()
  let count = 0
  const onSigint = () => {
    count++
    if (count === 1) {
      say("stopping: the step under way is checkpointed and recorded as interrupted; run the same command again to resume (Ctrl-C again to exit at once)")
      controller.abort()
    } else {
      say("exiting at once")
      process.exit(130)
    }
  }
  process.on("SIGINT", onSigint)
  return { signal: controller.signal, dispose: () => process.off("SIGINT", onSigint) }
}

export const studyOptions = (a: StudyArgs, signal: AbortSignal, started: number): StudyOptions => ({
  file: a.file,
  out: Option.getOrUndefined(a.out),
  only: Option.getOrUndefined(a.only),
  from: Option.getOrUndefined(a.from),
  backend: Option.getOrUndefined(a.backend),
  engine: Option.getOrUndefined(a.engine),
  log: (line) => stderr(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${line}`),
  onTrainingStep: trainingProgress(),
  signal,
  corpusRun: { onProgress: progressReporter() }
})

export const studyHandler = (a: StudyArgs) =>
  Effect.gen(function*() {
    const started = performance.now()
    if (a.dryRun) {
      const { plan, states } = yield* planOf({ file: a.file, out: Option.getOrUndefined(a.out) })
      yield* Console.log(renderPlan(plan, states))
      return
    }
    const stop = interruptions(stderr)
    const outcome = yield* runStudy(studyOptions(a, stop.signal, started)).pipe(Effect.ensuring(Effect.sync(stop.dispose)))
    if (outcome.results.length > 0) stderr(`steps:\n${renderResults(outcome.results)}`)
    stderr(`study ${outcome.plan.study.spec.name}: finished in ${((performance.now() - started) / 1000).toFixed(1)}s; the warehouse is ${a.warehouse}`)
    yield* Console.log(join(outcome.plan.out, "report.html"))
  }).pipe(
    withMaxRecordBytes(maxRecordBytesOf(a.maxRecordBytes)),
    Effect.provide(withWarehouse(a.warehouse)),
    Effect.catch(reportAnyFailure)
  )
