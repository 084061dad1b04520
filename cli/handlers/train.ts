import { Effect } from "effect"
import { type LoraConfig, mergeAdapter, type ProjectionName, projectionNames, readTrainingFile, runTraining, type StepReport } from "../../pipelines/train.ts"
import type { DaptArgs, LoraArgs, MergeArgs } from "../flags/train.ts"
import { reportFailure } from "../common.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"

const progress = (r: StepReport) => {
  const eta = r.etaSeconds < 60 ? `${Math.ceil(r.etaSeconds)}s` : `${Math.floor(r.etaSeconds / 60)}m${String(Math.ceil(r.etaSeconds % 60)).padStart(2, "0")}s`
  process.stderr.write(`step ${r.step}/${r.totalSteps}  loss ${r.loss.toFixed(4)}  lr ${r.lr.toExponential(2)}  grad-norm ${r.gradNorm.toFixed(3)}  ${r.tokensPerSecond.toFixed(0)} tokens/s  eta ${eta}\n`)
}

const run = (kind: "dapt" | "lora", a: DaptArgs, lora?: LoraConfig, nf4 = false) =>
  Effect.tryPromise({
    try: async () => {
      const outcome = await runTraining({
        ...(lora ? { lora } : {}),
        from: a.model,
        to: a.out,
        sequences: async (loaded) => {
          const data = await readTrainingFile(a.data, loaded.tokenizer, a.seqLen, maxRecordBytesOf(a.maxRecordBytes))
          if (data.length === 0) throw new Error(`${a.data}: no training sequence of ${a.seqLen} tokens`)
          return data
        },
        steps: a.steps > 0 ? a.steps : { epochs: 1 },
        settings: {
          microBatch: a.microBatch,
          gradAccumulation: a.gradAccum,
          peakLr: a.lr,
          warmupRatio: a.warmupRatio,
          maxGradNorm: a.maxGradNorm,
          weightDecay: a.weightDecay,
          seed: a.seed,
          checkpointEvery: a.checkpointEvery
        },
        seed: a.seed,
        backend: a.backend,
        engine: a.engine,
        ...(nf4 ? { nf4 } : {}),
        log: (line) => process.stderr.write(`fleuve: ${line}\n`),
        onStep: progress
      })
      if (outcome.resumedFrom) process.stderr.write(`fleuve: resumed from ${outcome.resumedFrom}\n`)
      const { losses } = outcome
      process.stdout.write(`${JSON.stringify({ kind, steps: losses.length, final_loss: losses[losses.length - 1], output: `${a.out}/final` })}\n`)
    },
    catch: (e) => ({ message: e instanceof Error ? e.message : String(e) })
  }).pipe(Effect.catch(reportFailure))

export const daptHandler = (a: DaptArgs) => run("dapt", a)

export const loraHandler = (a: LoraArgs) => {
  const targets = a.targets.split(",").map((t) => t.trim()).filter((t) => t !== "")
  const bad = targets.filter((t) => !(projectionNames as ReadonlyArray<string>).includes(t))
  if (bad.length > 0) return reportFailure({ message: `--targets: ${bad.join(", ")} are not Qwen3 projections (${projectionNames.join(", ")})` })
  if (!(a.dropout >= 0 && a.dropout < 1)) return reportFailure({ message: `--dropout ${a.dropout}: a probability in [0, 1) (PEFT's lora_dropout; 0 turns it off)` })
  return run("lora", a, { r: a.r, alpha: a.alpha, dropout: a.dropout, targetModules: targets as Array<ProjectionName> }, a.nf4)
}

export const mergeHandler = (a: MergeArgs) =>
  Effect.tryPromise({
    try: async () => {
      const { merged } = await mergeAdapter({ from: a.model, adapter: a.adapter, to: a.out, dtype: a.dtype === "bf16" ? "BF16" : "F32", backend: a.backend, log: (line) => process.stderr.write(`fleuve: ${line}\n`) })
      process.stdout.write(`${JSON.stringify({ kind: "merge", merged_pairs: merged, output: a.out })}\n`)
    },
    catch: (e) => ({ message: e instanceof Error ? e.message : String(e) })
  }).pipe(Effect.catch(reportFailure))
