/**
 * The model steps of a study: the base (a checkpoint folder, or a model initialised here and
 * pre-trained on general text), and each training stage
 * (full-parameter or LoRA) through `runTraining`, the path `fleuve train` takes. Training
 * checkpoints into the step's folder, so an interrupted stage (Ctrl-C, SIGKILL) resumes exactly
 * where its last checkpoint was at the next run.
 */
import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { promptAnswerSequence, type TrainingSequence, writeRandomCheckpoint } from "../../../model/index.ts"
import { trainingExamples } from "../../../operators/qa/prompts/training-examples.ts"
import { readArrowShard } from "../../../operators/writers/arrow-shards.ts"
import { mergeAdapter, readTrainingFile, runTraining, type TrainingRun } from "../../train.ts"
import type { PlannedStep, ResolvedTraining } from "../plan.ts"
import { outputOf, type StepEnv, type StepSummary, type StudyData } from "./context.ts"
import { readdirSync } from "node:fs"

/** A training stage's optimiser settings as runTraining takes them. */
const trainingSettings = (t: ResolvedTraining, checkpointEvery: number | undefined): TrainingRun["settings"] => ({
  microBatch: t.microBatch,
  gradAccumulation: t.gradAccumulation,
  peakLr: t.learningRate,
  warmupRatio: t.warmupRatio,
  maxGradNorm: t.maxGradNorm,
  ...(t.weightDecay !== undefined ? { weightDecay: t.weightDecay } : {}),
  seed: t.seed,
  // By default about ten checkpoints a run: what an interruption can lose is a tenth of the stage at most.
  // (How often is not part of the step's key: it changes no weight.)
  checkpointEvery: checkpointEvery ?? (t.steps !== undefined ? Math.max(1, Math.ceil(t.steps / 10)) : 50)
})

const fmt = (x: number | undefined) => (x === undefined ? "–" : x.toFixed(3))

/** Runs one training and sums it up: losses, tokens/s, where it resumed from. */
const trainInto = async (label: string, run: Omit<TrainingRun, "log" | "onStep" | "signal">, env: StepEnv): Promise<StepSummary & { readonly stopped: boolean }> => {
  const started = performance.now()
  const outcome = await runTraining({ ...run, log: (line) => env.log(`${label}: ${line}`), onStep: env.onTrainingStep(label), signal: env.signal })
  outcome.handle.dispose()
  const seconds = (performance.now() - started) / 1000
  const { losses } = outcome
  const tokens = (losses.length - (outcome.resumedFrom ? 0 : 0)) * (run.settings.microBatch ?? 1) * (run.settings.gradAccumulation ?? 1)
  return {
    detail: losses.length === 0 ? "0 steps: nothing trained" : `loss ${fmt(losses[0])} → ${fmt(losses[losses.length - 1])} over ${losses.length} steps${outcome.resumedFrom ? ` (resumed from ${outcome.resumedFrom})` : ""}`,
    steps: outcome.totalSteps,
    losses,
    sequences: outcome.sequences,
    sequencesPerSecond: seconds > 0 ? tokens / seconds : undefined,
    resumedFrom: outcome.resumedFrom,
    stopped: outcome.stopped
  }
}

/** The base: nothing to do for a checkpoint folder; else initialise from the seed and pre-train. */
export const runBase = async (step: PlannedStep, env: StepEnv): Promise<StepSummary & { readonly stopped?: boolean }> => {
  const s = step.spec
  if (s.kind !== "base") throw new Error(`${step.id} is not a base step`)
  if ("checkpoint" in s) return { detail: `the checkpoint ${s.checkpoint}` }
  const init = join(step.dir, "init")
  rmSync(init, { recursive: true, force: true })
  writeRandomCheckpoint(init, { shape: s.scratch.shape, tokenizerDir: s.tokenizer, seed: s.scratch.seed ?? 42 })
  const pre = s.pretrain
  if (!pre || pre.steps === 0) return { detail: `initialised with seed ${s.scratch.seed ?? 42}, not pre-trained` }
  const data = (pre.data as { file: string }).file
  return trainInto("base", {
    from: init,
    to: step.dir,
    sequences: (m) => readTrainingFile(data, m.tokenizer, pre.maxTokens, env.maxRecordBytes),
    steps: pre.steps ?? { epochs: pre.epochs ?? 1 },
    settings: trainingSettings(pre, s.scratch.pretrain?.checkpointEvery),
    seed: pre.seed
  }, env)
}

