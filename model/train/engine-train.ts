import { isOutOfMemory } from "../wgsl/kernels/buffers.ts"
import * as tf from "@tensorflow/tfjs-core"
import { join } from "node:path"
import type { ScoringEngineName } from "../tfjs/backend-names.ts"
import { fusedCpuActive, webgpuEngineGpu, webgpuEngineUnavailable } from "../tfjs/backend.ts"
import { hostWeights, takeOnce } from "../wgsl/host-weights.ts"
import { checkEngineShape, engineShape, EngineShapeError, uploadQwen3Weights, weightBuffers } from "../wgsl/qwen3-engine.ts"
import { type MicroBatch, Qwen3LoraTrainer, type OptimizerState, type StepResult } from "../wgsl/qwen3-trainer.ts"
import { fullParameterShapes, fullTrainerBytes, Qwen3FullTrainer, type FullOptimizerState } from "../wgsl/qwen3-full-trainer.ts"
import { probeFreeGpuMemory } from "../wgsl/kernels/free-memory.ts"
import type { Gpu } from "../wgsl/kernels/device.ts"
import type { WeightFormat } from "../wgsl/kernels/weight-format.ts"
import type { Qwen3Config } from "../qwen3/config.ts"
import type { Qwen3Model } from "../tfjs/qwen3-model.ts"
import type { HostTensor } from "../formats/safetensors.ts"
import { cosineWithWarmup } from "./schedule.ts"
import {
  type Checkpoint, checkpointName, latestCheckpoint, microBatchSequences, readCheckpoint, sequenceWidth, type StepReport, stepReport, trainableVariables,
  type TrainerState, type TrainingMode, type TrainingSequence, type TrainOptions, writeCheckpoint
} from "./trainer.ts"

/**
 * model/train/trainer.ts' train() for LoRA, on fleuve's WGSL trainer (model/wgsl/qwen3-trainer.ts):
 * the same options, data order, micro-batches and target masks, learning-rate schedule, clipping,
 * AdamW, progress reports and checkpoints (a run resumes on either path). The base is uploaded as
 * f16; sequences are padded to the trainer's shapes with positions that predict nothing.
 * LoRA dropout draws its masks from the same per-micro-batch seeds as train(), through the WGSL
 * kernels' hash (model/wgsl/kernels/dropout.ts) rather than tfjs' generator: with dropout > 0 the two
 * paths drop different elements (at the same rate), so their losses agree step by step only at
 * dropout 0.
 */

/** How `fleuve train` trains: auto (the WGSL trainer where it can run), wgsl (required), tfjs. */
export type TrainingEngineName = ScoringEngineName

/** --engine wgsl asked for the WGSL trainer, and it cannot run. */
export class TrainingEngineUnavailable extends Error {}

export type TrainingPath = { readonly _tag: "Wgsl" } | { readonly _tag: "Tfjs"; readonly reason: string }

/** What decides the path, gathered by trainingPathFor (a plain record: the choice itself is a pure function). */
export interface TrainingPathFacts {
  readonly mode: TrainingMode["kind"]
  /** why fleuve's kernels cannot use the tensor backend's device (undefined: they can) */
  readonly gpuUnavailable: string | undefined
  /** why the model's shape does not fit the trainer (undefined: it fits) */
  readonly shapeProblem: string | undefined
}

/**
 * The training path: the WGSL trainer for LoRA on a webgpu backend with tensor
 * cores and a shape the kernels take; the tfjs runtime otherwise, with the reason. "wgsl" makes
 * the WGSL trainer required (TrainingEngineUnavailable, saying why, where it cannot run).
 */
export const chooseTrainingPath = (wanted: TrainingEngineName, facts: TrainingPathFacts): TrainingPath => {
  if (wanted === "tfjs") return { _tag: "Tfjs", reason: "asked for (--engine tfjs)" }
  const reason = facts.gpuUnavailable ?? facts.shapeProblem
  if (reason === undefined) return { _tag: "Wgsl" }
  if (wanted === "wgsl") throw new TrainingEngineUnavailable(`the WGSL trainer was required (--engine wgsl) but cannot run: ${reason}`)
  return { _tag: "Tfjs", reason }
}

