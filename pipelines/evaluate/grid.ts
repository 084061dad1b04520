import { Effect, Semaphore, Stream } from "effect"
import { Systems } from "../../warehouse/systems.ts"
import type { Envelope } from "../../operators/envelope.ts"
import type { Judge } from "../../operators/qa/judge/judge.ts"
import type { TaskData } from "../../operators/qa/loaders/manifest.ts"
import type { QaModel } from "../../operators/qa/model.ts"
import { predict, type PredictionCacheApi, type PredictOptions } from "../../operators/qa/predict.ts"
import type { PromptSet } from "../../operators/qa/prompts/templates.ts"
import { buildEvalRequest } from "../../operators/qa/requests.ts"
import { scorePrediction } from "../../operators/qa/score-prediction.ts"
import { OperatorFailure } from "../../operators/operator.ts"
import type { Score } from "../../schemas/evaluation.ts"
import type { QAItem } from "../../schemas/qa-item.ts"
import type { KeyedEvalRequest, PredictionRecord } from "../../schemas/qa-record.ts"
import { landDeadLetters } from "../../warehouse/dead-letters.ts"
import { EvalScores, Judgements } from "../../warehouse/eval-scores.ts"
import { PredictionCache } from "../../warehouse/prediction-cache.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { type Pipeline, sink, source, stage } from "../runtime/graph.ts"
import { PipelineRuntime, type RunOptions } from "../runtime/runtime.ts"

export interface EvalSystem {
  readonly system: string
  readonly model: QaModel
  readonly description?: string
}

export interface EvalPlan {
  readonly systems: ReadonlyArray<EvalSystem>
  readonly tasks: ReadonlyArray<TaskData>
  readonly shots: ReadonlyArray<number>
  readonly prompts: PromptSet
  readonly judge: Judge
}

export interface EvalCounts {
  /** Requests in the grid (systems × tasks × shots × items). */
  readonly requests: number
  /** Requests whose cache key is already the system's current prediction: nothing to do. */
  readonly current: number
  /** Requests scored in this run, per task; of those, answered by the prediction cache. */
  readonly scored: Readonly<Record<string, number>>
  readonly fromCache: number
  readonly scores: number
  readonly deadLetters: number
}

const toFailure = (operator: string) => (e: { readonly message: string }) => new OperatorFailure({ operator, message: e.message })

/** Every request of the grid for one system, with its cache key. */
export const gridRequests = (plan: EvalPlan, system: EvalSystem): Array<KeyedEvalRequest> =>
  plan.tasks.flatMap((t) =>
    plan.shots.flatMap((shots) =>
      t.test.map((loaded) => buildEvalRequest(plan.prompts, { system: system.system, modelId: system.model.modelId, modelRevision: system.model.modelRevision, adapterHash: system.model.adapterHash }, loaded, t.train, shots))
    )
  )

/** A system name as Kafka topic and group names allow it (letters, digits, `.`, `_`, `-`). */
const topicSafe = (system: string) => system.replace(/[^A-Za-z0-9._-]/g, "_")

/** The topics of one system's evaluation grid (the same names in-process and on Kafka). */
export const evaluationTopics = (system: string) => {
  const s = topicSafe(system)
  return { requests: `eval.requests.${s}`, predictions: `eval.predictions.${s}`, scores: `eval.scores.${s}` }
}

/**
 * Requests a predict batch takes at most: the generation requests of a batch go to the model in one
 * call, which the WGSL decoder runs as one batch of up to 128 rows (16 ran the EnMed grid's
 * generation at 1.5 requests/s on the H100; a decoding step costs about the same for 128 rows).
 */
export const PREDICT_BATCH = 128

/**
 * The order requests run in: log-likelihood requests first as they come, then generation requests
 * from the shortest prompt to the longest (stable), so that a batch's prompts are of like lengths
 * (a decoder batch steps to its longest prompt). Results do not depend on the order.
 */
export const runOrder = (requests: ReadonlyArray<KeyedEvalRequest>): Array<KeyedEvalRequest> => [
  ...requests.filter((r) => r.kind !== "generate"),
  ...requests.filter((r) => r.kind === "generate").sort((a, b) => a.prompt.length - b.prompt.length)
]

/** The prefix of a system's grid pipeline; `evaluate-<system>` names its consumer groups (`fleuve.evaluate-<system>.<node>`). */
export const EVALUATION_PIPELINE_PREFIX = "evaluate-"

/** The grid pipeline's name for a system (the same in-process, in `reeval --runtime kafka` and in `fleuve worker`). */
export const evaluationPipelineName = (system: string) => `${EVALUATION_PIPELINE_PREFIX}${topicSafe(system)}`

/** The scorer stage, the one node of the grid a process without the warehouse can run (`fleuve worker predict`). */
export const SCORER_NODE = "predict"

