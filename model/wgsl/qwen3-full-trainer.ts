import { backwardKernels, sumOfSquaresPartials } from "./kernels/backward.ts"
import { readBuffer, storageBuffer, toF16, uniformBuffer, withOomScope, type Binding, type Dispatch } from "./kernels/buffers.ts"
import type { Gpu } from "./kernels/device.ts"
import { elementwiseKernels } from "./kernels/fused.ts"
import { generalMatmul, generalMatmulParams } from "./kernels/general-matmul.ts"
import { matmulPlan } from "./kernels/matmul.ts"
import { normGradGroups, normGradParams, tokenSegments, weightGradientKernels } from "./kernels/weight-gradients.ts"
import { defaultLoraConfig } from "../qwen3/lora-config.ts"
import { projectionDims, projectionNames, type ProjectionName } from "../qwen3/projections.ts"
import { checkEngineShape, EngineShapeError, type EngineShape, type EngineWeights } from "./qwen3-engine.ts"
import { Qwen3LoraTrainer, type MicroBatch, type StepResult, type TrainerExtension, type TrainerOptions } from "./qwen3-trainer.ts"

/**
 * Full-parameter training (DAPT) of a Qwen3 on fleuve's WGSL kernels: every weight trains — the
 * seven projections of each layer, its four RMSNorm weights (input, post-attention, q_norm,
 * k_norm), the final norm and the embeddings (tied to the LM head in Qwen3 ≤ 4B: one parameter
 * that gets both the head's gradient dlogitsᵀ·h and the input lookup's; an untied lm_head is a
 * parameter of its own).
 *
 * Mixed precision as in PyTorch's AMP with f32 master weights: each parameter is held as an f32
 * master with its f32 gradient and AdamW moments (16 bytes a parameter), and the projections and
 * embeddings also as the f16 copy the tensor-core forward and backward read, refreshed from the
 * master after every AdamW step (norm weights are read as f32 by their kernels: the master itself).
 *
 * The forward, the chunked LM loss, the backward through the activations, loss scaling, gradient
 * accumulation and the overflow skip are the LoRA trainer's (model/wgsl/qwen3-trainer.ts), run with
 * no LoRA targets and this file's TrainerExtension, which adds at each site of its backward:
 *   - projection: dW += dYᵀ·X — dY transposed to f16 [out, T], then the tensor-core matmul with X
 *     (the f16 input the LoRA trainer already recomputes) read "kn" (or, `weightGradients:
 *     "general"`, the general f32-accumulating matmul on dY and X as they are);
 *   - LM head: dE += dlogitsᵀ·h per loss chunk, the same way;
 *   - RMSNorm and q/k norm weights: model/wgsl/kernels/weight-gradients.ts' two-pass reduction;
 *   - embedding lookup: dE[id] += Σ dX over the positions holding id (positions sorted on the host:
 *     deterministic);
 * and then, per parameter, the unscale, the global norm (clipping), AdamW and the f16 refresh.
 */

export interface FullTrainerOptions extends Omit<TrainerOptions, never> {
  /** how dW = dYᵀ·X runs: "tensor-cores" (default; dY transposed to f16 first) or "general" (f32-accumulating SIMT matmul) */
  readonly weightGradients?: "tensor-cores" | "general"
}

/** One trained tensor: its Hugging Face name and the buffers that hold it. */
interface Param {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly count: number
  readonly master: GPUBuffer
  readonly grad: GPUBuffer
  readonly m: GPUBuffer
  readonly v: GPUBuffer
  /** the f16 compute copy (projections, embeddings) */
  readonly copy: GPUBuffer | undefined
  readonly adamParams: GPUBuffer
  readonly unscaleParams: GPUBuffer
  /** where its sum of squares' partials start in the shared buffer (f32 elements) */
  readonly partialsAt: number
}

/** The full-parameter AdamW state by parameter name (as `readParameters`), steps taken, loss scale. */
export interface FullOptimizerState {
  readonly step: number
  readonly lossScale: number
  readonly m: ReadonlyMap<string, Float32Array>
  readonly v: ReadonlyMap<string, Float32Array>
}

const align64 = (n: number) => Math.ceil(n / 64) * 64
const projectionPath = (l: number, m: ProjectionName) => `model.layers.${l}.${m === "q_proj" || m === "k_proj" || m === "v_proj" || m === "o_proj" ? "self_attn" : "mlp"}.${m}`