/** The stderr line naming the path. */
export const describeTrainingPath = (p: TrainingPath, base: WeightFormat = "f16", mode: TrainingMode["kind"] = "lora"): string =>
  p._tag === "Wgsl"
    ? mode === "full" ? "training: fleuve WGSL trainer (full parameters, embeddings included: f32 weights and AdamW, f16 compute copies, tensor cores)"
    : `training: fleuve WGSL trainer (${base === "nf4" ? "NF4 base (QLoRA)" : "f16 base"}, f32 LoRA and AdamW, tensor cores)`
  : fusedCpuActive() ? `training: tfjs runtime with fleuve's fused CPU forward/backward (backend cpu-fused; not the WGSL trainer: ${p.reason})`
  : `training: tfjs runtime (${p.reason})`

/** Why a model's shape does not fit the WGSL trainer on `gpu` (LoRA or full-parameter), or undefined. */
export const trainerShapeProblem = (config: Qwen3Config, gpu: Gpu | undefined, mode: TrainingMode["kind"] = "lora"): string | undefined => {
  const shape = engineShape(config)
  try {
    checkEngineShape(shape)
  } catch (e) {
    if (e instanceof EngineShapeError) return e.message
    throw e
  }
  if (gpu && shape.vocab * shape.hidden * 2 > gpu.maxStorageBufferBindingSize) return `an lm_head of ${shape.vocab} × ${shape.hidden} exceeds one storage binding (the trainer does not shard it)`
  if (gpu && mode === "full" && shape.vocab * shape.hidden * 4 > gpu.maxStorageBufferBindingSize) return `an f32 embedding of ${shape.vocab} × ${shape.hidden} exceeds one storage binding (full-parameter training does not shard it)`
  return undefined
}

/** The path for this process's backend (selectBackend first) and a model with its training mode. */
export const trainingPathFor = (wanted: TrainingEngineName, model: Qwen3Model, mode: TrainingMode): { readonly path: TrainingPath; readonly gpu: Gpu | undefined } => {
  const gpu = webgpuEngineGpu()
  const path = chooseTrainingPath(wanted, {
    mode: mode.kind,
    gpuUnavailable: gpu ? undefined : (webgpuEngineUnavailable() ?? "no WebGPU device with tensor cores"),
    shapeProblem: trainerShapeProblem(model.config, gpu, mode.kind)
  })
  return { path, gpu }
}

// ---- micro-batches in the trainer's shapes

const IGNORE = 0xffffffff
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))

/** Half the micro-batch, twice the accumulation (same sequences a step); undefined when it cannot halve. */
export const halveMicroBatch = (o: TrainOptions): TrainOptions | undefined =>
  o.microBatch % 2 === 0 ? { ...o, microBatch: o.microBatch / 2, gradAccumulation: o.gradAccumulation * 2 } : undefined

/**
 * The trainer's rows × seq for micro-batches of `microBatch` sequences of `width` tokens: seq a
 * multiple of 16 and rows × seq of 128 (its kernels' tiles), the fewest padded tokens (then the
 * shorter seq: attention grows with it). Extra rows and columns are padding that predicts nothing.
 */
export const engineLayout = (microBatch: number, width: number): { readonly rows: number; readonly seq: number } => {
  if (microBatch < 1 || width < 2) throw new Error(`micro-batch ${microBatch} of sequences of ${width} tokens: need ≥ 1 sequence of ≥ 2 tokens`)
  // seq a multiple of 128 always works with microBatch rows: the search stops there
  const widest = Math.ceil(width / 128) * 128
  let best = { rows: microBatch, seq: widest }
  for (let seq = Math.ceil(width / 16) * 16; seq < widest; seq += 16) {
    const step = 128 / gcd(seq, 128)
    const rows = Math.ceil(microBatch / step) * step
    if (rows * seq < best.rows * best.seq || (rows * seq === best.rows * best.seq && seq < best.seq)) best = { rows, seq }
  }
  return best
}

type EngineLayout = { readonly rows: number; readonly seq: number }