const RECORDS = (topics: ReturnType<typeof evaluationTopics>) =>
  ({ [topics.requests]: "KeyedEvalRequest", [topics.predictions]: "PredictionRecord", [topics.scores]: "Score" }) as const

/** No prediction cache: what a scorer worker in another process has (the cache is in the warehouse). */
const noCache: PredictionCacheApi<never> = { get: () => Effect.succeed(new Map()), put: () => Effect.void }

/**
 * The grid pipeline of one system as a scorer worker builds it: only its scorer stage (requests →
 * the system's model → predictions), with no warehouse and so no prediction cache: it answers
 * every request it gets. Its requests come from the `reeval` process that owns the warehouse (only
 * those whose cache key is not the system's current prediction), and its predictions land through
 * that process's sinks. A request addressed to another model
 * (id, revision, adapter) than the worker's is a dead letter, never answered.
 */
export const evaluationWorkerPipeline = (system: EvalSystem, predictOptions: PredictOptions = {}): Pipeline<never> => {
  const topics = evaluationTopics(system.system)
  return {
    name: evaluationPipelineName(system.system),
    description: `the scorer stage of ${system.system}'s evaluation grid (requests → predictions), for a worker without the warehouse`,
    records: RECORDS(topics),
    nodes: [stage(topics.requests, predict(system.model, noCache, predictOptions), topics.predictions, PREDICT_BATCH)]
  }
}

/**
 * requests → predict (cache, then model) → metrics and judge → scores (replacing older rows);
 * predictions → land-predictions (the cache and each cell's current prediction). The scorer stage
 * reads the cache but writes nothing to the warehouse, so its members may run in other processes
 * (`fleuve worker predict --pipeline evaluate-<system>`): what it answers lands through the sink.
 */
export const evaluationPipeline = (
  runId: string,
  system: EvalSystem,
  requests: ReadonlyArray<KeyedEvalRequest>,
  items: ReadonlyMap<string, QAItem>,
  judge: Judge,
  onLanded: (p: { readonly requests: number; readonly fromCache: number; readonly perSecond: number }) => void = () => {}
): Pipeline<Warehouse> => {
  // One DuckDB connection serves the whole run and cannot interleave statements: the stages'
  // partitions run concurrently, so every warehouse write and read of this pipeline takes turns.
  const lock = Semaphore.makeUnsafe(1)
  const serial = <A, E, R>(e: Effect.Effect<A, E, R>) => lock.withPermit(e)
  const cache: PredictionCacheApi<Warehouse> = {
    get: (keys) => serial(PredictionCache.get(keys)).pipe(Effect.mapError(toFailure("prediction-cache"))),
    // The land-predictions sink stores them, wherever the scorer stage ran.
    put: () => Effect.void
  }
  const judgements = {
    record: (cacheKey: string, j: Judge, v: { score: number; raw: string; order: string }) =>
      serial(Judgements.put([{ cacheKey, judge: j.id, kind: j.kind, order: v.order, score: v.score, raw: v.raw }])).pipe(Effect.mapError(toFailure("judgements")))
  }
  // Generation requests are keyed by their run of PREDICT_BATCH in the order given (runOrder: like
  // prompt lengths together), so that a run lands in one partition and reaches the model as one
  // batch; keyed by item, the partitions split every run four ways (batches of ~30 rows of
  // scattered lengths on the H100). Scoring requests keep their item key.
  let generations = 0
  const keyOf = (r: KeyedEvalRequest) => (r.kind === "generate" ? `${r.system}|generate|${Math.floor(generations++ / PREDICT_BATCH)}` : `${r.system}|${r.task}|${r.itemId}`)
  const envelopes = Stream.fromIterable(requests.map((r, seq): Envelope<KeyedEvalRequest> => ({
    key: keyOf(r),
    value: r,
    position: { _tag: "Generated", generator: `grid:${system.system}`, seq }
  })))
  // Topics of this system's grid: on Kafka a topic outlives the run, and a system's consumer
  // groups must not read another system's requests (they would be dead letters).
  const topics = evaluationTopics(system.system)
  const started = performance.now()
  let landed = 0
  let fromCache = 0
  return {
    name: evaluationPipelineName(system.system),
    description: "EvalRequests → predictions (prediction cache, then the model) → item-level scores in `scores`",
    records: RECORDS(topics),
    nodes: [
      source("eval-requests", topics.requests, envelopes, requests.length),
      stage(topics.requests, predict(system.model, cache), topics.predictions, PREDICT_BATCH),
      stage(topics.predictions, scorePrediction(items, judge, judgements), topics.scores),
      // A cached answer is recorded again as this system's current prediction (the cache row itself is kept once).
      sink<PredictionRecord, Warehouse>("land-predictions", topics.predictions, (batch) =>
        serial(PredictionCache.put(batch.map((e) => ({
          prediction: e.value.prediction,
          // A log-likelihood answer is its options' log-probs; a generation has none.
          kind: e.value.prediction.options ? "loglikelihood" as const : "generate" as const,
          itemHash: e.value.itemHash
        })))).pipe(
          Effect.tap(() => Effect.sync(() => {
            landed += batch.length
            fromCache += batch.filter((e) => e.value.cached).length
            onLanded({ requests: landed, fromCache, perSecond: landed / Math.max((performance.now() - started) / 1000, 1e-9) })
          })),
          Effect.mapError(toFailure("land-predictions"))
        )),
      sink<Score, Warehouse>("land-scores", topics.scores, (batch) =>
        serial(EvalScores.replace(runId, batch.map((e) => ({ score: e.value, source: `${system.system}:${e.position._tag === "Generated" ? e.position.seq : 0}` })))).pipe(
          Effect.asVoid,
          Effect.mapError(toFailure("land-scores"))
        ))
    ],
    deadLetters: (letters) => serial(landDeadLetters(runId, letters)).pipe(Effect.mapError(toFailure("dead-letters")))
  }
}

