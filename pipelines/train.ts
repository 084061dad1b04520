/**
 * Training as `fleuve train` and the demo run it: one checkpoint folder in, a trained model (DAPT)
 * or adapter (LoRA) out, on the path the engine choice allows (fleuve's WGSL trainer or the tfjs
 * runtime), through a model handle so a lost GPU device is reopened and training resumes from the
 * last checkpoint. Orchestration only: the loops live in model/.
 */
import {
  type BackendName,
  defaultTrainOptions,
  describeBackend,
  describeTrainingPath,
  type LoadedModel,
  type LoraConfig,
  ModelHandle,
  packedTextSequences,
  promptAnswerSequence,
  type RecoveryOptions,
  saveMergedModelDir,
  saveModelDir,
  type ScoringEngineName,
  selectBackend,
  type StepReport,
  type TextTokenizer,
  train,
  type TrainingMode,
  type TrainingSequence,
  trainingPathFor,
  trainOnEngine,
  type TrainOptions
} from "../model/index.ts"
import { maxRecordBytes, tooLongReason } from "../operators/readers/limits.ts"
import { firstInvalidByte, readLines } from "../operators/readers/lines.ts"

export type { LoraConfig, ProjectionName, StepReport } from "../model/index.ts"
export { projectionNames } from "../model/index.ts"

/** The optimiser settings a run sets; the rest are defaultTrainOptions'. */
export type TrainingSettings = Partial<Omit<TrainOptions, "totalSteps" | "outDir">> & { readonly weightDecay?: number }

export interface TrainingRun {
  /** Full-parameter training (DAPT, pre-training) or a fresh LoRA adapter. */
  readonly lora?: LoraConfig
  /** The checkpoint folder training starts from. */
  readonly from: string
  /** Output folder: checkpoint-NNNNNN/ and final/; an existing checkpoint is resumed. */
  readonly to: string
  /** The training sequences, from the loaded model (its tokenizer). */
  readonly sequences: (loaded: LoadedModel) => Array<TrainingSequence> | Promise<Array<TrainingSequence>>
  /** Optimizer steps (0: none — a LoRA stage then saves its untrained adapter), or passes over the data. */
  readonly steps: number | { readonly epochs: number }
  readonly settings: TrainingSettings
  /** Seed of the LoRA initialisation (and, through settings.seed, the data order and dropout). */
  readonly seed: number
  /** The tensor backend to select first (said in the log); none: the one already selected. */
  readonly backend?: BackendName
  /** auto: fleuve's WGSL trainer where it can run, else the tfjs runtime. */
  readonly engine?: ScoringEngineName
  /**
   * QLoRA: the frozen base quantised to NF4 as it is uploaded to the GPU (the model folder stays
   * as it is). LoRA on fleuve's WGSL trainer only: any other path is an error (NF4OnlyOnWgsl).
   */
  readonly nf4?: boolean
  readonly recovery?: RecoveryOptions
  /** Lines for people: the path chosen and why, the data's size. */
  readonly log: (line: string) => void
  readonly onStep?: (r: StepReport) => void
  /** A first Ctrl-C: the step under way finishes and is checkpointed, then training returns (outcome.stopped). */
  readonly signal?: AbortSignal
}

export interface TrainingOutcome {
  readonly losses: ReadonlyArray<number>
  readonly resumedFrom: string | undefined
  readonly totalSteps: number
  readonly sequences: number
  /** Training returned before its last step because `signal` was aborted (a checkpoint holds where it got). */
  readonly stopped: boolean
  /** The handle the model was trained through: with LoRA, the backbone with its trained pairs attached. */
  readonly handle: ModelHandle
}

/** An NF4 (QLoRA) base asked for where the WGSL trainer does not run (full training, --engine tfjs, no tensor cores). */
export class NF4OnlyOnWgsl extends Error {}