/** Both WGSL trainers' optimiser settings from train()'s options. */
const trainerSettings = (options: TrainOptions, lossScale: number | undefined) => ({
  learningRate: options.peakLr, weightDecay: options.adamw.weightDecay, beta1: options.adamw.beta1, beta2: options.adamw.beta2, eps: options.adamw.eps,
  maxGradNorm: options.maxGradNorm, meanOver: "micro-batches" as const, ...(lossScale !== undefined ? { lossScale } : {})
})

/**
 * A trainer at the micro-batch that fits: one that runs out of GPU memory is made again with half
 * the micro-batch and twice the accumulation — the same sequences a step, in the same order.
 */
const createFitting = async <T>(
  make: (layout: EngineLayout) => Promise<T>,
  options: TrainOptions,
  layout: EngineLayout,
  width: number,
  onNote?: (line: string) => void
): Promise<{ readonly trainer: T; readonly options: TrainOptions; readonly layout: EngineLayout }> => {
  for (let fitted = options, at = layout; ;) {
    try {
      return { trainer: await make(at), options: fitted, layout: at }
    } catch (e) {
      const halved = halveMicroBatch(fitted)
      if (!isOutOfMemory(e) || !halved) throw e
      onNote?.(`training: micro-batch ${fitted.microBatch} × ${at.seq} tokens does not fit the GPU; ${halved.microBatch} × ${halved.gradAccumulation} accumulation instead`)
      fitted = halved
      at = engineLayout(fitted.microBatch, width)
    }
  }
}


/**
 * One micro-batch as the trainer takes it: ids row-major in rows × seq, and at each position the
 * token it predicts — the next one where it counts as a target (its targetMask entry, when every
 * sequence of the micro-batch has a mask: causalLmLoss's rule) — else 0xFFFFFFFF: the last
 * position of a sequence, masked targets, padding.
 */
export const microBatchTensors = (sequences: ReadonlyArray<TrainingSequence>, layout: { readonly rows: number; readonly seq: number }): MicroBatch => {
  if (sequences.length > layout.rows) throw new Error(`${sequences.length} sequences for ${layout.rows} rows`)
  const ids = new Uint32Array(layout.rows * layout.seq)
  const targets = new Uint32Array(layout.rows * layout.seq).fill(IGNORE)
  const masked = sequences.every((s) => s.targetMask)
  sequences.forEach((s, r) => {
    if (s.ids.length > layout.seq) throw new Error(`a sequence of ${s.ids.length} tokens for rows of ${layout.seq}`)
    const at = r * layout.seq
    ids.set(s.ids, at)
    for (let j = 0; j + 1 < s.ids.length; j++) if (!masked || s.targetMask![j + 1]! !== 0) targets[at + j] = s.ids[j + 1]!
  })
  return { ids, targets }
}

// ---- checkpoints: the trainer's per-projection pairs under train()'s tensor names

type Pairs = ReadonlyMap<string, { readonly a: Float32Array; readonly b: Float32Array }>

/** Pairs by projection path → host tensors named `${prefix}${path}.lora_A|B` (trainableVariables' names), A [r, in], B [out, r]. */
export const pairsToHost = (pairs: Pairs, r: number, prefix = ""): Map<string, HostTensor> => {
  const out = new Map<string, HostTensor>()
  for (const [path, { a, b }] of pairs) {
    out.set(`${prefix}${path}.lora_A`, { shape: [r, a.length / r], data: a })
    out.set(`${prefix}${path}.lora_B`, { shape: [b.length / r, r], data: b })
  }
  return out
}

/** pairsToHost's inverse for `paths`; a missing tensor is an error naming it and `file`. */
export const hostToPairs = (tensors: ReadonlyMap<string, HostTensor>, paths: ReadonlyArray<string>, file: string, prefix = ""): Map<string, { a: Float32Array; b: Float32Array }> =>
  new Map(paths.map((path) => {
    const get = (which: "A" | "B") => {
      const t = tensors.get(`${prefix}${path}.lora_${which}`)
      if (!t) throw new Error(`${file} lacks '${prefix}${path}.lora_${which}'`)
      return Float32Array.from(t.data)
    }
    return [path, { a: get("A"), b: get("B") }] as const
  }))

/**
 * A checkpoint read back (readCheckpoint) as the WGSL trainer takes it: the pairs and, after at
 * least one step, the AdamW state (a tfjs checkpoint has no loss scale: `lossScale` is kept then).
 */
