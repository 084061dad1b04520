/**
 * The evaluation steps of a study: the grid for the systems whose key moved (one call of
 * reeval's scoreDatasets for all of them, so only requests whose cache key is not their system's
 * current prediction are answered: five changed items re-score those five items), lm-eval
 * imports, the analyses and the report.
 */
import { Effect } from "effect"
import { resolve } from "node:path"
import { ModelHandle } from "../../../model/index.ts"
import { qwen3QaModel } from "../../../operators/qa/qwen3-model.ts"
import { runAnalyses } from "../../../analysis/analyses.ts"
import { importLmEval } from "../../import-lm-eval.ts"
import { writeReport } from "../../report.ts"
import { checkpointSystem } from "../../evaluate/checkpoint-system.ts"
import type { EvalSystem } from "../../evaluate/grid.ts"
import { scoreDatasets } from "../../evaluate/reeval.ts"
import { baselineSystems, endpointSystem } from "../../evaluate/systems.ts"
import type { PlannedStep } from "../plan.ts"
import type { StepEnv, StepSummary } from "./context.ts"
import { apiKeyFrom, studyJudge } from "./judges.ts"

/** A score step's system, its model loaded from what the steps before it left. */
const evalSystem = (step: PlannedStep, env: StepEnv) =>
  Effect.gen(function*() {
    const s = step.spec
    if (s.kind !== "score") return yield* Effect.die(new Error(`${step.id} is not a score step`))
    const src = s.source
    const name = s.system.name
    const description = s.system.description
    switch (src._tag) {
      case "Model": {
        const model = env.outputs.get(step.deps[0]!)?.model
        const adapter = src.adapter !== undefined ? env.outputs.get(step.deps[1]!)?.adapter : undefined
        if (!model || (src.adapter !== undefined && !adapter)) return yield* Effect.fail(new Error(`${step.id}: its model is not built`))
        const handle = ModelHandle.load({ dir: model, ...(adapter ? { adapter } : {}) })
        const modelId = `fleuve-study/${env.plan.study.spec.name}/${src.adapter !== undefined ? env.plan.study.spec.training![src.adapter]!.from : src.model}`
        return {
          system: name,
          model: qwen3QaModel(handle, { modelId }),
          description: description ?? `${src.adapter !== undefined ? `adapter ${src.adapter} over ` : ""}${model}`
        } satisfies EvalSystem
      }
      case "Checkpoint":
        return yield* Effect.tryPromise({
          try: () => checkpointSystem({ dir: src.dir, name, backend: env.plan.study.spec.runtime?.backend ?? "auto", engine: env.plan.study.spec.runtime?.engine, log: env.log }),
          catch: (e) => new Error(`${step.id}: ${e instanceof Error ? e.message : String(e)}`)
        })
      case "Baseline": {
        const { tasks, prompts } = yield* env.data
        return { ...baselineSystems(prompts, tasks, [src.name])[0]!, system: name }
      }
      case "Endpoint": {
        const e = src.endpoint
        return yield* endpointSystem({
          system: name,
          endpoint: e.url,
          model: e.model,
          ...(e.tokenizer !== undefined ? { tokenizer: resolve(env.plan.study.dir, e.tokenizer) } : {}),
          ...(e.revision !== undefined ? { revision: e.revision } : {}),
          ...(e.api !== undefined ? { api: e.api } : {}),
          ...(e.concurrency !== undefined ? { concurrency: e.concurrency } : {}),
          ...(e.timeoutSeconds !== undefined ? { timeoutMs: e.timeoutSeconds * 1000 } : {}),
          ...(e.retries !== undefined ? { retries: e.retries } : {}),
          apiKey: apiKeyFrom(e.apiKeyEnv)
        }, env.log)
      }
      case "LmEval":
        return yield* Effect.die(new Error(`${step.id}: lm-eval samples are imported, not scored`))
    }
  })

