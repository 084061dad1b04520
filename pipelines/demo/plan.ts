import { Effect } from "effect"
import { createHash } from "node:crypto"
import type { TaskData } from "../../operators/qa/loaders/manifest.ts"
import type { QaModel } from "../../operators/qa/model.ts"
import { trainingExample } from "../../operators/qa/prompts/render.ts"
import type { PromptSet } from "../../operators/qa/prompts/templates.ts"
import type { TaskName } from "../../schemas/common.ts"
import { runAnalyses } from "../../analysis/analyses.ts"
import { Runs } from "../../warehouse/runs.ts"
import type { EvalSystem } from "../evaluate/grid.ts"
import { scoreDatasets } from "../evaluate/reeval.ts"
import type { Judge } from "../../operators/qa/judge/judge.ts"

/**
 * The graph of `fleuve demo` (README command one), as a seam: the steps that exist are wired
 * (LoRA training sets, the 9-cell grid, the analyses); the ones that need other issues' code are
 * parameters (`DemoSteps`). Nothing here pretends to train: `runDemo` refuses to start until
 * every step is supplied.
 *
 *   general French text ──pretrain──▶ base ──DAPT (corpus pipeline)──▶ dapt
 *   dapt + Unified set ──LoRA──▶ EnMed-Unified      dapt + task sets ──LoRA──▶ EnMed-MCQA/-ExtQA/-AbsQA
 *   {base, dapt, 4 adapters} × {mcqa, extqa, absqa} × {0, 3, 5} ──grid──▶ scores ──▶ analyses ──▶ report
 */
export interface TrainingExample {
  readonly task: TaskName
  readonly id: string
  readonly prompt: string
  readonly completion: string
}

/** Supervised sets for the adapters: one per task, and the Unified mix of all three. */
export const loraTrainingSets = (prompts: PromptSet, tasks: ReadonlyArray<TaskData>): Record<"unified" | TaskName, Array<TrainingExample>> => {
  const per = Object.fromEntries(tasks.map((t) => [t.task, t.train.map(({ item }) => trainingExample(prompts, item))])) as Record<TaskName, Array<TrainingExample>>
  // Interleave deterministically (by hash of the id) so every batch mixes tasks, as multi-task LoRA needs.
  const unified = Object.values(per).flat().sort((a, b) => {
    const ha = createHash("sha256").update(a.id).digest("hex")
    const hb = createHash("sha256").update(b.id).digest("hex")
    return ha < hb ? -1 : ha > hb ? 1 : 0
  })
  return { unified, mcqa: per.mcqa ?? [], extqa: per.extqa ?? [], absqa: per.absqa ?? [] }
}

/** What the demo needs from the model runtime, corpus and report issues. */
export interface DemoSteps<R> {
  /** Pre-train a tiny Qwen3-shaped model on general French text (model runtime: training). */
  readonly pretrainBase: Effect.Effect<QaModel, unknown, R>
  /** Continue pre-training on the medical corpus through the corpus pipeline (corpus + training). */
  readonly dapt: (base: QaModel) => Effect.Effect<QaModel, unknown, R>
  /** Train a LoRA adapter (r=16, α=32, dropout 0.05) on supervised examples (model runtime: LoRA). */
  readonly trainLora: (backbone: QaModel, name: string, examples: ReadonlyArray<TrainingExample>) => Effect.Effect<QaModel, unknown, R>
  /** Render the report from the warehouse and return its path (report issue). */
  readonly report: Effect.Effect<string, unknown, R>
}

export const DEMO_SYSTEMS = ["base", "EnMed-DAPT", "EnMed-Unified", "EnMed-MCQA", "EnMed-ExtQA", "EnMed-AbsQA"] as const

export interface DemoData {
  readonly prompts: PromptSet
  readonly tasks: ReadonlyArray<TaskData>
  /** The manifest the tasks were loaded from: recorded with the items, as `fleuve reeval` does. */
  readonly source: string
  readonly judge: Judge
  readonly log: (line: string) => void
  readonly shots?: ReadonlyArray<number>
}

export const runDemo = <R>(steps: DemoSteps<R>, data: DemoData) =>
  Effect.gen(function*() {
    const sets = loraTrainingSets(data.prompts, data.tasks)
    data.log("1/6 pre-training the base model on general French text")
    const base = yield* steps.pretrainBase
    data.log("2/6 DAPT on the medical corpus")
    const dapt = yield* steps.dapt(base)
    data.log(`3/6 LoRA adapters: Unified (${sets.unified.length} examples) and single-task`)
    const adapters: Array<EvalSystem> = []
    for (const [system, set] of [["EnMed-Unified", sets.unified], ["EnMed-MCQA", sets.mcqa], ["EnMed-ExtQA", sets.extqa], ["EnMed-AbsQA", sets.absqa]] as const) {
      adapters.push({ system, model: yield* steps.trainLora(dapt, system, set) })
    }
    data.log("4/6 the 9-cell grid for base, DAPT and the four adapters")
    const runId = Runs.newId()
    const shots = data.shots ?? [0, 3, 5]
    yield* Runs.start(runId, "demo", { shots, judge: data.judge.id, items: Object.fromEntries(data.tasks.map((t) => [t.task, t.test.length])) })
    // As `fleuve reeval` does (same code): the items are recorded, so a later reeval of this
    // warehouse sees them as unchanged and re-scores nothing that did not change.
    const scored = yield* scoreDatasets(runId, {
      systems: [{ system: "base", model: base }, { system: "EnMed-DAPT", model: dapt }, ...adapters],
      tasks: data.tasks,
      shots,
      prompts: data.prompts,
      judge: data.judge,
      source: data.source,
      log: (line) => data.log(`grid: ${line}`)
    }).pipe(
      Effect.tap((scored) => Runs.finish(runId, "succeeded", { ...scored.eval, retiredScores: scored.retiredScores, rejectedItems: scored.rejectedItems })),
      Runs.settle(runId)
    )
    const counts = scored.eval
    data.log(`grid: ${counts.scores} score rows landed (${counts.fromCache} predictions from the cache), ${counts.deadLetters + scored.rejectedItems} dead letters`)
    data.log("5/6 analyses against the base model")
    yield* runAnalyses({ reference: "base", onStep: (step) => data.log(`analyze: ${step}`) })
    data.log("6/6 report")
    return yield* steps.report
  })