export const engineResumeState = (c: Checkpoint, paths: ReadonlyArray<string>, lossScale: number): { readonly pairs: Pairs; readonly optimizer: OptimizerState | undefined } => {
  const pairs = hostToPairs(c.trainable, paths, join(c.dir, "trainable.safetensors"))
  if (c.state.step === 0) return { pairs, optimizer: undefined }
  const file = join(c.dir, "optimizer.safetensors")
  return { pairs, optimizer: { step: c.state.step, lossScale: c.state.lossScale ?? lossScale, m: hostToPairs(c.optimizer, paths, file, "m."), v: hostToPairs(c.optimizer, paths, file, "v.") } }
}

/**
 * Writes the WGSL trainer's pairs and AdamW state as train() writes its checkpoints (the model's
 * LoRA variables must hold `pairs`: the PEFT adapter is saved from them).
 */
export const writeEngineCheckpoint = (
  dir: string,
  content: { readonly model: Qwen3Model; readonly mode: TrainingMode & { readonly kind: "lora" }; readonly pairs: Pairs; readonly optimizer: OptimizerState; readonly run: Omit<TrainerState, "lossScale">; readonly options: TrainOptions }
): Promise<void> => {
  const r = content.mode.lora.r
  return writeCheckpoint(dir, {
    model: content.model,
    mode: content.mode,
    trainable: pairsToHost(content.pairs, r),
    optimizer: new Map([...pairsToHost(content.optimizer.m, r, "m."), ...pairsToHost(content.optimizer.v, r, "v.")]),
    state: { ...content.run, lossScale: content.optimizer.lossScale },
    options: content.options
  })
}

/**
 * Trains the LoRA pairs attached to `model` (attachLora, or loadAdapter) as train() does, on the
 * WGSL trainer on `gpu` (webgpuEngineGpu(): tfjs' own device, so the base weights are read from
 * the model). Resumes from the latest checkpoint in options.outDir, whichever path wrote it. A step
 * whose f16 gradients overflow is retried at half the loss scale (so steps match train()'s).
 * Leaves the trained pairs in the model's variables.
 */
