import { Effect, Schema } from "effect"
import { redact } from "../../lib/redact.ts"
import { countingJudge, type Judge } from "../../operators/qa/judge/judge.ts"
import { offlineReferenceJudge } from "../../operators/qa/judge/offline-reference.ts"
import { loadManifest, readManifest, type TaskData } from "../../operators/qa/loaders/manifest.ts"
import { statSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { loadPromptSet, type PromptSet } from "../../operators/qa/prompts/templates.ts"
import type { TaskName } from "../../schemas/common.ts"
import { type AnalysisSummary, runAnalyses } from "../../analysis/analyses.ts"
import { landDeadLetters } from "../../warehouse/dead-letters.ts"
import { EvalScores } from "../../warehouse/eval-scores.ts"
import { type ItemDiff, ItemStore } from "../../warehouse/item-store.ts"
import { Runs } from "../../warehouse/runs.ts"
import { evaluate, type EvalCounts, type EvalSystem } from "./grid.ts"

export interface ReevalOptions {
  readonly manifest: string
  readonly shots?: ReadonlyArray<number>
  readonly tasks?: ReadonlyArray<TaskName>
  readonly judge?: Judge
  readonly promptsPath?: string
  readonly force?: boolean
  /** Score only the first `limit` test items of each task; the rest are neither scored nor retired. */
  readonly limit?: number | undefined
  /** Builds the systems to score once the data is loaded (baselines train on the pools). */
  readonly systems: (tasks: ReadonlyArray<TaskData>) => ReadonlyArray<EvalSystem>
  readonly log?: (line: string) => void
  /** When set, the analyses are refreshed against this reference system after scoring. */
  readonly reference?: string
  /** Systems whose scorer stage runs in `fleuve worker predict` processes (Kafka runtime; see EvaluateOptions). */
  readonly scorerWorkers?: ReadonlyArray<string>
  /** More of what produced the scores, kept in runs.args (endpoints with credentials masked). */
  readonly provenance?: Readonly<Record<string, unknown>>
}

export interface ReevalSummary {
  readonly runId: string
  readonly diffs: Readonly<Record<string, ItemDiff>>
  readonly retiredScores: number
  readonly eval: EvalCounts
  readonly rejectedItems: number
  readonly analyses?: AnalysisSummary
}

/** Every call to the judge failed: the run has no judge score and fails (exit 1). */
export class JudgeUnavailable extends Schema.TaggedError<JudgeUnavailable>()("JudgeUnavailable", {
  judge: Schema.String,
  calls: Schema.Number,
  message: Schema.String
}) {}

export interface ScoreDatasetsOptions {
  readonly tasks: ReadonlyArray<TaskData>
  readonly systems: ReadonlyArray<EvalSystem>
  readonly shots: ReadonlyArray<number>
  readonly prompts: PromptSet
  readonly judge: Judge
  /** Where the items come from (the manifest), recorded with them. */
  readonly source: string
  readonly force?: boolean
  /** Score only the first `limit` test items of each task; the rest are neither scored nor retired. */
  readonly limit?: number | undefined
  readonly log?: (line: string) => void
  /** Systems whose scorer stage runs in `fleuve worker predict` processes (Kafka runtime; see EvaluateOptions). */
  readonly scorerWorkers?: ReadonlyArray<string>
}

/** --scorer-workers names a system the run does not score. */
export class UnknownSystem extends Schema.TaggedError<UnknownSystem>()("UnknownSystem", {
  system: Schema.String,
  message: Schema.String
}) {}

export interface DatasetsScored {
  readonly diffs: Readonly<Record<string, ItemDiff>>
  readonly retiredScores: number
  readonly eval: EvalCounts
  readonly rejectedItems: number
}

/**
 * What every evaluation run does with its datasets, under `runId` (`fleuve reeval` and
 * `fleuve demo` alike, so that one's warehouse is current for the other): compare every item's
 * content hash with the item store, keep malformed items as dead letters, score each request
 * whose cache key is not its system's current prediction, retire removed items with their
 * scores, and record the items as they are now.
 */
export const scoreDatasets = (runId: string, options: ScoreDatasetsOptions) =>
  Effect.gen(function*() {
    const log = options.log ?? (() => {})
    const names = options.systems.map((s) => s.system)
    const unknown = (options.scorerWorkers ?? []).find((s) => !names.includes(s))
    if (unknown !== undefined) return yield* new UnknownSystem({ system: unknown, message: `--scorer-workers: no system '${unknown}' in this run (systems: ${names.join(", ")})` })
    const stored = (t: TaskData) => t.test.map((l) => ({ task: t.task, itemId: l.item.id, contentHash: l.contentHash, payload: l.item }))
    const diffs: Record<string, ItemDiff> = {}
    for (const t of options.tasks) {
      const diff = yield* ItemStore.diff(t.dataset, stored(t))
      diffs[t.task] = diff
      log(`${t.dataset}: ${t.test.length} items — ${diff.added.length} new, ${diff.changed.length} changed, ${diff.removed.length} removed, ${diff.unchanged} unchanged`)
    }
    const rejected = options.tasks.flatMap((t) => t.deadLetters)
    if (rejected.length > 0) {
      yield* landDeadLetters(runId, rejected)
      log(`${rejected.length} malformed item(s) kept in dead_letters`)
    }
    const scoredTasks = options.limit === undefined ? options.tasks : options.tasks.map((t) => ({ ...t, test: t.test.slice(0, options.limit) }))
    if (options.limit !== undefined) log(`--limit ${options.limit}: scoring the first ${options.limit} test items of each task`)
    const judge = countingJudge(options.judge)
    const counts = yield* evaluate(runId, { systems: options.systems, tasks: scoredTasks, shots: options.shots, prompts: options.prompts, judge: judge.judge }, {
      ...(options.force ? { force: true } : {}),
      onSystem: (system, todo, total) => log(`${system}: ${todo} of ${total} requests to score`),
      ...(options.scorerWorkers ? { scorerWorkers: options.scorerWorkers } : {}),
      onScorerWorkers: (system, pipeline) =>
        log(`${system}: its scorer stage runs in worker processes: waiting for \`fleuve worker predict --pipeline ${pipeline}\` (with this system's --endpoint… or --model) to answer the requests`),
      onScorerWorkersIdle: (system, pipeline, landed, todo) =>
        log(`${system}: nothing landed for a while (${landed} of ${todo} requests): is a \`fleuve worker predict --pipeline ${pipeline}\` running, with this system's flags? (its dead letters say when a worker's model is not this one)`),
      onRequests: requestProgress(log)
    })
    // Items are not recorded as current: the next run asks the judge again for them.
    if (judge.counts.calls > 0 && judge.counts.failures === judge.counts.calls) {
      return yield* new JudgeUnavailable({
        judge: options.judge.id,
        calls: judge.counts.calls,
        message: redact(`every judge call failed (${judge.counts.failures} of ${judge.counts.calls}; their requests are in dead_letters): ${judge.counts.firstFailure}`)
      })
    }
    let retiredScores = 0
    for (const t of options.tasks) {
      retiredScores += yield* EvalScores.retire(runId, t.dataset, diffs[t.task]!.removed)
      yield* ItemStore.apply(runId, t.dataset, t.task, options.source, stored(t), diffs[t.task]!.removed)
    }
    return { diffs, retiredScores, eval: counts, rejectedItems: rejected.length } satisfies DatasetsScored
  })

/**
 * `fleuve reeval`: load the datasets, then score only what is new or changed and retire what was
 * removed (scoreDatasets), all recorded under one run; refresh the analyses when a score moved.
 */
export const reeval = (options: ReevalOptions) =>
  Effect.gen(function*() {
    const log = options.log ?? (() => {})
    const { tasks } = yield* loadManifest(options.manifest, options.tasks)
    const prompts = loadPromptSet(options.promptsPath)
    const judge = options.judge ?? offlineReferenceJudge
    const runId = Runs.newId()
    yield* Runs.start(runId, "reeval", { manifest: options.manifest, shots: options.shots, tasks: options.tasks, judge: judge.id, force: options.force ?? false, ...options.provenance })
    const scored = yield* scoreDatasets(runId, {
      tasks,
      systems: options.systems(tasks),
      shots: options.shots ?? [0, 3, 5],
      prompts,
      judge,
      source: options.manifest,
      ...(options.force ? { force: true } : {}),
      limit: options.limit,
      ...(options.scorerWorkers ? { scorerWorkers: options.scorerWorkers } : {}),
      log
    }).pipe(
      Effect.tap((scored) => Runs.finish(runId, "succeeded", { ...scored.eval, retiredScores: scored.retiredScores, rejectedItems: scored.rejectedItems })),
      Runs.settle(runId)
    )
    const changed = Object.keys(scored.eval.scored).length > 0 || scored.retiredScores > 0
    // Analyses are whole-warehouse tables: refresh them only when a score moved.
    const analyses = options.reference && changed
      ? yield* runAnalyses({ reference: options.reference, onStep: (step) => log(`analyze: ${step}`) })
      : undefined
    return { runId, ...scored, ...(analyses ? { analyses } : {}) } satisfies ReevalSummary
  })

/** The files of a manifest with their modification times and sizes: what `reeval --watch` polls. */
export const manifestSignature = (manifest: string) =>
  Effect.gen(function*() {
    const m = yield* readManifest(manifest)
    const base = dirname(resolve(manifest))
    const files = [manifest, ...Object.values(m.tasks).flatMap((t) => [t.test, ...(t.train ? [t.train] : [])]).map((f) => resolve(base, f))]
    return files.map((f) => {
      try {
        const st = statSync(f)
        return `${f}:${st.mtimeMs}:${st.size}`
      } catch {
        return `${f}:missing`
      }
    }).join("\n")
  })

/** A line every few seconds while a system's requests run: done of todo, rate and time left. */
const requestProgress = (log: (line: string) => void, everyMs = 5000) => {
  let last = 0
  return (system: string, p: { readonly requests: number; readonly fromCache: number; readonly perSecond: number }, todo: number) => {
    const now = Date.now()
    if (p.requests < todo && now - last < everyMs) return
    last = now
    const left = p.perSecond > 0 ? Math.ceil((todo - p.requests) / p.perSecond) : undefined
    log(`${system}: ${p.requests}/${todo} requests (${p.fromCache} from the cache), ${p.perSecond.toFixed(1)}/s${left !== undefined && p.requests < todo ? `, about ${left < 60 ? `${left}s` : `${Math.floor(left / 60)}m${String(left % 60).padStart(2, "0")}s`} left` : ""}`)
  }
}
