/**
 * `fleuve study FILE`: plans the study, then runs every step whose key has not succeeded before,
 * in dependency order, each recorded as a run of its own and in `study_steps`; the study itself is
 * one run, and its file, resolved plan and versions land in `studies`. A rerun of an unchanged
 * study runs nothing and says so.
 *
 * Interruption: a first Ctrl-C lets the training step under way finish its optimizer step and
 * checkpoint it (the grid keeps every prediction already made in the cache); the step is recorded
 * `interrupted` and the next run resumes it. A SIGKILL loses at most what followed the last
 * checkpoint: the same resumption applies.
 */
import { Effect, Schema } from "effect"
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { type BackendName, describeBackend, type ScoringEngineName, selectBackend, setScoringEngine, type StepReport } from "../../model/index.ts"
import { loadManifestTasks } from "../../operators/qa/loaders/manifest.ts"
import { MaxRecordBytes } from "../../operators/readers/limits.ts"
import { capDecoding, loadPromptSet } from "../../operators/qa/prompts/templates.ts"
import { messageOf } from "../../lib/error-message.ts"
import { Runs } from "../../warehouse/runs.ts"
import { Studies } from "../../warehouse/studies.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import type { RunOptions } from "../runtime/runtime.ts"
import { planStudy, type PlannedStep, type StudyPlan } from "./plan.ts"
import { doneOnDisk, leavesFiles, markDone, outputOf, type StepEnv, type StepOutput, type StepSummary, type StudyData } from "./steps/context.ts"
import { runCorpusStep } from "./steps/corpus.ts"
import { runAnalyzeStep, runImportStep, runReportStep, runScoreSteps } from "./steps/evaluation.ts"
import { runHeldoutStep } from "./steps/heldout.ts"
import { runJudgesStep } from "./steps/judges.ts"
import { runBase, runTrainingStage } from "./steps/models.ts"
import { readStudyFile, type Study } from "./study-file.ts"

export class StudyError extends Schema.TaggedError<StudyError>()("StudyError", { message: Schema.String }) {}

export interface StudyOptions {
  readonly file: string
  /** Output folder (default: the study's report.out, else ./fleuve-study-<name>). */
  readonly out?: string | undefined
  /** Run this step alone (even if done); the steps it reads must be done. */
  readonly only?: string | undefined
  /** Run this step and every step after it that reads it, even if done. */
  readonly from?: string | undefined
  readonly dryRun?: boolean
  /** Overrides the study's runtime.backend. */
  readonly backend?: BackendName | undefined
  readonly engine?: ScoringEngineName | undefined
  readonly log: (line: string) => void
  readonly onTrainingStep?: (label: string) => (r: StepReport) => void
  readonly signal?: AbortSignal
  readonly corpusRun?: RunOptions
  /** A last change to each report file (the demo's note). */
  readonly amendReport?: (file: { readonly path: string; readonly content: string }) => string
  /** Change the decoded study before planning (the demo's --limit, --model). */
  readonly adjust?: (study: Study) => Study
}

export type StepState = "done" | "to run"

export interface StepResult {
  readonly id: string
  readonly status: "done before" | "ran" | "not selected"
  readonly seconds: number
  readonly detail: string
}

export interface StudyOutcome {
  readonly plan: StudyPlan
  readonly states: ReadonlyMap<string, StepState>
  readonly results: ReadonlyArray<StepResult>
  readonly runId: string | undefined
}

const fail = (message: string) => new StudyError({ message })

