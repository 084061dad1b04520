import { Effect } from "effect"
import { Command, Flag } from "effect/cli"
import { readFileSync } from "node:fs"
import { describeBackend, selectBackend, type BackendName } from "../../gpu/backend.ts"
import { attachLora, defaultLoraConfig, type LoraConfig } from "../../gpu/lora.ts"
import { loadModelDir, saveModelDir } from "../../gpu/qwen3/checkpoint.ts"
import { attentionModules, mlpModules, type ProjectionName } from "../../gpu/qwen3/model.ts"
import { packedTextSequences, promptAnswerSequence } from "../../gpu/train/datasets.ts"
import { defaultTrainOptions, type StepReport, train, type TrainingSequence } from "../../gpu/train/trainer.ts"
import type { TextTokenizer } from "../../gpu/tokenizer/tokenizer.ts"
import { reportFailure } from "../common.ts"
import { backendFlag, modelFlag } from "../model-flags.ts"

const common = {
  model: modelFlag,
  backend: backendFlag,
  data: Flag.String("data").pipe(Flag.withDescription(
    "Training data: .txt (one document per line), or JSONL with {text} (packed, DAPT) or {prompt, answer} (only the answer is a target)"
  )),
  out: Flag.String("out").pipe(Flag.withDescription("Output folder: checkpoint-NNNNNN/ every --checkpoint-every steps, final/ at the end; an existing checkpoint is resumed")),
  seqLen: Flag.Int("seq-len").pipe(Flag.withDescription("Tokens per training sequence"), Flag.withDefault(512)),
  steps: Flag.Int("steps").pipe(Flag.withDescription("Optimizer steps (0: one epoch)"), Flag.withDefault(0)),
  microBatch: Flag.Int("micro-batch").pipe(Flag.withDescription("Sequences per forward/backward pass"), Flag.withDefault(1)),
  gradAccum: Flag.Int("grad-accum").pipe(Flag.withDescription("Micro-batches per optimizer step (effective batch = micro-batch x grad-accum)"), Flag.withDefault(16)),
  lr: Flag.Finite("lr").pipe(Flag.withDescription("Peak learning rate (cosine schedule, linear warmup)"), Flag.withDefault(2e-4)),
  warmupRatio: Flag.Finite("warmup-ratio").pipe(Flag.withDescription("Share of steps spent warming up"), Flag.withDefault(0.03)),
  weightDecay: Flag.Finite("weight-decay").pipe(Flag.withDescription("AdamW decoupled weight decay"), Flag.withDefault(0.01)),
  maxGradNorm: Flag.Finite("max-grad-norm").pipe(Flag.withDescription("Clip gradients to this global L2 norm"), Flag.withDefault(1)),
  checkpointEvery: Flag.Int("checkpoint-every").pipe(Flag.withDescription("Save a resumable checkpoint every N steps (0: only at the end)"), Flag.withDefault(0)),
  seed: Flag.Int("seed").pipe(Flag.withDescription("Seed of the data order, LoRA init and dropout"), Flag.withDefault(42))
}

type Common = { readonly [K in keyof typeof common]: (typeof common)[K] extends Flag.Flag<infer A> ? A : never }

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

const run = (kind: "dapt" | "lora", a: Common, lora?: LoraConfig) =>
  Effect.tryPromise({
    try: async () => {
      const choice = await selectBackend(a.backend as BackendName, "training")
      process.stderr.write(`fleuve: ${describeBackend(choice)}\n`)
      const loaded = loadModelDir(a.model, { trainable: kind === "dapt" })
      const data = readSequences(a.data, loaded.tokenizer, a.seqLen)
      if (data.length === 0) throw new Error(`${a.data}: no training sequence of ${a.seqLen} tokens`)
      const perStep = a.microBatch * a.gradAccum
      const totalSteps = a.steps > 0 ? a.steps : Math.max(1, Math.floor(data.length / perStep))
      if (lora) attachLora(loaded.model, lora, a.seed)
      process.stderr.write(`fleuve: ${kind} on ${data.length} sequences of ${a.seqLen} tokens, ${totalSteps} steps of ${perStep} sequences\n`)
      const { losses, resumedFrom } = await train(
        loaded.model,
        lora ? { kind: "lora", lora, baseModel: a.model } : { kind: "full", save: (dir) => saveModelDir(loaded, dir) },
        data,
        {
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
        },
        progress
      )
      if (resumedFrom) process.stderr.write(`fleuve: resumed from ${resumedFrom}\n`)
      process.stdout.write(`${JSON.stringify({ kind, steps: losses.length, final_loss: losses[losses.length - 1], output: `${a.out}/final` })}\n`)
    },
    catch: (e) => ({ message: e instanceof Error ? e.message : String(e) })
  }).pipe(Effect.catch(reportFailure))

const dapt = Command.make("dapt", common, (a) => run("dapt", a)).pipe(
  Command.withDescription("Domain-adaptive pre-training: full fine-tuning with the causal-LM loss on packed sequences; saves a Hugging Face checkpoint"),
  Command.withExamples([{ command: "fleuve train dapt --model ./Qwen3-0.6B --data corpus.jsonl --out ./dapt --seq-len 1024 --checkpoint-every 100", description: "DAPT on a JSONL corpus of {text}" }])
)

const targetNames = [...attentionModules, ...mlpModules] as ReadonlyArray<string>

const lora = Command.make(
  "lora",
  {
    ...common,
    r: Flag.Int("r").pipe(Flag.withDescription("LoRA rank"), Flag.withDefault(defaultLoraConfig.r)),
    alpha: Flag.Finite("alpha").pipe(Flag.withDescription("LoRA alpha (scale = alpha / r)"), Flag.withDefault(defaultLoraConfig.alpha)),
    dropout: Flag.Finite("dropout").pipe(Flag.withDescription("Dropout on the LoRA input"), Flag.withDefault(defaultLoraConfig.dropout)),
    targets: Flag.String("targets").pipe(Flag.withDescription("Comma-separated projections"), Flag.withDefault(targetNames.join(",")))
  },
  (a) => {
    const targets = a.targets.split(",").map((t) => t.trim()).filter((t) => t !== "")
    const bad = targets.filter((t) => !targetNames.includes(t))
    if (bad.length > 0) return reportFailure({ message: `--targets: ${bad.join(", ")} are not Qwen3 projections (${targetNames.join(", ")})` })
    return run("lora", a, { r: a.r, alpha: a.alpha, dropout: a.dropout, targetModules: targets as Array<ProjectionName> })
  }
).pipe(
  Command.withDescription("LoRA fine-tuning as PEFT does it (y = Wx + alpha/r * B A dropout(x)); saves adapter_model.safetensors + adapter_config.json that PEFT loads"),
  Command.withExamples([{ command: "fleuve train lora --model ./Qwen3-0.6B --data qa.jsonl --out ./adapter --seq-len 512 --checkpoint-every 50", description: "LoRA on {prompt, answer} records, r=16, alpha=32" }])
)

export const trainCommand = Command.make("train").pipe(
  Command.withDescription("Train a Qwen3 checkpoint: DAPT (full fine-tuning) or LoRA; AdamW, cosine schedule with warmup, gradient accumulation, clipping, exact resume"),
  Command.withSubcommands([dapt, lora])
)
