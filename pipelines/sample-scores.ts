import { Effect, Stream } from "effect"
import { mulberry32, seedOf } from "../operators/common/random.ts"
import type { Envelope } from "../operators/envelope.ts"
import { OperatorFailure } from "../operators/operator.ts"
import { validateScore } from "../operators/scores/validate-score.ts"
import { describePosition } from "../schemas/common.ts"
import type { Score } from "../schemas/evaluation.ts"
import { Runs } from "../warehouse/runs.ts"
import { ScoreStore } from "../warehouse/score-store.ts"
import { Warehouse } from "../warehouse/warehouse.ts"
import { type Pipeline, sink, source, stage } from "./graph.ts"

/** The EnMed card's eight systems, with an illustrative skill level each. */
export const SAMPLE_SYSTEMS: ReadonlyArray<readonly [string, number]> = [
  ["Qwen3-14B-vanilla", 0.0],
  ["EnMed-DAPT", 0.05],
  ["EnMed-Unified", 0.25],
  ["EnMed-MCQA", 0.15],
  ["EnMed-ExtQA", 0.12],
  ["EnMed-AbsQA", 0.1],
  ["Meditron-7B", -0.2],
  ["BioMistral-7B", -0.1]
]
export const SAMPLE_TASKS = [
  { task: "mcqa", metric: "acc", items: 120 },
  { task: "extqa", metric: "f1", items: 80 },
  { task: "absqa", metric: "judge", items: 60 }
] as const
export const SAMPLE_SHOTS = [0, 3, 5] as const

/**
 * Deterministic synthetic item-level scores shaped like the EnMed grid: binary accuracy for MCQA,
 * continuous F1 for ExtQA, 1-5 judge scores for AbsQA. Illustrative numbers, not results.
 */
export const sampleScores = (seed = 7): Stream.Stream<Envelope<Score>> =>
  Stream.fromIterable(
    (function*() {
      let seq = 0
      for (const { task, metric, items } of SAMPLE_TASKS) {
        for (let i = 0; i < items; i++) {
          const itemId = `${task}-${String(i).padStart(4, "0")}`
          const difficulty = mulberry32(seedOf(`${seed}:${itemId}`))() * 2 - 1
          for (const [system, skill] of SAMPLE_SYSTEMS) {
            for (const shots of SAMPLE_SHOTS) {
              const rand = mulberry32(seedOf(`${seed}:${system}:${itemId}:${shots}`))
              const ability = 0.55 + skill + 0.03 * shots - 0.3 * difficulty + (rand() - 0.5) * 0.4
              const p = Math.min(0.98, Math.max(0.02, ability))
              const score = metric === "acc" ? (rand() < p ? 1 : 0) : metric === "f1" ? Math.round(Math.min(1, Math.max(0, p + (rand() - 0.5) * 0.5)) * 1000) / 1000 : Math.min(5, Math.max(1, Math.round(1 + 4 * p + (rand() - 0.5) * 1.5)))
              const value: Score = { system, task, shots, itemId, datasetVersion: "sample-v1", metric, score }
              yield { key: `${system}|${task}|${itemId}`, value, position: { _tag: "Generated" as const, generator: "sample-scores", seq: seq++ } }
            }
          }
        }
      }
    })()
  )

export const sampleScoreCount = SAMPLE_TASKS.reduce((n, t) => n + t.items, 0) * SAMPLE_SYSTEMS.length * SAMPLE_SHOTS.length

/** generate → validate-score → land in `scores` (staged, merged idempotently at the end). */
export const sampleScoresPipeline = Effect.gen(function*() {
  const store = yield* ScoreStore.begin
  const runId = Runs.newId()
  const pipeline: Pipeline<Warehouse> = {
    name: "sample-scores",
    description: "Generates a deterministic EnMed-shaped grid of item-level scores (8 systems × 3 tasks × 3 shots) and lands it",
    nodes: [
      source("generate-scores", "eval.scores.generated", sampleScores(), sampleScoreCount),
      stage("eval.scores.generated", validateScore, "eval.scores"),
      sink<Score, Warehouse>("land-scores", "eval.scores", (batch) =>
        store.stage(batch.map((e) => ({ score: e.value, source: describePosition(e.position), seq: e.position._tag === "Generated" ? e.position.seq : 0 }))).pipe(
          Effect.mapError((e) => new OperatorFailure({ operator: "land-scores", message: e.message }))
        ), {
        close: Effect.gen(function*() {
          yield* Runs.start(runId, "run sample-scores", {})
          const counts = yield* store.merge(runId)
          yield* Runs.finish(runId, "succeeded", counts)
        }).pipe(Effect.mapError((e) => new OperatorFailure({ operator: "land-scores", message: e.message })))
      })
    ]
  }
  return pipeline
})