export const trainOnEngine = async (
  model: Qwen3Model,
  mode: TrainingMode,
  data: ReadonlyArray<TrainingSequence>,
  options: TrainOptions,
  onStep: (r: StepReport) => void = () => {},
  engine: {
    readonly gpu: Gpu
    readonly lossScale?: number
    readonly onNote?: (line: string) => void
    /**
     * How the frozen base is held on the GPU: f16 (default), or NF4 (QLoRA: quantised once at upload,
     * blocks of 64 with an absmax each as bitsandbytes; the matmuls dequantise inside the kernel).
     * The LoRA pairs, their gradients and AdamW stay f32 either way.
     */
    readonly baseFormat?: WeightFormat
  }
): Promise<{ losses: Array<number>; resumedFrom: string | undefined }> => {
  if (mode.kind === "full") {
    if ((engine.baseFormat ?? "f16") !== "f16") throw new TrainingEngineUnavailable("full-parameter training trains the base itself: it cannot be NF4")
    return trainFullOnEngine(model, mode, data, options, onStep, engine)
  }
  const shapeProblem = trainerShapeProblem(model.config, engine.gpu)
  if (shapeProblem) throw new TrainingEngineUnavailable(shapeProblem)
  const width = sequenceWidth(data)
  const vars = trainableVariables(model, mode)
  const paths = [...model.lora.keys()]
  const shape = engineShape(model.config)
  const weights = uploadQwen3Weights(engine.gpu, shape, engine.baseFormat ?? "f16", takeOnce(await hostWeights(model, { mergeLora: false })), model.config.tieWordEmbeddings)
  let trainer: Qwen3LoraTrainer | undefined
  try {
    const settings = trainerSettings(options, engine.lossScale)
    const made = await createFitting((l) => Qwen3LoraTrainer.create(engine.gpu, shape, weights, mode.lora, l.rows, l.seq, settings), options, engineLayout(options.microBatch, width), width, engine.onNote)
    trainer = made.trainer
    options = made.options
    const layout = made.layout
    const t = trainer
    const known = new Set((await t.readPairs()).keys())
    const stray = paths.filter((p) => !known.has(p))
    if (stray.length > 0 || known.size !== paths.length) throw new Error(`the model's LoRA pairs (${paths.length}) are not the config's targets (${known.size}): ${stray.slice(0, 3).join(", ")}`)
    // Start from the model's pairs (train() trains exactly those variables).
    const start = new Map<string, { a: Float32Array; b: Float32Array }>()
    for (const [path, pair] of model.lora) start.set(path, { a: (await pair.a.data()) as Float32Array, b: (await pair.b.data()) as Float32Array })
    t.writePairs(start)

    let losses: Array<number> = []
    let step = 0
    const resumeFrom = latestCheckpoint(options.outDir)
    if (resumeFrom) {
      const checkpoint = readCheckpoint(resumeFrom, data.length, options.seed)
      const resumed = engineResumeState(checkpoint, paths, (await t.readState()).lossScale)
      t.writePairs(resumed.pairs)
      if (resumed.optimizer) t.writeState(resumed.optimizer)
      step = checkpoint.state.step
      losses = [...checkpoint.state.losses]
    }
    /** Copies the trainer's pairs into the model's variables (checkpoints save the adapter from them). */
    const syncModel = async () => {
      const pairs = await t.readPairs()
      const set = (name: string, values: Float32Array) => {
        const v = vars.get(name)!
        const value = tf.tensor(values, v.shape)
        v.assign(value)
        value.dispose()
      }
      for (const [path, pair] of pairs) {
        set(`${path}.lora_A`, pair.a)
        set(`${path}.lora_B`, pair.b)
      }
      return pairs
    }
    const save = async (dir: string, at: { readonly step: number; readonly losses: ReadonlyArray<number> }) =>
      writeEngineCheckpoint(dir, { model, mode, pairs: await syncModel(), optimizer: await t.readState(), run: { ...at, dataSize: data.length, seed: options.seed }, options })
    losses = await runEngineSteps({ trainStep: (b, lr) => t.trainStep(b, lr), save, sync: async () => void (await syncModel()) }, { step, losses }, data, options, layout, width, onStep)
    return { losses, resumedFrom: resumeFrom }
  } finally {
    trainer?.dispose()
    for (const b of weightBuffers(weights)) b.destroy()
  }
}

/** What the step loop needs from a run on the WGSL trainer (LoRA or full-parameter). */
interface EngineRun {
  trainStep(batches: ReadonlyArray<MicroBatch>, lr: number): Promise<StepResult>
  /** a checkpoint of the run as it stands after `at.step` steps */
  save(dir: string, at: { readonly step: number; readonly losses: ReadonlyArray<number> }): Promise<void>
  /** leaves the trained weights in the model's variables (a run that stops before its last step) */
  sync(): Promise<void>
}

/**
 * train()'s loop on the WGSL trainer: the same data order, micro-batches, learning-rate schedule,
 * progress reports and checkpoints; a step whose f16 gradients overflow is retried at half the loss
 * scale (so steps match train()'s). Returns every step's loss, those resumed from included.
 */
const runEngineSteps = async (
  run: EngineRun,
  from: { readonly step: number; readonly losses: ReadonlyArray<number> },
  data: ReadonlyArray<TrainingSequence>,
  options: TrainOptions,
  layout: { readonly rows: number; readonly seq: number },
  width: number,
  onStep: (r: StepReport) => void
): Promise<Array<number>> => {
  let step = from.step
  const losses = [...from.losses]
  const started = performance.now()
  const startStep = step
  const last = Math.min(options.totalSteps, options.stopAfter ?? options.totalSteps)
  while (step < last) {
    const lr = cosineWithWarmup(step, options.totalSteps, options.peakLr, options.warmupRatio)
    // train()'s dropout seed for the micro-batch (the masks themselves are the WGSL kernels' own)
    const batches = Array.from({ length: options.gradAccumulation }, (_, micro) => ({
      ...microBatchTensors(microBatchSequences(data, options, step, micro), layout),
      dropoutSeed: options.seed * 7 + step * options.gradAccumulation + micro
    }))
    let result = await run.trainStep(batches, lr)
    for (let retries = 0; result.skipped; retries++) {
      if (retries >= 24) throw new Error(`step ${step + 1}: the gradients overflow f16 at every loss scale down to ${result.lossScale}`)
      result = await run.trainStep(batches, lr)
    }
    step += 1
    losses.push(result.loss)
    onStep(stepReport({ step, startStep, started, width, options }, { loss: result.loss, lr, gradNorm: result.gradNorm }))
    // A signal handler runs only when the event loop turns: a loop of resolved promises never lets it.
    if (options.signal) await new Promise((resolve) => setImmediate(resolve))
    const stopping = options.signal?.aborted === true
    if (options.checkpointEvery > 0 && step % options.checkpointEvery === 0) await run.save(join(options.outDir, checkpointName(step)), { step, losses })
    else if (stopping && step < options.totalSteps) await run.save(join(options.outDir, checkpointName(step)), { step, losses })
    if (stopping) break
  }
  if (step === options.totalSteps) await run.save(join(options.outDir, "final"), { step, losses })
  else await run.sync()
  return losses
}