/** Runs one training stage; rejects with a message naming what was wrong (no data, a bad line). */
export const runTraining = async (run: TrainingRun): Promise<TrainingOutcome> => {
  // before the model loads: these need no GPU to be wrong
  if (run.nf4 && !run.lora) throw new NF4OnlyOnWgsl("NF4 (QLoRA) needs LoRA: a full-parameter run trains the base itself")
  if (run.nf4 && run.engine === "tfjs") throw new NF4OnlyOnWgsl("NF4 (QLoRA) bases train on fleuve's WGSL trainer only: --engine tfjs cannot take --nf4 (use --engine wgsl or auto)")
  if (run.backend) run.log(describeBackend(await selectBackend(run.backend, "training")))
  const handle = ModelHandle.load(
    { dir: run.from, ...(run.lora ? { freshLora: { config: run.lora, seed: run.seed } } : { trainable: true }) },
    run.recovery
  )
  const data = await run.sequences(handle.current)
  if (data.length === 0) throw new Error(`no training sequence`)
  const { weightDecay, ...settings } = run.settings
  const adamw = weightDecay === undefined ? (settings.adamw ?? defaultTrainOptions.adamw) : { ...(settings.adamw ?? defaultTrainOptions.adamw), weightDecay }
  const options: TrainOptions = { ...defaultTrainOptions, ...settings, adamw, totalSteps: 0, outDir: run.to, ...(run.signal ? { signal: run.signal } : {}) }
  const perStep = options.microBatch * options.gradAccumulation
  const totalSteps = typeof run.steps === "number" ? run.steps : Math.max(1, Math.round((run.steps.epochs * data.length) / perStep))
  let told = false
  const { losses, resumedFrom } = await handle.run(`${run.lora ? "LoRA" : "full"} training`, (loaded) => {
    const mode: TrainingMode = run.lora ? { kind: "lora", lora: run.lora, baseModel: run.from } : { kind: "full", save: (dir) => saveModelDir(loaded, dir) }
    const { path, gpu } = trainingPathFor(run.engine ?? "auto", loaded.model, mode)
    if (run.nf4 && !(path._tag === "Wgsl" && gpu)) throw new NF4OnlyOnWgsl(`NF4 (QLoRA) bases train on fleuve's WGSL trainer only, which cannot run here: ${path._tag === "Tfjs" ? path.reason : "no GPU"}`)
    if (!told) run.log(`${describeTrainingPath(path, run.nf4 ? "nf4" : "f16", mode.kind)}; ${data.length} sequences, ${totalSteps} steps of ${perStep} sequences`)
    told = true
    return path._tag === "Wgsl" && gpu
      ? trainOnEngine(loaded.model, mode, data, { ...options, totalSteps }, run.onStep, { gpu, onNote: run.log, ...(run.nf4 ? { baseFormat: "nf4" as const } : {}) })
      : train(loaded.model, mode, data, { ...options, totalSteps }, run.onStep)
  })
  return { losses, resumedFrom, totalSteps, sequences: data.length, stopped: losses.length < totalSteps, handle }
}

/**
 * Reads a training file into sequences: .txt (one document a line, packed), or JSONL of {text}
 * (packed, DAPT) or {prompt, answer} (only the answer is a target). Streamed under the maximum
 * record size (`--max-record-bytes`, FLEUVE_MAX_RECORD_BYTES): a bad line — too long, invalid
 * UTF-8, not JSON, a wrong field — is an error naming its file and line.
 */
export const readTrainingFile = async (file: string, tokenizer: TextTokenizer, seqLen: number, maxBytes: number = maxRecordBytes()): Promise<Array<TrainingSequence>> => {
  const texts: Array<string> = []
  const qa: Array<TrainingSequence> = []
  const plain = file.endsWith(".txt")
  for await (const l of readLines(file, { maxLineBytes: maxBytes })) {
    const at = `${file}:${l.line}`
    if (l.tooLong !== undefined) throw new Error(`${at}: ${tooLongReason(l.tooLong, maxBytes)}`)
    if (l.text === undefined) throw new Error(`${at}: invalid UTF-8 at byte ${firstInvalidByte(l.bytes)}`)
    const line = l.text
    if (line.trim() === "") continue
    if (plain) {
      texts.push(line)
      continue
    }
    let o: Record<string, unknown>
    try {
      o = JSON.parse(line)
    } catch (e) {
      throw new Error(`${at}: not JSON (${e instanceof Error ? e.message : String(e)})`)
    }
    if (typeof o.text === "string") texts.push(o.text)
    else if (typeof o.prompt === "string" && typeof o.answer === "string") {
      try {
        qa.push(promptAnswerSequence(tokenizer, o.prompt, o.answer, seqLen))
      } catch (e) {
        throw new Error(`${at}: field 'answer': ${e instanceof Error ? e.message : String(e)}`)
      }
    } else throw new Error(`${at}: expected field 'text' or fields 'prompt' and 'answer' (strings)`)
  }
  return [...packedTextSequences(tokenizer, texts, seqLen), ...qa]
}

export interface MergeRun {
  /** The checkpoint the adapter was trained on. */
  readonly from: string
  /** The PEFT adapter folder (adapter_config.json + adapter_model.safetensors). */
  readonly adapter: string
  /** Output folder: a plain checkpoint (config.json, model.safetensors, tokenizer). */
  readonly to: string
  readonly dtype?: "F32" | "BF16"
  readonly backend?: BackendName
  readonly log: (line: string) => void
}

/**
 * Merges a LoRA adapter into its base and saves the result as a checkpoint folder: how a stage
 * trained by LoRA (DAPT on the WGSL trainer) becomes the base of the next stages.
 */
export const mergeAdapter = async (run: MergeRun): Promise<{ readonly merged: number }> => {
  if (run.backend) run.log(describeBackend(await selectBackend(run.backend, "inference")))
  const handle = ModelHandle.load({ dir: run.from, adapter: run.adapter })
  const out = await saveMergedModelDir(handle.current, run.to, { dtype: run.dtype ?? "F32" }).finally(() => handle.dispose())
  run.log(`merged ${out.merged} LoRA pairs of ${run.adapter} into ${run.from}: ${run.to}`)
  return out
}
