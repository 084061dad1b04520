import * as tf from "@tensorflow/tfjs-core"
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { mulberry32 } from "../../lib/random.ts"
import { type LoraConfig, saveAdapter } from "../qwen3/lora.ts"
import type { Qwen3Model } from "../tfjs/qwen3-model.ts"
import { type HostTensor, readSafetensors, writeSafetensors } from "../formats/safetensors.ts"
import { ensureGradients } from "../tfjs/gradients.ts"
import { AdamW, type AdamWOptions, defaultAdamW } from "./adamw.ts"
import { fusedCpuActive } from "../cpu/active.ts"
import { causalLmLoss } from "./loss.ts"
import { cosineWithWarmup } from "./schedule.ts"

/** One training example: token ids, and optionally which of them count as targets. */
export interface TrainingSequence {
  readonly ids: ReadonlyArray<number>
  readonly targetMask?: ReadonlyArray<number>
}

export interface TrainOptions {
  readonly totalSteps: number
  readonly microBatch: number
  /** Sequences per optimizer step = microBatch · gradAccumulation (EnMed: 16). */
  readonly gradAccumulation: number
  readonly peakLr: number
  readonly warmupRatio: number
  readonly maxGradNorm: number
  readonly adamw: AdamWOptions
  readonly seed: number
  /** Save a checkpoint every N optimizer steps (0: only at the end). */
  readonly checkpointEvery: number
  readonly outDir: string
  /** Stop after this step even if totalSteps is larger (what an interruption looks like). */
  readonly stopAfter?: number
  /**
   * Asked to stop (a first Ctrl-C): the step under way finishes, a checkpoint of it is saved (so a
   * rerun resumes exactly there) and training returns early.
   */
  readonly signal?: AbortSignal
}

export const defaultTrainOptions: Omit<TrainOptions, "totalSteps" | "outDir"> = {
  microBatch: 1,
  gradAccumulation: 16,
  peakLr: 2e-4,
  warmupRatio: 0.03,
  maxGradNorm: 1.0,
  adamw: defaultAdamW,
  seed: 42,
  checkpointEvery: 0
}

export interface StepReport {
  readonly step: number
  readonly totalSteps: number
  readonly loss: number
  readonly lr: number
  readonly gradNorm: number
  readonly tokens: number
  readonly tokensPerSecond: number
  readonly etaSeconds: number
}

/** What is trained: LoRA pairs (adapter) or every weight (full fine-tuning, DAPT). */
export type TrainingMode = { readonly kind: "lora"; readonly lora: LoraConfig; readonly baseModel: string } | { readonly kind: "full"; readonly save: (dir: string) => Promise<void> }

/** trainer_state.json of a checkpoint (both training paths read and write it). */
export interface TrainerState {
  readonly step: number
  readonly losses: ReadonlyArray<number>
  readonly dataSize: number
  readonly seed: number
  /** the WGSL trainer's loss scale (model/train/engine-train.ts); the tfjs path has none */
  readonly lossScale?: number
}

/** The trainable variables by a stable name (PEFT keys for LoRA, checkpoint names otherwise). */
export const trainableVariables = (model: Qwen3Model, mode: TrainingMode): Map<string, tf.Variable> => {
  const out = new Map<string, tf.Variable>()
  if (mode.kind === "lora") {
    for (const [path, pair] of model.lora) {
      out.set(`${path}.lora_A`, pair.a)
      out.set(`${path}.lora_B`, pair.b)
    }
  } else {
    for (const [name, t] of model.params) if (t instanceof tf.Variable) out.set(name, t)
  }
  if (out.size === 0) throw new Error(mode.kind === "lora" ? "no LoRA pairs attached to train" : "model weights were loaded without trainable: true")
  return out
}

// The order of sequences in one epoch: a seeded shuffle, so a resumed run sees the same data.
const epochOrder = (n: number, seed: number, epoch: number): Array<number> => {
  const rand = mulberry32(seed * 1000003 + epoch)
  const order = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  return order
}

/** Which sequences optimizer step `step`, micro-batch `micro` trains on. */
export const batchIndices = (n: number, seed: number, perStep: number, microBatch: number, step: number, micro: number): Array<number> => {
  const start = step * perStep + micro * microBatch
  return Array.from({ length: microBatch }, (_, k) => {
    const global = start + k
    return epochOrder(n, seed, Math.floor(global / n))[global % n]!
  })
}

export const checkpointName = (step: number) => `checkpoint-${String(step).padStart(6, "0")}`

export const latestCheckpoint = (outDir: string): string | undefined => {
  if (!existsSync(outDir)) return undefined
  const names = readdirSync(outDir).filter((n) => /^checkpoint-\d+$/.test(n) && existsSync(join(outDir, n, "trainer_state.json"))).sort()
  return names.length > 0 ? join(outDir, names[names.length - 1]!) : undefined
}