/** Every trained tensor of a Qwen3 of this shape, by Hugging Face name, with its shape. */
export const fullParameterShapes = (shape: EngineShape, tied: boolean): Array<readonly [string, ReadonlyArray<number>]> => {
  const out: Array<readonly [string, ReadonlyArray<number>]> = [["model.embed_tokens.weight", [shape.vocab, shape.hidden]], ["model.norm.weight", [shape.hidden]]]
  if (!tied) out.push(["lm_head.weight", [shape.vocab, shape.hidden]])
  for (let l = 0; l < shape.layers; l++) {
    for (const m of projectionNames) {
      const d = projectionDims(shape, m)
      out.push([`${projectionPath(l, m)}.weight`, [d.out, d.in]])
    }
    const p = `model.layers.${l}`
    out.push([`${p}.input_layernorm.weight`, [shape.hidden]], [`${p}.post_attention_layernorm.weight`, [shape.hidden]],
      [`${p}.self_attn.q_norm.weight`, [shape.headDim]], [`${p}.self_attn.k_norm.weight`, [shape.headDim]])
  }
  return out
}

/**
 * Bytes full-parameter training allocates on the GPU for a batch × seq micro-batch: 16 a parameter
 * (f32 master, gradient, m, v) + 2 for each f16 copy, the LoRA trainer's activations and kept
 * tensors, and this trainer's scratch (transposed dY, the head's transposed dlogits). An estimate
 * (the driver adds its own; BENCHMARKS.md has a reading) to refuse what cannot fit before allocating.
 */
export const fullTrainerBytes = (shape: EngineShape, tied: boolean, batch: number, seq: number): number => {
  const { hidden: Hd, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocab, layers: L } = shape
  const T = batch * seq
  let params = 0
  let copies = 0
  for (const [name, s] of fullParameterShapes(shape, tied)) {
    const n = s.reduce((a, b) => a * b, 1)
    params += n
    if (s.length === 2) copies += n
  }
  const chunk = Math.min(1024, T)
  const perLayer = T * (Hd * 4 * 2 + H * D * 4 + KV * D * 4 + KV * D * 2 + H * D * 2 + H * 4 + I * 4 * 2)
  const scratch = T * (Hd * 4 * 5 + Hd * 2 * 2 + H * D * (2 + 4 * 4 + 2) + KV * D * (2 + 4 * 4 + 2 * 2) + I * (2 + 4 + 2 + 2) + H * 4) + chunk * vocab * (4 + 2 + 2)
  const transposed = T * Math.max(H * D, I, Hd) * 2
  return params * 16 + copies * 2 + L * perLayer + scratch + transposed
}

export class Qwen3FullTrainer {
  private constructor(
    private readonly gpu: Gpu,
    readonly shape: EngineShape,
    /** the forward/backward and step machinery (no LoRA targets; this trainer's extension) */
    private readonly inner: Qwen3LoraTrainer,
    private readonly params: ReadonlyArray<Param>,
    private readonly owned: ReadonlyArray<GPUBuffer>,
    /** bytes of everything allocated: the parameters' buffers and the step's */
    readonly allocatedBytes: number,
    /** the weight-gradient dispatches this trainer adds to the backward (profiles tell them apart) */
    private readonly own: WeakSet<Dispatch>
  ) {}

  /** Whether a dispatch of stepDispatches() is one of the weight gradients this trainer adds (dW, norm weights, embeddings). */
  isWeightGradient(d: Dispatch): boolean {
    return this.own.has(d)
  }

  /**
   * A trainer for batch × seq micro-batches starting from `tensor(name)` (f32 host values by Hugging
   * Face name, every name of fullParameterShapes). Refuses (EngineShapeError) what the kernels
   * cannot take; running out of GPU memory rejects with the device's error, nothing left allocated.
   */
  static create(gpu: Gpu, shape: EngineShape, tensor: (name: string) => Float32Array, tied: boolean, batch: number, seq: number, options: FullTrainerOptions = {}): Promise<Qwen3FullTrainer> {
    // everything a step needs is allocated here: running out of memory shows now (OutOfGpuMemory), not mid-run
    return withOomScope(gpu.device, () => Qwen3FullTrainer.build(gpu, shape, tensor, tied, batch, seq, options), (t) => t.dispose())
  }

