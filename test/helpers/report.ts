import { Effect } from "effect"
import { sampleScoresPipeline } from "../../pipelines/sample-scores.ts"
import { PipelineRuntime } from "../../pipelines/runtime/runtime.ts"
import { runAnalyses } from "../../analysis/analyses.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runWithWarehouse, tempWarehousePath } from "./warehouse.ts"

export const REFERENCE = "Qwen3-14B-vanilla"

/** Long names as real checkpoints get them: spaces, slashes, dashes, non-ASCII. */
export const LONG_NAMES: Readonly<Record<string, string>> = {
  "EnMed-Unified": "EnMed-Unified · Qwen3-14B QLoRA r16 α32 multi-task adapter with task identifier (checkpoint 4200)",
  "Meditron-7B": "epfl-llm/meditron-7b-chat-finetuned-on-french-health-corpus-v2",
  "Qwen3-14B-vanilla": "Qwen/Qwen3-14B-Instruct (vanilla baseline, no adaptation)",
  "EnMed-DAPT": "EnMed-DAPT_continual-pretraining_french-health_8B-tokens"
}

/**
 * A warehouse as `fleuve run sample-scores` then `fleuve analyze --reference …` leave it (8 systems ×
 * 3 tasks × 3 shots), built in-process with the same code. `rename` renames systems in `scores`
 * before the analyses run, to test long names end to end. Returns the DuckDB path.
 */
export const buildFixtureWarehouse = async (options: { rename?: Readonly<Record<string, string>> } = {}): Promise<string> => {
  const path = tempWarehousePath()
  const rename = options.rename ?? {}
  await runWithWarehouse(path, Effect.gen(function*() {
    const runtime = yield* PipelineRuntime
    yield* runtime.run(yield* sampleScoresPipeline)
    const w = yield* Warehouse
    for (const [from, to] of Object.entries(rename)) yield* w.exec("UPDATE scores SET system = $to WHERE system = $from", { from, to })
    // Figures use no bootstrap interval; fewer resamples keep the fixture quick.
    yield* runAnalyses({ reference: rename[REFERENCE] ?? REFERENCE, resamples: 200 })
  }))
  return path
}

/** System names as they come from the Hub and lm-eval imports. */
export const REALISTIC_SYSTEMS: Readonly<Record<string, string>> = {
  "Qwen3-14B-vanilla": "Qwen3-14B",
  "EnMed-DAPT": "Qwen3-14B-EnMed-DAPT",
  "EnMed-Unified": "Qwen3-14B-EnMed-Unified-LoRA",
  "EnMed-MCQA": "Mistral-7B-Instruct-v0.3",
  "EnMed-ExtQA": "Meta-Llama-3.1-8B-Instruct",
  "EnMed-AbsQA": "BioMistral-7B-DARE",
  "Meditron-7B": "meditron-7b",
  "BioMistral-7B": "Qwen2.5-7B-Instruct"
}
/** Task names as French medical benchmarks are named (the sample's three, then copies). */
export const REALISTIC_TASKS = ["medmcqa-fr", "medqa-open-fr", "mediqal-oeq-fr", "frenchmedmcqa-emr", "cas-extractive-fr"] as const

/**
 * The sample grid with real-looking names, `tasks` tasks (1–5: the sample's three, fewer, or extra
 * copies with altered scores), the given shot counts, and optionally one task where every system
 * scores exactly as the reference (degenerate axes: all deltas 0), or one task scored in [0, 0.1]
 * (narrow axes). Returns the DuckDB path.
 */
export const buildRealisticWarehouse = async (options: { tasks: number; shots: ReadonlyArray<number>; tiedTask?: boolean; lowScores?: boolean; zeroTask?: boolean }): Promise<string> => {
  const path = tempWarehousePath()
  await runWithWarehouse(path, Effect.gen(function*() {
    const runtime = yield* PipelineRuntime
    yield* runtime.run(yield* sampleScoresPipeline)
    const w = yield* Warehouse
    for (const [from, to] of Object.entries(REALISTIC_SYSTEMS)) yield* w.exec("UPDATE scores SET system = $to WHERE system = $from", { from, to })
    const base = ["mcqa", "extqa", "absqa"]
    for (const [i, t] of base.entries()) yield* w.exec("UPDATE scores SET task = $to WHERE task = $from", { from: t, to: REALISTIC_TASKS[i]! })
    for (let i = 3; i < options.tasks; i++) {
      // A copy of the MCQA or extractive task with its scores shuffled between items, so ranks differ.
      const from = REALISTIC_TASKS[i - 3]!
      yield* w.exec(
        `INSERT INTO scores (system, task, shots, item_id, dataset_version, metric, score)
         SELECT system, $to, shots, item_id, dataset_version, metric,
                CASE WHEN metric = 'acc' AND hash(system || item_id) % 3 = 0 THEN 1 - score ELSE score END
         FROM scores WHERE task = $from`,
        { from, to: REALISTIC_TASKS[i]! }
      )
    }
    yield* w.exec(`DELETE FROM scores WHERE task NOT IN (${REALISTIC_TASKS.slice(0, options.tasks).map((t) => `'${t}'`).join(", ")})`)
    yield* w.exec(`DELETE FROM scores WHERE shots NOT IN (${options.shots.join(", ")})`)
    // F1 in [0, 0.1]: a narrow axis whose default ticks ("0.00", "0.01", …) ran into each other.
    if (options.lowScores) yield* w.exec("UPDATE scores SET score = score / 10 WHERE task = $task", { task: REALISTIC_TASKS[1] })
    // Every system scores 0 on a task (the demo's untrained ExtQA F1): a degenerate axis.
    if (options.zeroTask) yield* w.exec("UPDATE scores SET score = 0 WHERE task = $task", { task: REALISTIC_TASKS[1] })
    if (options.tiedTask) {
      yield* w.exec(
        `UPDATE scores s SET score = r.score FROM scores r
         WHERE s.task = $task AND r.task = s.task AND r.shots = s.shots AND r.item_id = s.item_id AND r.metric = s.metric AND r.system = 'Qwen3-14B'`,
        { task: REALISTIC_TASKS[0] }
      )
    }
    yield* runAnalyses({ reference: "Qwen3-14B", resamples: 200 })
  }))
  return path
}