const GB = (bytes: number) => (bytes / 1e9).toFixed(1)

/**
 * The micro-batch full-parameter training fits in: fleuve's estimate of what the trainer allocates
 * (fullTrainerBytes) against what can be allocated now (probeFreeGpuMemory), halving the micro-batch
 * (twice the accumulation) until it fits. Where even one sequence a micro-batch does not fit, a
 * TrainingEngineUnavailable saying how much it needs and how much there is.
 */
export const fitFullTraining = async (
  need: (layout: { readonly rows: number; readonly seq: number }) => number,
  free: (wanted: number) => Promise<number>,
  options: TrainOptions,
  width: number,
  onNote?: (line: string) => void
): Promise<{ readonly options: TrainOptions; readonly layout: { readonly rows: number; readonly seq: number } }> => {
  let fitted = options
  for (;;) {
    const layout = engineLayout(fitted.microBatch, width)
    const bytes = need(layout)
    const there = await free(bytes)
    if (there >= bytes) return { options: fitted, layout }
    const halved = halveMicroBatch(fitted)
    if (!halved) {
      throw new TrainingEngineUnavailable(
        `full-parameter training needs about ${GB(bytes)} GB of GPU memory at micro-batch ${fitted.microBatch} × ${layout.seq} tokens (fleuve's estimate: 16 bytes a parameter for the f32 weights, ` +
          `gradients and AdamW moments, 2 for the f16 copies, and the activations) and ${GB(there)} GB can be allocated: train LoRA on all projections instead (fleuve train lora --targets all, then fleuve train merge)`
      )
    }
    onNote?.(`training: micro-batch ${fitted.microBatch} × ${layout.seq} tokens needs about ${GB(bytes)} GB, ${GB(there)} GB free; ${halved.microBatch} × ${halved.gradAccumulation} accumulation instead`)
    fitted = halved
  }
}

/** The full-parameter trainer's state as a checkpoint's tensors: parameters by name, moments as `m.`/`v.` + name (train()'s names). */
const fullStateToHost = (shapes: ReadonlyMap<string, ReadonlyArray<number>>, params: ReadonlyMap<string, Float32Array>, state: FullOptimizerState) => ({
  trainable: new Map([...params].map(([name, data]) => [name, { shape: [...shapes.get(name)!], data }] as const)),
  optimizer: new Map([
    ...[...state.m].map(([name, data]) => [`m.${name}`, { shape: [...shapes.get(name)!], data }] as const),
    ...[...state.v].map(([name, data]) => [`v.${name}`, { shape: [...shapes.get(name)!], data }] as const)
  ])
})

/**
 * Full-parameter training (DAPT) as train() runs it, on the WGSL full-parameter trainer
 * (model/wgsl/qwen3-full-trainer.ts): every weight of the model, f32 masters and AdamW moments on
 * the GPU, f16 compute copies. Checkpoints are train()'s (trainable.safetensors by checkpoint name,
 * optimizer.safetensors with m./v. moments, the model folder saved by `mode.save` from the model's
 * variables, which are set from the masters first): a run resumes on either path. Leaves the
 * trained weights in the model's variables.
 */