/** The study's file decoded and its plan, and which steps are already done (nothing runs). */
export const planOf = (o: Pick<StudyOptions, "file" | "out" | "adjust">) =>
  Effect.gen(function*() {
    const read = yield* Effect.try({ try: () => readStudyFile(o.file), catch: (e) => fail(messageOf(e)) })
    const study = o.adjust ? o.adjust(read) : read
    const out = resolve(o.out ?? (study.spec.report?.out !== undefined ? resolve(study.dir, study.spec.report.out) : `fleuve-study-${study.spec.name}`))
    // Planning reads the study's inputs (fingerprints of checkpoints, data, prompts): a file it cannot
    // read is the user's to fix, so it is reported as this study's failure, not as a crash with a stack.
    const plan = yield* planStudy(study, out).pipe(
      Effect.catchDefect((d) => Effect.fail(d)),
      Effect.mapError((e) => fail(`${o.file}: ${messageOf(e)}`))
    )
    const succeeded = yield* Studies.succeeded(study.spec.name)
    const states = new Map<string, StepState>()
    for (const step of plan.steps) {
      const done = leavesFiles(step)
        ? doneOnDisk(step)
        : succeeded.has(`${step.id}\0${step.key}`) && (step.id !== "report" || existsSync(join(out, "report.html")))
      states.set(step.id, done ? "done" : "to run")
    }
    return { plan, states }
  })

/** The steps that read `id`, directly or through others. */
const dependents = (plan: StudyPlan, id: string): Set<string> => {
  const out = new Set<string>([id])
  for (const step of plan.steps) if (step.deps.some((d) => out.has(d))) out.add(step.id)
  return out
}