/** Scores the grid for these systems under `runId`; one summary per step, by step id. */
export const runScoreSteps = (steps: ReadonlyArray<PlannedStep>, runId: string, env: StepEnv) =>
  Effect.gen(function*() {
    const { tasks, prompts } = yield* env.data
    const systems: Array<EvalSystem> = []
    for (const step of steps) systems.push(yield* evalSystem(step, env))
    const plan = env.plan
    const judge = studyJudge(plan)
    const limited = tasks.map((t) => (plan.datasets.limit[t.task] === undefined ? t : { ...t, test: t.test.slice(0, plan.datasets.limit[t.task]) }))
    const scored = yield* scoreDatasets(runId, {
      tasks: limited,
      systems,
      shots: plan.shots,
      prompts,
      judge,
      source: plan.datasets.label,
      log: (line) => env.log(`grid: ${line}`)
    })
    const c = scored.eval
    const answered = Object.values(c.scored).reduce((a, b) => a + b, 0)
    const detail = `${answered} of ${c.requests} requests answered (${c.fromCache} from the cache, ${c.current} already current), ${c.scores} score rows, ${c.deadLetters + scored.rejectedItems} dead letters`
    return { detail, ...c, retiredScores: scored.retiredScores, rejectedItems: scored.rejectedItems } satisfies StepSummary
  })

export const runImportStep = (step: PlannedStep, env: StepEnv) =>
  Effect.gen(function*() {
    const s = step.spec
    if (s.kind !== "import") return yield* Effect.die(new Error(`${step.id} is not an import step`))
    let rows = 0
    for (const x of s.source.samples) {
      const r = yield* importLmEval(x.file, {
        system: s.system.name,
        task: x.task,
        shots: x.shots,
        datasetVersion: `${env.plan.datasets.manifest.name}/${x.task}`,
        ...(x.idField !== undefined ? { idField: x.idField } : {}),
        keepGoing: false
      })
      rows += (r as { scores?: number }).scores ?? 0
      env.log(`${step.id}: ${x.file} imported`)
    }
    return { detail: `${s.source.samples.length} lm-eval sample file(s) imported`, rows } satisfies StepSummary
  })

export const runAnalyzeStep = (env: StepEnv) =>
  Effect.gen(function*() {
    const a = env.plan.study.spec.analysis
    const summary = yield* runAnalyses({
      reference: a.reference,
      ...(a.alpha !== undefined ? { alpha: a.alpha } : {}),
      ...(a.family !== undefined ? { family: a.family } : {}),
      ...(a.metrics !== undefined ? { metrics: a.metrics as Record<string, string> } : {}),
      ...(a.resamples !== undefined ? { resamples: a.resamples } : {}),
      ...(a.tests !== undefined ? { tests: a.tests } : {}),
      ...(a.seed !== undefined ? { seed: a.seed } : {}),
      onStep: (s) => env.log(`analyze: ${s}`)
    })
    for (const w of summary.warnings) env.log(`analyze: ${w}`)
    return { detail: `against ${a.reference}: ${summary.metrics.map((m) => `${m.task} ${m.metric}`).join(", ")}`, rowCounts: summary.rowCounts, warnings: summary.warnings } satisfies StepSummary
  })

export const runReportStep = (env: StepEnv, amend?: (file: { readonly path: string; readonly content: string }) => string) =>
  Effect.gen(function*() {
    const spec = env.plan.study.spec
    const files = yield* writeReport({
      out: env.plan.out,
      reference: spec.analysis.reference,
      study: spec.name,
      // The report opens with what the sample is, in the study's words, and what the tests found.
      ...(spec.description !== undefined ? { sample: spec.description } : {}),
      configFile: spec.report?.theme !== undefined ? resolve(env.plan.study.dir, spec.report.theme) : undefined,
      onFigure: (id, title) => env.log(`report: figure ${id}: ${title}`),
      ...(amend ? { amend } : {})
    })
    return { detail: `${files.length} files in ${env.plan.out} (report.html)`, files: files.length } satisfies StepSummary
  })