/** The progress report of optimizer step `at.step` (1-based, just taken) of a run that started at `startStep`, `started` ms. */
export const stepReport = (
  at: { readonly step: number; readonly startStep: number; readonly started: number; readonly width: number; readonly options: TrainOptions },
  result: { readonly loss: number; readonly lr: number; readonly gradNorm: number }
): StepReport => {
  const { step, options } = at
  const perStep = options.microBatch * options.gradAccumulation
  const elapsed = (performance.now() - at.started) / 1000
  const tokens = (step - at.startStep) * perStep * at.width
  const rate = tokens / Math.max(elapsed, 1e-9)
  return { step, totalSteps: options.totalSteps, ...result, tokens, tokensPerSecond: rate, etaSeconds: ((options.totalSteps - step) * perStep * at.width) / Math.max(rate, 1e-9) }
}

/** Checks that all sequences have one length (training batches are rectangles); returns it. */
export const sequenceWidth = (data: ReadonlyArray<TrainingSequence>): number => {
  if (data.length === 0) throw new Error("no training sequences")
  const width = data[0]!.ids.length
  const uneven = data.findIndex((d) => d.ids.length !== width)
  if (uneven >= 0) throw new Error(`sequence ${uneven} has ${data[uneven]!.ids.length} tokens, the first has ${width}: pack sequences to one length`)
  return width
}

/** The sequences of optimizer step `step`, micro-batch `micro`, in the seeded epoch order. */
export const microBatchSequences = (data: ReadonlyArray<TrainingSequence>, options: TrainOptions, step: number, micro: number): Array<TrainingSequence> =>
  batchIndices(data.length, options.seed, options.microBatch * options.gradAccumulation, options.microBatch, step, micro).map((i) => data[i]!)

/** A checkpoint read back: its state, the trainable tensors and the optimizer's (m.NAME, v.NAME). */
export interface Checkpoint {
  readonly dir: string
  readonly state: TrainerState
  readonly trainable: ReadonlyMap<string, HostTensor>
  readonly optimizer: ReadonlyMap<string, HostTensor>
}

/** Reads a checkpoint folder; refuses one made on other data or another seed (its order would differ). */
export const readCheckpoint = (dir: string, dataSize: number, seed: number): Checkpoint => {
  const state: TrainerState = JSON.parse(readFileSync(join(dir, "trainer_state.json"), "utf8"))
  if (state.dataSize !== dataSize || state.seed !== seed) {
    throw new Error(`${dir}: was trained on ${state.dataSize} sequences with seed ${state.seed}; this run has ${dataSize} and seed ${seed}`)
  }
  return {
    dir,
    state,
    trainable: readSafetensors(join(dir, "trainable.safetensors")).tensors,
    optimizer: readSafetensors(join(dir, "optimizer.safetensors")).tensors
  }
}

/**
 * Writes a checkpoint: trainable.safetensors (by trainableVariables' names), optimizer.safetensors
 * (AdamW moments m.NAME / v.NAME), trainer_state.json (state + options), and the model as `mode`
 * saves it (a PEFT adapter from the model's LoRA pairs, or the full checkpoint).
 */
export const writeCheckpoint = async (
  dir: string,
  content: { readonly model: Qwen3Model; readonly mode: TrainingMode; readonly trainable: ReadonlyMap<string, HostTensor>; readonly optimizer: ReadonlyMap<string, HostTensor>; readonly state: TrainerState; readonly options: TrainOptions }
): Promise<void> => {
  // Written aside, then renamed into place: a process killed while writing (SIGKILL, power loss)
  // leaves a `.partial` folder that no resume reads, never a checkpoint with half its files.
  const partial = `${dir}.partial`
  rmSync(partial, { recursive: true, force: true })
  mkdirSync(partial, { recursive: true })
  writeSafetensors(join(partial, "trainable.safetensors"), content.trainable)
  writeSafetensors(join(partial, "optimizer.safetensors"), content.optimizer)
  writeFileSync(join(partial, "trainer_state.json"), JSON.stringify({ ...content.state, options: content.options }, null, 2))
  if (content.mode.kind === "lora") await saveAdapter(content.model, content.mode.lora, partial, content.mode.baseModel)
  else await content.mode.save(partial)
  rmSync(dir, { recursive: true, force: true })
  renameSync(partial, dir)
}

/**
 * Trains with AdamW, cosine schedule with warmup, gradient accumulation and clipping by global
 * norm. Checkpoints hold the trainable weights, the optimizer moments and the step, so a run
 * resumed from one continues with exactly the losses the uninterrupted run would have had.
 */
/**
 * Σ‖g‖² over many tensors. Not one tf.addN: the webgpu backend packs every addend into one shader
 * with a storage buffer each, and 392 LoRA gradients exceed the 8 a shader may bind (seen on the
 * H100: the pipeline is invalid and the norm garbage). Squared norms are stacked into one vector instead.
 */
export const sumOfSquares = (tensors: ReadonlyArray<tf.Tensor>): tf.Scalar =>
  tf.sum(tf.stack(tensors.map((g) => tf.sum(tf.square(g))))) as tf.Scalar

