import { Stream } from "effect"
import type { Envelope } from "../../../operators/envelope.ts"
import { validateScore } from "../../../operators/scores/validate-score.ts"
import { type Pipeline, source, stage } from "../../../pipelines/runtime/graph.ts"
import { scoreLandingSink } from "../../../pipelines/sample-scores.ts"
import type { Score } from "../../../schemas/evaluation.ts"
import type { Warehouse } from "../../../warehouse/warehouse.ts"

const SYSTEMS = ["Qwen3-14B-vanilla", "EnMed-DAPT", "EnMed-Unified", "EnMed-MCQA", "EnMed-ExtQA", "EnMed-AbsQA", "Meditron-7B", "BioMistral-7B"]
const TASKS = ["mcqa", "extqa", "absqa"]
const SHOTS = [0, 3, 5]

/** The i-th cell of an eval grid: 72 (system, task, shots) cells per item id. */
export const gridScore = (i: number): Score => {
  const cell = i % 72
  return {
    system: SYSTEMS[cell % 8]!,
    task: TASKS[Math.floor(cell / 8) % 3]!,
    shots: SHOTS[Math.floor(cell / 24)]!,
    itemId: `item-${String(Math.floor(i / 72)).padStart(5, "0")}`,
    datasetVersion: "fault-v1",
    metric: "acc",
    score: (i * 7919) % 2
  }
}

const keyOf = (s: Score) => `${s.system}|${s.task}|${s.shots}|${s.itemId}`

/** An eval-grid landing pipeline on its own topics (`tag` keeps tests apart on one broker). */
export const gridPipeline = (tag: string, items: number): Pipeline<Warehouse> => {
  const landing = scoreLandingSink("land-scores", `eval.scores.${tag}`, `test grid ${tag}`)
  const rows: Stream.Stream<Envelope<Score>> = Stream.fromIterable(
    Array.from({ length: items }, (_, i) => {
      const value = gridScore(i)
      return { key: keyOf(value), value, position: { _tag: "Generated" as const, generator: "grid", seq: i } }
    })
  )
  return {
    name: `grid-${tag}`,
    description: "test eval grid",
    nodes: [
      source("generate-grid", `eval.scores.${tag}.generated`, rows, items),
      stage(`eval.scores.${tag}.generated`, validateScore, `eval.scores.${tag}`),
      landing.sink
    ],
    deadLetters: landing.deadLetters
  }
}