/**
 * Runs the grid: for each system, the requests whose cache key differs from the system's current
 * prediction (new or changed items, a changed prompt or model) go through the pipeline; the rest
 * are already scored. `force` re-runs everything (still answered from the cache where possible).
 */
export interface EvaluateOptions {
  readonly force?: boolean
  readonly run?: RunOptions
  /** Before a system's requests run: how many need the model (or the cache) of how many. */
  readonly onSystem?: (system: string, todo: number, total: number) => void
  /** While they run, after each batch: requests done of `todo`, their rate. */
  readonly onRequests?: (system: string, done: { readonly requests: number; readonly fromCache: number; readonly perSecond: number }, todo: number) => void
  /**
   * Systems whose scorer stage runs only in `fleuve worker predict --pipeline evaluate-<system>`
   * processes (Kafka runtime): this process produces their requests and lands what the workers answer.
   */
  readonly scorerWorkers?: ReadonlyArray<string>
  /** Before such a system's grid runs: its pipeline's name, for the line that says which workers it waits for. */
  readonly onScorerWorkers?: (system: string, pipeline: string) => void
  /** Called when nothing of such a system's requests landed for `idleNoticeMs` (default 30 s). */
  readonly onScorerWorkersIdle?: (system: string, pipeline: string, landed: number, todo: number) => void
  readonly idleNoticeMs?: number
}

export const evaluate = (runId: string, plan: EvalPlan, options: EvaluateOptions = {}) =>
  Effect.gen(function*() {
    const runtime = yield* PipelineRuntime
    const items = new Map<string, QAItem>()
    for (const t of plan.tasks) for (const l of t.test) items.set(`${l.dataset}\0${l.item.id}`, l.item)
    let requestsTotal = 0
    let current = 0
    let fromCache = 0
    let scores = 0
    let deadLetters = 0
    const scored: Record<string, number> = {}
    for (const system of plan.systems) {
      yield* Systems.record({ system: system.system, modelId: system.model.modelId, modelRevision: system.model.modelRevision, adapterHash: system.model.adapterHash, description: system.description })
      const all = gridRequests(plan, system)
      requestsTotal += all.length
      const known = yield* PredictionCache.currentKeys(system.system)
      const todo = runOrder(options.force ? all : all.filter((r) => known.get(`${r.task}|${r.shots}|${r.itemId}|${r.datasetVersion}`) !== r.cacheKey))
      current += all.length - todo.length
      options.onSystem?.(system.system, todo.length, all.length)
      if (todo.length === 0) continue
      for (const r of todo) scored[r.task] = (scored[r.task] ?? 0) + 1
      let systemFromCache = 0
      let answered = 0
      const pipeline = evaluationPipeline(runId, system, todo, items, plan.judge, (p) => {
        systemFromCache = p.fromCache
        answered = p.requests
        options.onRequests?.(system.system, p, todo.length)
      })
      const elsewhere = options.scorerWorkers?.includes(system.system) ?? false
      if (elsewhere) options.onScorerWorkers?.(system.system, pipeline.name)
      // Workers that never come (not started, or given another system's flags) would leave the run
      // waiting in silence: say so whenever a while passes with nothing landed.
      let seen = -1
      const idle = elsewhere && options.onScorerWorkersIdle
        ? setInterval(() => {
          if (answered === seen) options.onScorerWorkersIdle!(system.system, pipeline.name, answered, todo.length)
          seen = answered
        }, options.idleNoticeMs ?? 30_000)
        : undefined
      const report = yield* runtime.run(pipeline, elsewhere ? { ...options.run, elsewhere: [SCORER_NODE] } : options.run).pipe(
        Effect.ensuring(Effect.sync(() => clearInterval(idle)))
      )
      fromCache += systemFromCache
      const landed = report.stages.find((s) => s.name === "land-scores")
      scores += landed?.out ?? 0
      deadLetters += report.deadLetters.length
    }
    return { requests: requestsTotal, current, scored, fromCache, scores, deadLetters } satisfies EvalCounts
  })