  private static async build(gpu: Gpu, shape: EngineShape, tensor: (name: string) => Float32Array, tied: boolean, batch: number, seq: number, options: FullTrainerOptions): Promise<Qwen3FullTrainer> {
    checkEngineShape(shape)
    const dev = gpu.device
    const { hidden: Hd, vocab } = shape
    const T = batch * seq
    if (vocab * Hd * 4 > gpu.maxStorageBufferBindingSize) throw new EngineShapeError(`an f32 embedding of ${vocab} × ${Hd} exceeds one storage binding: full-parameter training does not shard it`)
    const owned: Array<GPUBuffer> = []
    const keep = <B extends GPUBuffer>(b: B): B => (owned.push(b), b)
    const u = (words: Array<number>, floats: Array<number> = []) => keep(uniformBuffer(dev, words, floats))
    let inner: Qwen3LoraTrainer | undefined
    try {
      const o = { lr: options.learningRate ?? 2e-4, wd: options.weightDecay ?? 0, b1: options.beta1 ?? 0.9, b2: options.beta2 ?? 0.999, eps: options.eps ?? 1e-8, clip: options.maxGradNorm ?? 1 }
      // ---- parameters
      const params: Array<Param> = []
      let partials = 0
      for (const [name, s] of fullParameterShapes(shape, tied)) {
        const count = s.reduce((a, b) => a * b, 1)
        const values = tensor(name)
        if (values.length !== count) throw new EngineShapeError(`${name}: ${values.length} values, expected ${s.join(" × ")}`)
        params.push({
          name, shape: s, count,
          master: keep(storageBuffer(dev, values)),
          grad: keep(storageBuffer(dev, count * 4)), m: keep(storageBuffer(dev, count * 4)), v: keep(storageBuffer(dev, count * 4)),
          copy: s.length === 2 ? keep(storageBuffer(dev, toF16(values))) : undefined,
          adamParams: u([count, 0], [o.lr, o.b1, o.b2, o.eps, o.wd, o.clip]),
          unscaleParams: u([count], [1]),
          partialsAt: partials
        })
        partials += align64(sumOfSquaresPartials(count))
      }
      const byName = new Map(params.map((p) => [p.name, p]))
      const param = (name: string) => byName.get(name)!
      const copyOf = (name: string) => param(name).copy!
      // the weights the forward reads: f16 copies of the matrices, the f32 masters of the norms
      const weights: EngineWeights = {
        format: "f16",
        embed: copyOf("model.embed_tokens.weight"),
        lmHead: copyOf(tied ? "model.embed_tokens.weight" : "lm_head.weight"),
        finalNorm: param("model.norm.weight").master,
        layers: Array.from({ length: shape.layers }, (_, l) => {
          const lin = (m: ProjectionName) => ({ B: copyOf(`${projectionPath(l, m)}.weight`) })
          const p = `model.layers.${l}`
          return {
            q: lin("q_proj"), k: lin("k_proj"), v: lin("v_proj"), o: lin("o_proj"), gate: lin("gate_proj"), up: lin("up_proj"), down: lin("down_proj"),
            inputNorm: param(`${p}.input_layernorm.weight`).master, postNorm: param(`${p}.post_attention_layernorm.weight`).master,
            qNorm: param(`${p}.self_attn.q_norm.weight`).master, kNorm: param(`${p}.self_attn.k_norm.weight`).master
          }
        })
      }
      const normByBuffer = new Map(params.filter((p) => p.shape.length === 1).map((p) => [p.master, p]))

      // ---- kernels
      const general = options.weightGradients === "general"
      const [wg, el, bwd] = await Promise.all([weightGradientKernels(gpu), elementwiseKernels(gpu), backwardKernels(gpu, shape.headDim)])
      await wg.prepare({
        transposes: general ? [] : [["f32", "f16"], ["f16", "f16"]],
        norms: [[Hd, false], [shape.headDim, true]]
      })
      const dims = projectionNames.map((m) => projectionDims(shape, m))
      const chunk = Math.min(1024, T)
      const headRows = [...new Set([chunk, T % chunk || chunk])]
      const mmGrad = general ? undefined : await matmulPlan(gpu, "f16", undefined, { weightLayout: "kn", accumulate: true })
      await mmGrad?.tune([...dims.map((d) => ({ M: d.out, N: d.in, K: T })), ...headRows.map((rows) => ({ M: vocab, N: Hd, K: rows }))])
      const gm = general
        ? { f32: await generalMatmul(gpu, { aType: "f32", bType: "f16", transposeA: true, transposeB: false, accumulate: true }),
            f16: await generalMatmul(gpu, { aType: "f16", bType: "f16", transposeA: true, transposeB: false, accumulate: true }) }
        : undefined

      // ---- scratch
      const widest = Math.max(...dims.map((d) => d.out), Hd)
      const dyT = general ? undefined : keep(storageBuffer(dev, Math.max(T * widest, vocab * chunk) * 2))
      const normPartials = keep(storageBuffer(dev, normGradGroups(T * shape.heads) * Math.max(Hd, shape.headDim) * 4))
      const seg = { order: keep(storageBuffer(dev, T * 4)), starts: keep(storageBuffer(dev, (T + 1) * 4)), tokens: keep(storageBuffer(dev, T * 4)), count: keep(storageBuffer(dev, 16)) }
      const ssqPartials = keep(storageBuffer(dev, partials * 4))
      const ssqScratch = keep(storageBuffer(dev, 16))

      /** C [M, N] += dYᵀ·X for dY [K, M] (f32 or f16) and X [K, N] f16. */
      const weightGrad = (dy: Binding, dyType: "f32" | "f16", x: Binding, C: GPUBuffer, M: number, N: number, K: number): Array<Dispatch> => {
        if (gm) return gm[dyType].dispatches({ A: dy, B: x, C, params: keep(generalMatmulParams(dev, { M, N, K }, {}, 1)) }, { M, N, K })
        return [
          wg.transpose(dyType, "f16", { X: dy, Y: { buffer: dyT!, offset: 0, size: M * K * 2 }, params: u([K, M]) }, K, M),
          mmGrad!.dispatch({ A: { buffer: dyT!, offset: 0, size: M * K * 2 }, B: x, C, params: u([M, N, K, 0]) }, M, N, K)
        ]
      }
      const normParams = (rows: number, H: number, rope?: { S: number; heads: number }) => {
        const p = normGradParams(rows, H, shape.eps, rope ? { ...rope, theta: shape.theta } : undefined)
        return [u(p.partial.words, p.partial.floats), u(p.finish.words)] as const
      }
      const rmsParams = normParams(T, Hd)
      const qkParams = new Map<number, readonly [GPUBuffer, GPUBuffer]>()
      const embedParams = u([Hd])
      const ssqFinal = u([0, partials])

      const own = new WeakSet<Dispatch>()
      const mine = (ds: Array<Dispatch>): Array<Dispatch> => {
        for (const d of ds) own.add(d)
        return ds
      }
      const extension: TrainerExtension = {
        projection: (l, m, x, dy, dyType) => {
          const d = projectionDims(shape, m)
          return mine(weightGrad(dy, dyType, x, param(`${projectionPath(l, m)}.weight`).grad, d.out, d.in, T))
        },
        norm: (w, x, dy) => mine(wg.normWeight(Hd, false, { X: x, dY: dy, partials: normPartials, dW: normByBuffer.get(w)!.grad, params: rmsParams }, T)),
        qkNorm: (w, x, dy, heads) => {
          let p = qkParams.get(heads)
          if (!p) qkParams.set(heads, (p = normParams(T * heads, shape.headDim, { S: seq, heads })))
          return mine(wg.normWeight(shape.headDim, true, { X: x, dY: dy, partials: normPartials, dW: normByBuffer.get(w)!.grad, params: p }, T * heads))
        },
        head: (rows, dlogits, xh) => mine(weightGrad(dlogits, "f16", xh, param(tied ? "model.embed_tokens.weight" : "lm_head.weight").grad, vocab, Hd, rows)),
        embedding: (dx) => mine([wg.embedding({ dX: dx, ...seg, dE: param("model.embed_tokens.weight").grad, params: embedParams }, T)]),
        finish: (norm) => [
          ...params.flatMap((p) => [
            el.scale({ X: p.grad, params: p.unscaleParams }, p.count),
            // pass 1 of the sum of squares per parameter into its window; pass 2 once over all windows
            bwd.sumOfSquares({ X: p.grad, partials: { buffer: ssqPartials, offset: p.partialsAt * 4, size: sumOfSquaresPartials(p.count) * 4 }, out: ssqScratch, params: u([p.count, sumOfSquaresPartials(p.count)]) }, p.count)[0]!
          ]),
          bwd.sumOfSquares({ X: ssqPartials, partials: ssqPartials, out: norm, params: ssqFinal }, partials)[1]!
        ],
        optimizer: (norm) => params.flatMap((p) => [
          bwd.adamw({ P: p.master, G: p.grad, M: p.m, V: p.v, norm, params: p.adamParams }, p.count),
          ...(p.copy ? [el.castF16({ X: p.master, Y: p.copy, params: u([p.count]) }, p.count)] : [])
        ]),
        load: (ids) => {
          const s = tokenSegments(ids)
          const q = dev.queue
          q.writeBuffer(seg.order, 0, s.order)
          q.writeBuffer(seg.starts, 0, s.starts)
          q.writeBuffer(seg.tokens, 0, s.tokens)
          q.writeBuffer(seg.count, 0, new Uint32Array([s.count]))
        },
        clearGradients: () => {
          const enc = dev.createCommandEncoder()
          for (const p of params) enc.clearBuffer(p.grad)
          dev.queue.submit([enc.finish()])
        },
        setUnscale: (factor) => {
          for (const p of params) dev.queue.writeBuffer(p.unscaleParams, 4, new Float32Array([factor]))
        },
        setStep: (step, lr) => {
          for (const p of params) {
            dev.queue.writeBuffer(p.adamParams, 4, new Uint32Array([step]))
            dev.queue.writeBuffer(p.adamParams, 8, new Float32Array([lr]))
          }
        }
      }
      inner = await Qwen3LoraTrainer.create(gpu, shape, weights, { ...defaultLoraConfig, dropout: 0, targetModules: [] }, batch, seq, options, extension)
      return new Qwen3FullTrainer(gpu, shape, inner, params, owned, owned.reduce((a, b) => a + b.size, 0) + inner.allocatedBytes, own)
    } catch (e) {
      inner?.dispose()
      for (const b of owned) b.destroy()
      throw e
    }
  }