/** The corpus step's packed sequences of exactly `length` tokens (the packer's last one may be short). */
const corpusSequences = (shards: string, length: number): Array<TrainingSequence> =>
  readdirSync(shards).filter((f) => f.endsWith(".arrow")).sort().flatMap((f) => readArrowShard(join(shards, f))).filter((s) => s.ids.length === length).map((s) => ({ ids: s.ids }))

export const runTrainingStage = async (step: PlannedStep, env: StepEnv, pools: StudyData | undefined): Promise<StepSummary & { readonly stopped?: boolean }> => {
  const s = step.spec
  if (s.kind !== "train") throw new Error(`${step.id} is not a training step`)
  const t = s.training
  const from = env.outputs.get(step.deps[0]!)?.model
  if (!from) throw new Error(`${step.id}: the model it starts from is not built`)
  if (t.steps === 0 && !t.lora) return { detail: `0 steps: the output is ${s.from} as it is` }
  mkdirSync(step.dir, { recursive: true })
  let shortened = 0
  const sequences = async (loaded: Parameters<TrainingRun["sequences"]>[0]): Promise<Array<TrainingSequence>> => {
    if (t.data === "corpus") {
      const shards = env.outputs.get("corpus")?.shards
      if (!shards) throw new Error(`${step.id}: the corpus step has not run`)
      const data = corpusSequences(shards, t.maxTokens)
      if (data.length === 0) throw new Error(`${step.id}: the corpus has no packed sequence of ${t.maxTokens} tokens`)
      return data
    }
    if ("file" in t.data) return readTrainingFile(t.data.file, loaded.tokenizer, t.maxTokens, env.maxRecordBytes)
    if (!pools) throw new Error(`${step.id}: the datasets were not loaded`)
    const { tasks, prompts } = pools
    const examples = trainingExamples(prompts, tasks, t.data.tasks)
    if (examples.length === 0) throw new Error(`${step.id}: the datasets have no training pool for ${t.data.tasks.join(", ")}`)
    const data = examples.map((ex) => {
      try {
        return promptAnswerSequence(loaded.tokenizer, ex.prompt, ex.completion, t.maxTokens)
      } catch {
        // An answer longer than the sequence cannot be a whole target: its beginning is kept, and counted.
        shortened++
        return promptAnswerSequence(loaded.tokenizer, ex.prompt, ex.completion.slice(0, Math.floor(t.maxTokens / 4)), t.maxTokens)
      }
    })
    env.log(`${s.stage}: ${data.length} examples of ${t.data.tasks.join("+")}${shortened ? ` (${shortened} answers over ${t.maxTokens} tokens shortened)` : ""}`)
    return data
  }
  const summary = await trainInto(s.stage, {
    ...(t.lora ? { lora: { r: t.lora.r, alpha: t.lora.alpha, dropout: t.lora.dropout, targetModules: t.lora.targetModules } } : {}),
    from,
    to: step.dir,
    sequences,
    steps: t.steps ?? { epochs: t.epochs ?? 1 },
    settings: trainingSettings(t, env.plan.study.spec.training?.[s.stage]?.checkpointEvery),
    seed: t.seed,
    ...(t.nf4 ? { nf4: true } : {}),
    ...(s.backend ? { backend: s.backend as TrainingRun["backend"] & string } : {}),
    ...(s.engine ? { engine: s.engine as TrainingRun["engine"] & string } : {})
  }, env)
  if (t.merge && !summary.stopped) {
    const original = from
    const merged = join(step.dir, "merged")
    rmSync(merged, { recursive: true, force: true })
    const r = await mergeAdapter({ from: original, adapter: join(step.dir, "final"), to: merged, log: (line) => env.log(`${s.stage}: ${line}`) })
    return { ...summary, detail: `${summary.detail}; ${r.merged} LoRA pairs merged into ${s.from}`, output: outputOf(step, env.outputs) }
  }
  return { ...summary, output: outputOf(step, env.outputs) }
}
