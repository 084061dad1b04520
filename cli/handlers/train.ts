import { readFileSync } from "node:fs"
import { Effect } from "effect"
import { describeBackend, selectBackend, type BackendName } from "../../model/index.ts"
import type { LoraConfig } from "../../model/index.ts"
import { ModelHandle } from "../../model/index.ts"
import { saveModelDir } from "../../model/index.ts"
import { type ProjectionName, projectionNames } from "../../model/index.ts"
import { packedTextSequences, promptAnswerSequence } from "../../model/index.ts"
import { describeTrainingPath, trainingPathFor, trainOnEngine } from "../../model/index.ts"
import { defaultTrainOptions, type StepReport, train, type TrainingMode, type TrainingSequence, type TrainOptions } from "../../model/index.ts"
import type { TextTokenizer } from "../../model/index.ts"
import type { DaptArgs, LoraArgs } from "../flags/train.ts"
import { reportFailure } from "../common.ts"

/** Reads the training file into sequences; a bad line names its file and line number. */
const readSequences = (file: string, tokenizer: TextTokenizer, seqLen: number): Array<TrainingSequence> => {
  const lines = readFileSync(file, "utf8").split("\n")
  if (file.endsWith(".txt")) return packedTextSequences(tokenizer, lines.filter((l) => l.trim() !== ""), seqLen)
  const texts: Array<string> = []
  const qa: Array<TrainingSequence> = []
  lines.forEach((line, i) => {
    if (line.trim() === "") return
    let o: Record<string, unknown>
    try {
      o = JSON.parse(line)
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not JSON (${e instanceof Error ? e.message : String(e)})`)
    }
    if (typeof o.text === "string") texts.push(o.text)
    else if (typeof o.prompt === "string" && typeof o.answer === "string") {
      try {
        qa.push(promptAnswerSequence(tokenizer, o.prompt, o.answer, seqLen))
      } catch (e) {
        throw new Error(`${file}:${i + 1}: field 'answer': ${e instanceof Error ? e.message : String(e)}`)
      }
    } else throw new Error(`${file}:${i + 1}: expected field 'text' or fields 'prompt' and 'answer' (strings)`)
  })
  return [...packedTextSequences(tokenizer, texts, seqLen), ...qa]
}

const progress = (r: StepReport) => {
  const eta = r.etaSeconds < 60 ? `${Math.ceil(r.etaSeconds)}s` : `${Math.floor(r.etaSeconds / 60)}m${String(Math.ceil(r.etaSeconds % 60)).padStart(2, "0")}s`
  process.stderr.write(`step ${r.step}/${r.totalSteps}  loss ${r.loss.toFixed(4)}  lr ${r.lr.toExponential(2)}  grad-norm ${r.gradNorm.toFixed(3)}  ${r.tokensPerSecond.toFixed(0)} tokens/s  eta ${eta}\n`)
}

const run = (kind: "dapt" | "lora", a: DaptArgs, lora?: LoraConfig) =>
  Effect.tryPromise({
    try: async () => {
      const choice = await selectBackend(a.backend as BackendName, "training")
      process.stderr.write(`fleuve: ${describeBackend(choice)}\n`)
      // A lost GPU device is reopened and the model loaded again; train() then resumes from the
      // last checkpoint in --out (from the start without --checkpoint-every).
      const handle = ModelHandle.load({ dir: a.model, ...(kind === "dapt" ? { trainable: true } : {}), ...(lora ? { freshLora: { config: lora, seed: a.seed } } : {}) })
      const data = readSequences(a.data, handle.current.tokenizer, a.seqLen)
      if (data.length === 0) throw new Error(`${a.data}: no training sequence of ${a.seqLen} tokens`)
      const perStep = a.microBatch * a.gradAccum
      const totalSteps = a.steps > 0 ? a.steps : Math.max(1, Math.floor(data.length / perStep))
      const options: TrainOptions = {
        ...defaultTrainOptions,
        totalSteps,
        microBatch: a.microBatch,
        gradAccumulation: a.gradAccum,
        peakLr: a.lr,
        warmupRatio: a.warmupRatio,
        maxGradNorm: a.maxGradNorm,
        adamw: { ...defaultTrainOptions.adamw, weightDecay: a.weightDecay },
        seed: a.seed,
        checkpointEvery: a.checkpointEvery,
        outDir: a.out
      }
      let told = false
      const { losses, resumedFrom } = await handle.run(`${kind} training`, (loaded) => {
        const mode: TrainingMode = lora ? { kind: "lora", lora, baseModel: a.model } : { kind: "full", save: (dir) => saveModelDir(loaded, dir) }
        const { path, gpu } = trainingPathFor(a.engine, loaded.model, mode)
        process.stderr.write(`fleuve: ${describeTrainingPath(path)}\n`)
        if (!told) process.stderr.write(`fleuve: ${kind} on ${data.length} sequences of ${a.seqLen} tokens, ${totalSteps} steps of ${perStep} sequences\n`)
        told = true
        return path._tag === "Wgsl" && gpu
          ? trainOnEngine(loaded.model, mode, data, options, progress, { gpu, onNote: (line) => process.stderr.write(`fleuve: ${line}\n`) })
          : train(loaded.model, mode, data, options, progress)
      })
      if (resumedFrom) process.stderr.write(`fleuve: resumed from ${resumedFrom}\n`)
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
  return run("lora", a, { r: a.r, alpha: a.alpha, dropout: a.dropout, targetModules: targets as Array<ProjectionName> })
}