  /** Loss and gradients of every parameter over micro-batches (no update); gradients readable by readParameters("grads"). */
  gradients(batches: ReadonlyArray<MicroBatch>): Promise<{ readonly loss: number; readonly gradNorm: number }> {
    return this.inner.gradients(batches)
  }

  /** One optimizer step (skipped, the loss scale halved, if the gradients overflowed), at `lr` (default: the options'). */
  trainStep(batches: ReadonlyArray<MicroBatch>, lr?: number): Promise<StepResult> {
    return this.inner.trainStep(batches, lr)
  }

  stepDispatches(): ReadonlyArray<Dispatch> {
    return this.inner.stepDispatches()
  }

  /** Every parameter (f32 master), its gradient or AdamW moment, by Hugging Face name. */
  async readParameters(what: "params" | "grads" | "m" | "v" = "params"): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>()
    for (const p of this.params) {
      const b = { params: p.master, grads: p.grad, m: p.m, v: p.v }[what]
      out.set(p.name, new Float32Array(await readBuffer(this.gpu.device, b, p.count * 4)))
    }
    return out
  }

  /** The f16 compute copy of a matrix, as f32 (tests: it follows the master after each step). */
  async readCopy(name: string): Promise<Uint16Array> {
    const p = this.params.find((q) => q.name === name)
    if (!p?.copy) throw new EngineShapeError(`${name} has no f16 copy`)
    return new Uint16Array(await readBuffer(this.gpu.device, p.copy, p.count * 2))
  }

  /** Sets parameters (masters and their f16 copies) or AdamW moments; names not given are left as they are. */
  writeParameters(values: ReadonlyMap<string, Float32Array>, what: "params" | "m" | "v" = "params"): void {
    const q = this.gpu.device.queue
    for (const p of this.params) {
      const x = values.get(p.name)
      if (!x) continue
      if (x.length !== p.count) throw new EngineShapeError(`${p.name}: ${x.length} values, expected ${p.shape.join(" × ")}`)
      const f = Float32Array.from(x)
      q.writeBuffer({ params: p.master, m: p.m, v: p.v }[what], 0, f)
      if (what === "params" && p.copy) q.writeBuffer(p.copy, 0, Uint16Array.from(toF16(f)))
    }
  }

  async readState(): Promise<FullOptimizerState> {
    return { step: this.inner.steps, lossScale: this.inner.currentLossScale, m: await this.readParameters("m"), v: await this.readParameters("v") }
  }

  /** Restores readState()'s state (resuming); every parameter must have its moments. */
  writeState(state: FullOptimizerState): void {
    const missing = this.params.filter((p) => !state.m.has(p.name) || !state.v.has(p.name)).map((p) => p.name)
    if (missing.length > 0) throw new EngineShapeError(`optimizer state lacks moments for ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ` and ${missing.length - 3} more` : ""}`)
    this.writeParameters(state.m, "m")
    this.writeParameters(state.v, "v")
    this.inner.writeState({ step: state.step, lossScale: state.lossScale, m: new Map(), v: new Map() })
  }

  get names(): ReadonlyArray<string> {
    return this.params.map((p) => p.name)
  }

  get steps(): number {
    return this.inner.steps
  }

  /** The loss scale the next step runs at. */
  get lossScale(): number {
    return this.inner.currentLossScale
  }

  dispose(): void {
    this.inner.dispose()
    for (const b of this.owned) b.destroy()
  }
}
