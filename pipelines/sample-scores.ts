import { Effect, Semaphore, Stream } from "effect"
import { mulberry32, seedOf } from "../lib/random.ts"
import type { Envelope } from "../operators/envelope.ts"
import { OperatorFailure } from "../operators/operator.ts"
import { validateScore } from "../operators/scores/validate-score.ts"
import { describePosition, type Position } from "../schemas/common.ts"
import type { DeadLetter } from "../schemas/dead-letter.ts"
import { landDeadLetters } from "../warehouse/dead-letters.ts"
import type { WarehouseError } from "../warehouse/errors.ts"
import type { Score } from "../schemas/evaluation.ts"
import { Runs } from "../warehouse/runs.ts"
import { ScoreStore, type StagedScore } from "../warehouse/score-store.ts"
import { Warehouse } from "../warehouse/warehouse.ts"
import { type Pipeline, sink, source, stage } from "./runtime/graph.ts"

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

const seqOf = (p: Position) => (p._tag === "Generated" ? p.seq : p._tag === "Topic" ? Number(p.offset) : p.line)

/**
 * A sink landing Scores in `scores` batch by batch, idempotent on the row key, so it can run as a
 * long-lived Kafka worker that commits offsets after each batch. It opens its landing state on the
 * first batch: building the pipeline needs no warehouse (stage workers never open the DuckDB file).
 */
export const scoreLandingSink = (name: string, input: string, command: string) => {
  let landing: { store: { land: (rows: ReadonlyArray<StagedScore>, runId: string) => Effect.Effect<void, WarehouseError> }; runId: string } | undefined
  const open = Effect.gen(function*() {
    if (landing) return landing
    const store = yield* ScoreStore.begin
    const runId = Runs.newId()
    yield* Runs.start(runId, command, { sink: name, input })
    landing = { store, runId }
    return landing
  })
  const fail = (e: { message: string }) => new OperatorFailure({ operator: name, message: e.message })
  // One DuckDB connection, one transaction at a time: partitions' batches land in turn.
  const lock = Semaphore.makeUnsafe(1)
  return {
    sink: sink<Score, Warehouse>(name, input, (batch) =>
      Effect.gen(function*() {
        const { store, runId } = yield* open
        yield* store.land(batch.map((e) => ({ score: e.value, source: describePosition(e.position), seq: seqOf(e.position) })), runId)
      }).pipe(Semaphore.withPermit(lock), Effect.mapError(fail)), {
      close: Effect.gen(function*() {
        const { runId } = yield* open
        const w = yield* Warehouse
        const [row] = yield* w.query<{ n: number }>("SELECT count(*)::INTEGER AS n FROM scores WHERE run_id = $1", [runId])
        yield* Runs.finish(runId, "succeeded", { landed: row?.n ?? 0 })
      }).pipe(Effect.mapError(fail))
    }),
    deadLetters: (letters: ReadonlyArray<DeadLetter>) =>
      Effect.gen(function*() {
        const { runId } = yield* open
        yield* landDeadLetters(runId, letters)
      }).pipe(Semaphore.withPermit(lock), Effect.mapError(fail))
  }
}

/** generate → validate-score → land in `scores` (batch by batch, idempotent on the key). */
export const sampleScoresPipeline = Effect.sync(() => {
  const landing = scoreLandingSink("land-scores", "eval.scores", "run sample-scores")
  const pipeline: Pipeline<Warehouse> = {
    name: "sample-scores",
    description: "Generates a deterministic EnMed-shaped grid of item-level scores (8 systems × 3 tasks × 3 shots) and lands it",
    nodes: [
      source("generate-scores", "eval.scores.generated", sampleScores(), sampleScoreCount),
      stage("eval.scores.generated", validateScore, "eval.scores"),
      landing.sink
    ],
    deadLetters: landing.deadLetters
  }
  return pipeline
})