const deviceGradNorm = async (grads: ReadonlyArray<tf.Tensor>): Promise<number> => {
  const normT = tf.tidy(() => tf.sqrt(sumOfSquares(grads)))
  const norm = (await normT.data())[0]!
  normT.dispose()
  return norm
}

/**
 * The same sum on the values of tfjs' cpu backend (the cpu-fused backend), in f64: tfjs' square
 * and sum there allocate a copy of every gradient and cost more than the optimizer.
 */
const hostSumOfSquares = (grads: ReadonlyArray<tf.Tensor>): number => {
  let total = 0
  for (const g of grads) {
    const x = g.dataSync() as Float32Array
    let s = 0
    for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!
    total += s
  }
  return total
}

export const train = async (
  model: Qwen3Model,
  mode: TrainingMode,
  data: ReadonlyArray<TrainingSequence>,
  options: TrainOptions,
  onStep: (r: StepReport) => void = () => {}
): Promise<{ losses: Array<number>; resumedFrom: string | undefined }> => {
  await ensureGradients()
  const width = sequenceWidth(data)
  const vars = trainableVariables(model, mode)
  const optimizer = new AdamW(options.adamw)
  let losses: Array<number> = []
  let step = 0
  const resumeFrom = latestCheckpoint(options.outDir)
  if (resumeFrom) {
    const { state, trainable: saved, optimizer: moments } = readCheckpoint(resumeFrom, data.length, options.seed)
    for (const [name, v] of vars) {
      const t = saved.get(name)
      if (!t) throw new Error(`${resumeFrom}: trainable.safetensors lacks '${name}'`)
      v.assign(tf.tensor(t.data, [...t.shape]))
    }
    optimizer.loadHost(moments, state.step)
    step = state.step
    losses = [...state.losses]
  }
  // asynchronous reads: WebGPU cannot read synchronously in Node (found by the GPU test of trainOnEngine)
  const save = async (dir: string) =>
    writeCheckpoint(dir, {
      model,
      mode,
      trainable: new Map(await Promise.all([...vars].map(async ([n, v]) => [n, { shape: v.shape, data: (await v.data()) as Float32Array }] as const))),
      optimizer: await optimizer.toHost(),
      state: { step, losses, dataSize: data.length, seed: options.seed },
      options
    })
  const started = performance.now()
  const startStep = step
  const last = Math.min(options.totalSteps, options.stopAfter ?? options.totalSteps)
  while (step < last) {
    const lr = cosineWithWarmup(step, options.totalSteps, options.peakLr, options.warmupRatio)
    const accumulated = new Map<string, tf.Tensor>()
    let stepLoss = 0
    for (let micro = 0; micro < options.gradAccumulation; micro++) {
      const batch = microBatchSequences(data, options, step, micro)
      const ids = batch.map((b) => b.ids)
      const masks = batch.every((b) => b.targetMask) ? batch.map((b) => b.targetMask!) : undefined
      const seed = options.seed * 7 + step * options.gradAccumulation + micro
      const { value, grads } = tf.variableGrads(
        () => tf.div(causalLmLoss(model, ids, { dropoutSeed: seed, ...(masks ? { targetMask: masks } : {}) }), options.gradAccumulation) as tf.Scalar,
        [...vars.values()]
      )
      stepLoss += (await value.data())[0]!
      value.dispose()
      for (const [name, v] of vars) {
        const g = grads[v.name]
        if (!g) continue
        const prev = accumulated.get(name)
        accumulated.set(name, prev ? tf.add(prev, g) : g)
        if (prev) tf.dispose([prev, g])
      }
    }
    // Clip by the global L2 norm of all gradients, as torch.nn.utils.clip_grad_norm_.
    const gradNorm = fusedCpuActive() ? Math.sqrt(hostSumOfSquares([...accumulated.values()])) : await deviceGradNorm([...accumulated.values()])
    const clip = Math.min(1, options.maxGradNorm / (gradNorm + 1e-6))
    optimizer.apply(vars, accumulated, lr, clip)
    tf.dispose([...accumulated.values()])
    step += 1
    losses.push(stepLoss)
    onStep(stepReport({ step, startStep, started, width, options }, { loss: stepLoss, lr, gradNorm }))
    // A signal handler runs only when the event loop turns: a loop of resolved promises never lets it.
    if (options.signal) await new Promise((resolve) => setImmediate(resolve))
    const stopping = options.signal?.aborted === true
    if (options.checkpointEvery > 0 && step % options.checkpointEvery === 0) await save(join(options.outDir, checkpointName(step)))
    else if (stopping && step < options.totalSteps) await save(join(options.outDir, checkpointName(step)))
    if (stopping) break
  }
  if (step === options.totalSteps) await save(join(options.outDir, "final"))
  optimizer.dispose()
  return { losses, resumedFrom: resumeFrom }
}
