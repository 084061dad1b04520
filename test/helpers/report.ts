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