const trainFullOnEngine = async (
  model: Qwen3Model,
  mode: TrainingMode & { readonly kind: "full" },
  data: ReadonlyArray<TrainingSequence>,
  options: TrainOptions,
  onStep: (r: StepReport) => void,
  engine: { readonly gpu: Gpu; readonly lossScale?: number; readonly onNote?: (line: string) => void }
): Promise<{ losses: Array<number>; resumedFrom: string | undefined }> => {
  const shapeProblem = trainerShapeProblem(model.config, engine.gpu, "full")
  if (shapeProblem) throw new TrainingEngineUnavailable(shapeProblem)
  const width = sequenceWidth(data)
  const vars = trainableVariables(model, mode)
  const shape = engineShape(model.config)
  const tied = model.config.tieWordEmbeddings
  const shapes = new Map(fullParameterShapes(shape, tied))
  const missing = [...shapes.keys()].filter((name) => !vars.has(name))
  if (missing.length > 0) throw new Error(`the model's trainable weights lack ${missing.slice(0, 3).join(", ")}`)
  const host = await hostWeights(model, { mergeLora: false })
  const tensor = (name: string) => {
    const t = host.get(name)
    if (!t) throw new Error(`model has no weight '${name}'`)
    return t
  }
  const settings = trainerSettings(options, engine.lossScale)
  const estimated = await fitFullTraining((l) => fullTrainerBytes(shape, tied, l.rows, l.seq), (wanted) => probeFreeGpuMemory(engine.gpu.device, { wantedBytes: wanted }), options, width, engine.onNote)
  let trainer: Qwen3FullTrainer | undefined
  try {
    // the estimate is an estimate: a trainer that still runs out of memory is made again with half the micro-batch
    const made = await createFitting((l) => Qwen3FullTrainer.create(engine.gpu, shape, tensor, tied, l.rows, l.seq, settings), estimated.options, estimated.layout, width, engine.onNote)
    trainer = made.trainer
    host.clear()
    options = made.options
    const layout = made.layout
    const t = trainer
    let from: { step: number; losses: ReadonlyArray<number> } = { step: 0, losses: [] }
    const resumeFrom = latestCheckpoint(options.outDir)
    if (resumeFrom) {
      const c = readCheckpoint(resumeFrom, data.length, options.seed)
      const params = new Map([...shapes.keys()].map((name) => {
        const saved = c.trainable.get(name)
        if (!saved) throw new Error(`${join(c.dir, "trainable.safetensors")} lacks '${name}'`)
        return [name, Float32Array.from(saved.data)] as const
      }))
      t.writeParameters(params)
      if (c.state.step > 0) {
        const moments = (prefix: "m." | "v.") => new Map([...shapes.keys()].map((name) => {
          const saved = c.optimizer.get(`${prefix}${name}`)
          if (!saved) throw new Error(`${join(c.dir, "optimizer.safetensors")} lacks '${prefix}${name}'`)
          return [name, Float32Array.from(saved.data)] as const
        }))
        t.writeState({ step: c.state.step, lossScale: c.state.lossScale ?? t.lossScale, m: moments("m."), v: moments("v.") })
      }
      from = { step: c.state.step, losses: c.state.losses }
    }
    /** Copies the masters into the model's variables (the checkpoint's model folder is saved from them). */
    const sync = async () => {
      const params = await t.readParameters()
      for (const [name, values] of params) {
        const v = vars.get(name)!
        const value = tf.tensor(values, v.shape)
        v.assign(value)
        value.dispose()
      }
      return params
    }
    const save = async (dir: string, at: { readonly step: number; readonly losses: ReadonlyArray<number> }) => {
      const state = await t.readState()
      const { trainable, optimizer } = fullStateToHost(shapes, await sync(), state)
      await writeCheckpoint(dir, { model, mode, trainable, optimizer, state: { ...at, dataSize: data.length, seed: options.seed, lossScale: state.lossScale }, options })
    }
    const losses = await runEngineSteps({ trainStep: (b, lr) => t.trainStep(b, lr), save, sync: async () => void (await sync()) }, from, data, options, layout, width, onStep)
    return { losses, resumedFrom: resumeFrom }
  } finally {
    trainer?.dispose()
  }
}