const versions = () => {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..")
  const pkg = (p: string) => {
    try {
      return (JSON.parse(readFileSync(join(root, "node_modules", p, "package.json"), "utf8")) as { version: string }).version
    } catch {
      return undefined
    }
  }
  const readJson = (path: string): Record<string, string> | undefined => {
    try {
      return JSON.parse(readFileSync(path, "utf8")) as Record<string, string>
    } catch {
      return undefined
    }
  }
  // In the one-file GPU bundle (fleuve/app/fleuve.mjs) there is no package.json nor git: its
  // MANIFEST.json (fleuve/MANIFEST.json) says the version and commit it was built from.
  const bundle = readJson(join(dirname(fileURLToPath(import.meta.url)), "..", "MANIFEST.json"))
  let commit: string | undefined = bundle?.commit
  if (commit === undefined) {
    try {
      commit = execFileSync("git", ["-C", root, "rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
    } catch {
      commit = undefined
    }
  }
  return {
    fleuve: readJson(join(root, "package.json"))?.version ?? bundle?.fleuve,
    commit,
    node: process.version,
    effect: pkg("effect"),
    duckdb: pkg("@duckdb/node-api"),
    tfjs: pkg("@tensorflow/tfjs-core")
  }
}

/** Points `<out>/models/<name>` at a model step's current output (its adapter, else its model), so people find the models by name. */
const linkModel = (out: string, step: PlannedStep, output: StepOutput | undefined) => {
  if (step.spec.kind !== "train" && step.spec.kind !== "base") return
  const target = output?.adapter ?? output?.model
  if (!target || !existsSync(target)) return
  const link = join(out, "models", step.id.replace(/^train:/, ""))
  mkdirSync(dirname(link), { recursive: true })
  rmSync(link, { force: true, recursive: false })
  try {
    symlinkSync(target, link, "dir")
  } catch {
    // a file system without links: the path is in study_steps.output
  }
}

export const runStudy = (o: StudyOptions) =>
  Effect.gen(function*() {
    const { plan, states } = yield* planOf(o)
    const ids = plan.steps.map((s) => s.id)
    for (const [flag, id] of [["--only", o.only], ["--from", o.from]] as const) {
      if (id !== undefined && !ids.includes(id)) return yield* fail(`${flag} ${id}: no such step; the steps are ${ids.join(", ")}`)
    }
    const forced = o.from !== undefined ? dependents(plan, o.from) : o.only !== undefined ? new Set([o.only]) : new Set<string>()
    const selected = (id: string) => o.only === undefined || id === o.only
    if (o.only !== undefined) {
      const missing = plan.steps.find((s) => s.id === o.only)!.deps.filter((d) => states.get(d) !== "done")
      if (missing.length > 0) return yield* fail(`--only ${o.only}: it reads ${missing.join(", ")}, which ${missing.length > 1 ? "are" : "is"} not done yet; run the study (or --only those) first`)
    }
    const toRun = plan.steps.filter((s) => selected(s.id) && (states.get(s.id) !== "done" || forced.has(s.id)))
    if (o.dryRun) return { plan, states, results: [], runId: undefined } satisfies StudyOutcome
    if (toRun.length === 0) {
      o.log(`study ${plan.study.spec.name}: every step is done with the same inputs and settings; nothing to run`)
      return { plan, states, results: plan.steps.map((s) => ({ id: s.id, status: "done before", seconds: 0, detail: "" })), runId: undefined } satisfies StudyOutcome
    }

    const spec = plan.study.spec
    const backend = o.backend ?? spec.runtime?.backend ?? "auto"
    const choice = yield* Effect.tryPromise({ try: () => selectBackend(backend, "training"), catch: (e) => fail(messageOf(e)) })
    o.log(`study ${spec.name}: ${describeBackend(choice)}`)
    setScoringEngine(o.engine ?? spec.runtime?.engine)

    // Loaded once, when a step first needs them, in this fiber (so the readers see --max-record-bytes).
    const data = yield* Effect.cached(
      Effect.gen(function*() {
        const tasks = yield* loadManifestTasks(plan.datasets.manifest, plan.datasets.base, plan.datasets.label, plan.datasets.tasks)
        const prompts = yield* Effect.try({ try: () => loadPromptSet(plan.datasets.prompts), catch: (e) => fail(messageOf(e)) })
        const max = spec.decoding?.maxNewTokens
        return { tasks, prompts: max !== undefined ? capDecoding(prompts, max) : prompts } satisfies StudyData
      }).pipe(Effect.mapError((e) => fail(messageOf(e))))
    )
    const env: StepEnv = {
      plan,
      outputs: new Map<string, StepOutput>(),
      log: o.log,
      onTrainingStep: o.onTrainingStep ?? (() => () => {}),
      signal: o.signal ?? new AbortController().signal,
      corpusRun: o.corpusRun,
      maxRecordBytes: yield* MaxRecordBytes,
      data
    }

    return yield* Runs.record("study", { file: plan.study.file, out: plan.out, only: o.only, from: o.from }, (studyRunId) =>
      Effect.gen(function*() {
        yield* Studies.record(studyRunId, spec.name, plan.study.file, plan.study.text, plan.steps.map((s) => ({ id: s.id, deps: s.deps, key: s.key, dir: s.dir, spec: s.spec })), versions())
        const results: Array<StepResult> = []
        const ran = new Set<string>()
        const total = toRun.length
        let n = 0
        for (const step of plan.steps) {
          if (ran.has(step.id)) {
            env.outputs.set(step.id, outputOf(step, env.outputs))
            continue
          }
          const runThis = toRun.includes(step)
          if (!runThis) {
            env.outputs.set(step.id, outputOf(step, env.outputs))
            results.push({ id: step.id, status: selected(step.id) ? "done before" : "not selected", seconds: 0, detail: "" })
            if (selected(step.id)) o.log(`${step.id}: done before with the same inputs (key ${step.key.slice(0, 12)}), kept`)
            linkModel(plan.out, step, env.outputs.get(step.id))
            continue
          }
          // The grid: every score step still to run, in one call (items are diffed and recorded once).
          const batch = step.spec.kind === "score" ? toRun.filter((s) => s.spec.kind === "score") : [step]
          n += batch.length
          o.log(`── step ${n}/${total}: ${batch.map((s) => s.id).join(", ")}${batch.length === 1 ? ` — ${step.describe}` : ""}`)
          const started = performance.now()
          const summary = yield* runSteps(batch, studyRunId, env, o)
          const seconds = (performance.now() - started) / 1000
          for (const [i, s] of batch.entries()) {
            ran.add(s.id)
            env.outputs.set(s.id, outputOf(s, env.outputs))
            results.push({ id: s.id, status: "ran", seconds: i === 0 ? seconds : 0, detail: i === 0 ? summary.detail : `in the grid above (${batch[0]!.id})` })
            linkModel(plan.out, s, env.outputs.get(s.id))
          }
          o.log(`${batch.map((s) => s.id).join(", ")}: ${summary.detail} (${seconds.toFixed(1)}s)`)
        }
        yield* Runs.finish(studyRunId, "succeeded", { steps: results })
        return { plan, states, results, runId: studyRunId } satisfies StudyOutcome
      })
    )
  })

/** Runs one step (or the grid's batch of score steps) as a recorded run, its study_steps rows settled however it ends. */
const runSteps = (batch: ReadonlyArray<PlannedStep>, studyRunId: string, env: StepEnv, o: StudyOptions) =>
  Effect.gen(function*() {
    const name = env.plan.study.spec.name
    const label = batch.length === 1 ? batch[0]!.id : "grid"
    const started = performance.now()
    return yield* Runs.record(`study ${name} ${label}`, { study: name, steps: batch.map((s) => ({ id: s.id, key: s.key })) }, (runId) =>
      Effect.gen(function*() {
        for (const s of batch) {
          if (leavesFiles(s)) mkdirSync(s.dir, { recursive: true })
          yield* Studies.start(name, s.id, s.key, studyRunId, runId, leavesFiles(s) ? s.dir : null)
        }
        const summary = yield* execute(batch, runId, env, o)
        for (const s of batch) {
          if (leavesFiles(s)) markDone(s, summary)
          yield* Studies.finish(name, s.id, s.key, "succeeded", (performance.now() - started) / 1000, summary)
        }
        return summary
      }).pipe(
        Effect.onExit((exit) =>
          exit._tag === "Success"
            ? Effect.void
            : Effect.forEach(batch, (s) =>
              Studies.finish(name, s.id, s.key, exit.cause.reasons.every((r) => r._tag === "Interrupt") ? "interrupted" : "failed", (performance.now() - started) / 1000, {
                detail: exit.cause.reasons.every((r) => r._tag === "Interrupt") ? "interrupted" : "failed"
              }).pipe(Effect.ignore), { discard: true })
        )
      ))
  })

/** Trains through a promise the interruption waits for: the signal makes training checkpoint and return, then the step ends interrupted. */
const training = (step: PlannedStep, f: () => Promise<StepSummary & { readonly stopped?: boolean }>) =>
  Effect.uninterruptible(Effect.tryPromise({ try: f, catch: (e) => fail(`${step.id}: ${messageOf(e)}`) })).pipe(
    Effect.flatMap((summary) => (summary.stopped ? Effect.interrupt : Effect.succeed(summary)))
  )

const execute = (batch: ReadonlyArray<PlannedStep>, runId: string, env: StepEnv, o: StudyOptions): Effect.Effect<StepSummary, unknown, Warehouse | import("../runtime/runtime.ts").PipelineRuntime> => {
  const step = batch[0]!
  switch (step.spec.kind) {
    case "corpus":
      return runCorpusStep(step, env)
    case "base":
      return training(step, () => runBase(step, env))
    case "train":
      // The QA pools are read here, in the fiber; training itself is a promise.
      return Effect.flatMap(step.spec.training.data === "corpus" || "file" in step.spec.training.data ? Effect.succeed(undefined) : env.data, (data) =>
        training(step, () => runTrainingStage(step, env, data)))
    case "score":
      return runScoreSteps(batch, runId, env)
    case "import":
      return runImportStep(step, env)
    case "judges":
      return runJudgesStep(step, env)
    case "heldout":
      return runHeldoutStep(step, runId, env)
    case "analyze":
      return runAnalyzeStep(env)
    case "report":
      return runReportStep(env, o.amendReport)
  }
}
