import { mulberry32 } from "../../lib/random.ts"
import { dropoutKernels, dropoutParams, mix32 } from "./kernels/dropout.ts"
import { attentionBackwardFor } from "./kernels/attention-backward-tc.ts"
import { tensorCoreAttention, type AttentionForm } from "./kernels/attention-tc.ts"
import { splitKMatmul, splitKRanges } from "./kernels/split-k.ts"
import { backwardKernels, sumOfSquaresPartials } from "./kernels/backward.ts"
import { readBuffer, runDispatches, storageBuffer, uniformBuffer, withOomScope, type Binding, type Dispatch } from "./kernels/buffers.ts"
import { pickMatrixConfig, type Gpu } from "./kernels/device.ts"
import { elementwiseKernels, fusedKernels } from "./kernels/fused.ts"
import { generalMatmul, generalMatmulParams } from "./kernels/general-matmul.ts"
import { matmulPlan } from "./kernels/matmul.ts"
import type { LoraConfig } from "../qwen3/lora-config.ts"
import { projectionDims, projectionNames, type ProjectionName } from "../qwen3/projections.ts"
import { checkEngineShape, EngineShapeError, type EngineShape, type EngineWeights, type LinearWeight } from "./qwen3-engine.ts"

/**
 * LoRA training of a Qwen3 on fleuve's WGSL kernels: the frozen base (f16, or NF4 dequantised
 * inside the matmuls — QLoRA) and f32 LoRA pairs, f32 AdamW state, all on the GPU. A step is
 * one forward that keeps what the backward needs, the causal-LM loss chunk by chunk over the
 * vocabulary, a backward written out by hand (no tape), then gradient clipping and AdamW:
 *
 *   forward, per layer: the scoring engine's layer (model/wgsl/qwen3-engine.ts) plus, on every
 *     adapted projection, u = x·Aᵀ and y += s·u·Bᵀ; it keeps the layer's input, the pre-norm q
 *     and k, v (f16), the attention output (f16) and its log-sum-exp, the residual after
 *     attention, gate and up, and each u;
 *   loss: logits of 1024 rows at a time → cross-entropy → dlogits (f16) → dx = dlogits·E;
 *   backward, per layer in reverse: dX through each frozen linear (dY·W on the same matmul
 *     kernels, weight read transposed), the LoRA grads dB += s·dYᵀ·u, dA += (s·dY·B)ᵀ·x and
 *     their dX, SwiGLU, RMSNorm, q/k norm + RoPE and flash-attention backward kernels;
 *     normed inputs, activations and q/k after RoPE are recomputed rather than kept.
 *
 * Mixed precision: tensor-core operands are f16 (activations, gradients flowing into a matmul),
 * accumulation, the residual stream, the LoRA parameters, their gradients and AdamW state f32.
 * Loss scaling: the gradient of the mean loss is (softmax − onehot)/N per logit, ~1e-10 for most
 * of a 151936-token vocabulary at N = 16384 — below f16's smallest subnormal, so it would vanish
 * in the f16 dlogits. The backward therefore runs on the gradient of lossScale × the summed loss
 * (dlogits = lossScale·(softmax − onehot)), and the f32 LoRA gradients are divided by
 * lossScale·N before clipping and AdamW. A step whose gradients overflow (a non-finite norm) is
 * skipped and the scale halved, as PyTorch's GradScaler does.
 *
 * LoRA dropout (lora.dropout > 0), as PEFT: u = dropout(x)·Aᵀ with a mask of its own per layer and
 * projection (model/wgsl/kernels/dropout.ts: a hash of the micro-batch's seed, the site and the element,
 * so the backward redraws the mask instead of keeping it); dA uses the dropped input and the
 * LoRA branch's dX goes back through the same mask. The frozen path W·x sees x undropped.
 */

/** The dropout site of a projection in a layer: one mask per (layer, projection), whichever modules are adapted. */
export const loraDropoutSite = (layer: number, module: ProjectionName): number => mix32(layer * 8 + projectionNames.indexOf(module) + 1)

/** One LoRA pair's place in the flat parameter buffer (f32 elements; each start 64-aligned). */
interface PairSlot {
  readonly path: string
  readonly module: ProjectionName
  readonly layer: number
  readonly inDim: number
  readonly outDim: number
  readonly a: number // A [r, in]
  readonly b: number // B [out, r]
}

export interface TrainerOptions {
  readonly seed?: number
  readonly learningRate?: number
  readonly weightDecay?: number
  readonly beta1?: number
  readonly beta2?: number
  readonly eps?: number
  /** global gradient-norm clip (≤ 0: none) */
  readonly maxGradNorm?: number
  /** initial loss scale (halved on overflow) */
  readonly lossScale?: number
  /**
   * How the loss and gradients of several micro-batches are averaged: "tokens" (default) over
   * every target token of the step; "micro-batches" as the mean of each micro-batch's mean loss,
   * which is what model/train/trainer.ts' train() optimises (they differ when micro-batches hold
   * different numbers of targets, e.g. prompt/answer records).
   */
  readonly meanOver?: "tokens" | "micro-batches"
  /** "f32": the CUDA-core attention backward even where the tensor-core one runs (benchmarks compare them) */
  readonly attentionBackward?: "f32"
  /** the forward attention's form (default defaultAttentionForm(): FLEUVE_ATTENTION_FORWARD; benchmarks compare forms) */
  readonly attentionForward?: AttentionForm
  /** the lm_head's dX (K = vocabulary) as this many split-K partial products (kernels/split-k.ts); 0: one product; default: splitKRanges' choice */
  readonly headSplitK?: number
}

/** The AdamW state of the LoRA pairs: moments by projection path (as readPairs), steps taken, loss scale. */
export interface OptimizerState {
  readonly step: number
  readonly lossScale: number
  readonly m: ReadonlyMap<string, { readonly a: Float32Array; readonly b: Float32Array }>
  readonly v: ReadonlyMap<string, { readonly a: Float32Array; readonly b: Float32Array }>
}

/** One micro-batch: batch × seq token ids and the token each position predicts (0xFFFFFFFF: none). */
export interface MicroBatch {
  readonly ids: Uint32Array<ArrayBuffer>
  readonly targets: Uint32Array<ArrayBuffer>
  /**
   * Seed of this micro-batch's LoRA dropout masks (u32; with lora.dropout > 0). Absent: the
   * trainer draws one from its seed and a count of the micro-batches it has run.
   */
  readonly dropoutSeed?: number
}

export interface StepResult {
  /** mean loss of the batch before the update */
  readonly loss: number
  /** global norm of the (unscaled) LoRA gradients, before clipping */
  readonly gradNorm: number
  /** the gradients overflowed at this loss scale: no update, the scale halves */
  readonly skipped: boolean
  readonly lossScale: number
}

/**
 * What full-parameter training (model/wgsl/qwen3-full-trainer.ts) adds to the step: dispatches at
 * sites of the backward (each given the buffers it reads), its own gradients' finish and parameter
 * update, and the per-batch writes they need. With an extension the trainer's LoRA targets are
 * empty: the forward, loss and backward are this file's, the parameters the extension's.
 */
export interface TrainerExtension {
  /** after a projection's backward: dY [T, out] (f32 or f16) and the projection's f16 input x [T, in] */
  projection(l: number, m: ProjectionName, x: Binding, dy: Binding, dyType: "f32" | "f16"): Array<Dispatch>
  /** after an RMSNorm backward: its weight (the buffer the forward read), pre-norm input X [T, hidden], dY */
  norm(w: GPUBuffer, x: Binding, dy: Binding): Array<Dispatch>
  /** after a q/k norm + RoPE backward: its weight, pre-norm X [T, heads, D], dY the rotated output's gradient */
  qkNorm(w: GPUBuffer, x: Binding, dy: Binding, heads: number): Array<Dispatch>
  /** per chunk of the LM head: its rows, dlogits (f16 [rows, vocab]), the final normed hidden states (f16 [rows, hidden]) */
  head(rows: number, dlogits: Binding, xh: Binding): Array<Dispatch>
  /** the end of the backward: dx, the gradient of the embedding lookup's output (f32 [T, hidden]) */
  embedding(dx: Binding): Array<Dispatch>
  /** unscale its gradients, their squared global norm into norm[0] */
  finish(norm: GPUBuffer): Array<Dispatch>
  /** AdamW over its parameters, clipping by the norm finish() wrote */
  optimizer(norm: GPUBuffer): Array<Dispatch>
  /** a micro-batch's ids are about to run */
  load(ids: Uint32Array): void
  clearGradients(): void
  setUnscale(factor: number): void
  setStep(step: number, lr: number): void
}

const IGNORE = 0xffffffff
const HEAD_CHUNK = 1024
const align64 = (n: number) => Math.ceil(n / 64) * 64


export class Qwen3LoraTrainer {
  private step = 0
  private lossScale: number
  /** micro-batches loaded so far: the default dropout seed's counter */
  private loaded = 0
  private constructor(
    private readonly gpu: Gpu,
    readonly shape: EngineShape,
    readonly batch: number,
    readonly seq: number,
    readonly lora: LoraConfig,
    private readonly slots: ReadonlyArray<PairSlot>,
    private readonly P: GPUBuffer,
    private readonly G: GPUBuffer,
    private readonly paramCount: number,
    private readonly ids: GPUBuffer,
    private readonly targets: GPUBuffer,
    private readonly loss: GPUBuffer,
    private readonly owned: ReadonlyArray<GPUBuffer>,
    /** forward, loss and backward of one micro-batch: LoRA gradients (scaled) accumulate into G */
    private readonly forwardBackward: ReadonlyArray<Dispatch>,
    /** after the last micro-batch: unscale the gradients, their squared norm into `norm` */
    private readonly finishGradients: ReadonlyArray<Dispatch>,
    /** AdamW over P; its uniform's step (u32 at byte 4) and learning rate (f32 at byte 8) are rewritten per step */
    private readonly optimizer: ReadonlyArray<Dispatch>,
    private readonly optimizerParams: { readonly buffer: GPUBuffer; readonly lr: number },
    private readonly moments: { readonly m: GPUBuffer; readonly v: GPUBuffer },
    private readonly meanOver: "tokens" | "micro-batches",
    /** uniforms rewritten each batch: the cross-entropy's scale (lossScale), the gradients' unscale */
    private readonly perBatch: { readonly ce: ReadonlyArray<GPUBuffer>; readonly unscale: GPUBuffer; readonly norm: GPUBuffer },
    /** bytes of everything the trainer allocated (activations, LoRA, optimizer state) */
    readonly allocatedBytes: number,
    lossScale: number,
    /** the dropout masks' seed (u32 storage), written per micro-batch; undefined without dropout */
    private readonly dropoutSeed: GPUBuffer | undefined,
    private readonly seed: number,
    private readonly extension: TrainerExtension | undefined
  ) {
    this.lossScale = lossScale
  }

  static async create(gpu: Gpu, shape: EngineShape, weights: EngineWeights, lora: LoraConfig, batch: number, seq: number, options: TrainerOptions = {}, extension?: TrainerExtension): Promise<Qwen3LoraTrainer> {
    // everything a step needs is allocated here: running out of memory shows now, not mid-run
    return withOomScope(gpu.device, () => Qwen3LoraTrainer.build(gpu, shape, weights, lora, batch, seq, options, extension), (t) => t.dispose())
  }

  private static async build(gpu: Gpu, shape: EngineShape, weights: EngineWeights, lora: LoraConfig, batch: number, seq: number, options: TrainerOptions, ext: TrainerExtension | undefined): Promise<Qwen3LoraTrainer> {
    checkEngineShape(shape)
    if (!pickMatrixConfig(gpu)) throw new EngineShapeError("LoRA training on the WGSL kernels needs tensor cores (subgroup matrices)")
    const T = batch * seq
    if (T % 128 !== 0 || seq % 16 !== 0) throw new EngineShapeError(`batch × seq (${batch} × ${seq}) must be a multiple of 128 tokens and seq a multiple of 16`)
    const dev = gpu.device
    const { hidden: Hd, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocab, layers: L } = shape
    if (vocab * Hd * 2 > gpu.maxStorageBufferBindingSize) throw new EngineShapeError(`an lm_head of ${vocab} × ${Hd} exceeds one binding; the trainer does not shard it yet (the scoring engine does)`)
    const r = lora.r
    const s = lora.alpha / lora.r
    const format = weights.format

    // ---- kernels
    const [mm, mmAcc, mmKn, mmKnAcc, head, headKn, fused, el, bwd, attBwd] = await Promise.all([
      matmulPlan(gpu, format), matmulPlan(gpu, format, undefined, { accumulate: true }),
      matmulPlan(gpu, format, undefined, { weightLayout: "kn" }), matmulPlan(gpu, format, undefined, { weightLayout: "kn", accumulate: true }),
      matmulPlan(gpu, "f16"), matmulPlan(gpu, "f16", undefined, { weightLayout: "kn" }),
      fusedKernels(gpu, D), elementwiseKernels(gpu), backwardKernels(gpu, D), attentionBackwardFor(gpu, D, options.attentionBackward)
    ])
    const attention = await tensorCoreAttention(gpu, D, options.attentionForward, true, shape.heads / shape.kvHeads)
    const headSplits = options.headSplitK ?? splitKRanges(gpu, Math.min(HEAD_CHUNK, T), Hd)
    const splitHead = headSplits > 1 ? await splitKMatmul(gpu, "kn", pickMatrixConfig(gpu)!.M) : undefined
    const gm = async (aType: "f32" | "f16", bType: "f32" | "f16", transposeA: boolean, transposeB: boolean, accumulate: boolean) =>
      generalMatmul(gpu, { aType, bType, transposeA, transposeB, accumulate })
    const [gmXA, gmUB, gmDB32, gmDB16, gmDU32, gmDU16, gmDA, gmDX] = await Promise.all([
      gm("f16", "f32", false, true, false), // u = x·Aᵀ
      gm("f32", "f32", false, true, true), // y += s·u·Bᵀ
      gm("f32", "f32", true, false, true), // dB += s·dYᵀ·u (dY f32)
      gm("f16", "f32", true, false, true), // dB += s·dYᵀ·u (dY f16)
      gm("f32", "f32", false, false, false), // du = s·dY·B (dY f32)
      gm("f16", "f32", false, false, false), // du = s·dY·B (dY f16)
      gm("f32", "f16", true, false, true), // dA += duᵀ·x
      gm("f32", "f32", false, false, true) // dX += du·A
    ])

    // ---- buffers
    const owned: Array<GPUBuffer> = []
    const buf = (bytes: number) => {
      const b = storageBuffer(dev, Math.max(bytes, 16))
      owned.push(b)
      return b
    }
    const u = (words: Array<number>, floats: Array<number> = []) => uniformBuffer(dev, words, floats)
    const win = (b: GPUBuffer, offsetFloats: number, floats: number): Binding => ({ buffer: b, offset: offsetFloats * 4, size: floats * 4 })

    // LoRA parameters, one flat f32 buffer (and gradients, AdamW moments alike)
    const slots: Array<PairSlot> = []
    let at = 0
    for (let l = 0; l < L; l++) {
      for (const m of lora.targetModules) {
        const d = projectionDims(shape, m)
        const a = at
        at += align64(r * d.in)
        const b = at
        at += align64(d.out * r)
        slots.push({ path: `model.layers.${l}.${m === "q_proj" || m === "k_proj" || m === "v_proj" || m === "o_proj" ? "self_attn" : "mlp"}.${m}`, module: m, layer: l, inDim: d.in, outDim: d.out, a, b })
      }
    }
    const paramCount = at
    const init = new Float32Array(paramCount)
    const rand = mulberry32(options.seed ?? 0)
    for (const slot of slots) {
      // PEFT's initialisation: A kaiming-uniform (a = √5) = U(±1/√in), B zeros
      const bound = 1 / Math.sqrt(slot.inDim)
      for (let i = 0; i < r * slot.inDim; i++) init[slot.a + i] = (2 * rand() - 1) * bound
    }
    const P = storageBuffer(dev, paramCount > 0 ? init : 16)
    owned.push(P)
    const G = buf(paramCount * 4), M1 = buf(paramCount * 4), M2 = buf(paramCount * 4)
    const partials = buf(sumOfSquaresPartials(paramCount) * 4), norm = buf(16)

    const ids = buf(T * 4), targets = buf(T * 4), loss = buf(T * 4)
    const x = buf(T * Hd * 4), xh = buf(T * Hd * 2), dx = buf(T * Hd * 4), dxh = buf(T * Hd * 2), dxn = buf(T * Hd * 4)
    const qh = buf(T * H * D * 2), kh = buf(T * KV * D * 2), v = buf(T * KV * D * 4)
    const acth = buf(T * I * 2), dact = buf(T * I * 4), dgh = buf(T * I * 2), duh = buf(T * I * 2)
    const datt = buf(T * H * D * 4), dq = buf(T * H * D * 4), dk = buf(T * KV * D * 4), dv = buf(T * KV * D * 4)
    const dqPre = buf(T * H * D * 4), dkPre = buf(T * KV * D * 4), dqh = buf(T * H * D * 2), dkh = buf(T * KV * D * 2), dvh = buf(T * KV * D * 2)
    const du = buf(T * r * 4), dlt = buf(T * H * 4)
    // dropout: its kernels, the masks' seed, the dropped input of the projection at hand (f16) and
    // its LoRA dX before the mask (f32); undefined without dropout
    const widest = Math.max(Hd, H * D, I)
    const dropout = lora.dropout > 0 ? { kernels: await dropoutKernels(gpu), seed: buf(16), x: buf(T * widest * 2), dx: buf(T * widest * 4) } : undefined
    const chunk = Math.min(HEAD_CHUNK, T)
    const logits = buf(chunk * vocab * 4), dlogits = buf(chunk * vocab * 2), dxF = buf(T * Hd * 4)
    // what each layer keeps for its backward
    const saved = Array.from({ length: L }, () => ({
      xIn: buf(T * Hd * 4), qPre: buf(T * H * D * 4), kPre: buf(T * KV * D * 4), vh: buf(T * KV * D * 2),
      atth: buf(T * H * D * 2), lse: buf(T * H * 4), xMid: buf(T * Hd * 4), g: buf(T * I * 4), up: buf(T * I * 4),
      u: new Map(lora.targetModules.map((m) => [m, buf(T * r * 4)] as const))
    }))

    // ---- uniforms
    const n = (count: number) => u([count])
    const mmP = (M: number, N: number, K: number) => u([M, N, K, 0])
    const p = {
      norm: u([T, Hd, 0, 0], [shape.eps]),
      qk: u([T, seq, H, 0], [shape.eps, shape.theta]), kk: u([T, seq, KV, 0], [shape.eps, shape.theta]),
      att: u([batch, seq, seq, H, KV, 0, 0, 0], [1 / Math.sqrt(D)]),
      normBwd: u([T, Hd, 1, 0], [shape.eps]), normBwdFinal: u([T, Hd, 0, 0], [shape.eps]),
      hd: n(T * Hd), q: n(T * H * D), kv: n(T * KV * D), inter: n(T * I)
    }

    const slotOf = new Map(slots.map((sl) => [`${sl.layer} ${sl.module}`, sl]))
    const adapted = (l: number, m: ProjectionName) => slotOf.get(`${l} ${m}`)

    /** The mask's uniform per adapted projection (made once: the seed changes, not the site). */
    const dropParams = new Map<PairSlot, GPUBuffer>()
    const maskParams = (sl: PairSlot): GPUBuffer => {
      let params = dropParams.get(sl)
      if (!params) {
        params = dropoutParams(dev, T * sl.inDim, loraDropoutSite(sl.layer, sl.module), lora.dropout)
        dropParams.set(sl, params)
        owned.push(params)
      }
      return params
    }
    /** [] without dropout; else the projection's input dropped into dropout.x, which then stands for it. */
    const dropInput = (sl: PairSlot, xin: Binding): { readonly dispatches: Array<Dispatch>; readonly x: Binding } => {
      if (!dropout) return { dispatches: [], x: xin }
      const x = { buffer: dropout.x, offset: 0, size: T * sl.inDim * 2 }
      return { dispatches: [dropout.kernels.forwardF16({ X: xin, Y: x, seed: dropout.seed, params: maskParams(sl) }, T * sl.inDim)], x }
    }
    /** The forward's LoRA term on one projection: u = dropout(x)·Aᵀ (kept), C += s·u·Bᵀ. */
    const loraForward = (l: number, m: ProjectionName, xin: Binding, C: Binding): Array<Dispatch> => {
      const sl = adapted(l, m)
      if (!sl) return []
      const uBuf = saved[l]!.u.get(m)!
      const dropped = dropInput(sl, xin)
      return [
        ...dropped.dispatches,
        ...gmXA.dispatches({ A: dropped.x, B: win(P, sl.a, r * sl.inDim), C: uBuf, params: generalMatmulParams(dev, { M: T, N: r, K: sl.inDim }, {}, 1) }, { M: T, N: r, K: sl.inDim }),
        ...gmUB.dispatches({ A: uBuf, B: win(P, sl.b, sl.outDim * r), C, params: generalMatmulParams(dev, { M: T, N: sl.outDim, K: r }, {}, s) }, { M: T, N: sl.outDim, K: r })
      ]
    }
    /**
     * The LoRA part of a projection's backward: dB += s·dYᵀ·u, du = s·dY·B, dA += duᵀ·x̃, dX += du·A,
     * where x̃ = dropout(x), redrawn as the forward drew it, and du·A goes back through the mask.
     */
    const loraBackward = (l: number, m: ProjectionName, xin: Binding, dy: Binding, dyType: "f32" | "f16", dX: Binding): Array<Dispatch> => {
      const full = ext?.projection(l, m, xin, dy, dyType) ?? []
      const sl = adapted(l, m)
      if (!sl) return full
      const uBuf = saved[l]!.u.get(m)!
      const [gDB, gDU] = dyType === "f32" ? [gmDB32, gmDU32] : [gmDB16, gmDU16]
      const dropped = dropInput(sl, xin)
      const dxParams = generalMatmulParams(dev, { M: T, N: sl.inDim, K: r }, {}, 1)
      const dxThroughMask: Array<Dispatch> = dropout
        ? [
          ...gmDU32.dispatches({ A: du, B: win(P, sl.a, r * sl.inDim), C: win(dropout.dx, 0, T * sl.inDim), params: dxParams }, { M: T, N: sl.inDim, K: r }),
          dropout.kernels.accumulate({ S: win(dropout.dx, 0, T * sl.inDim), D: dX, seed: dropout.seed, params: maskParams(sl) }, T * sl.inDim)
        ]
        : gmDX.dispatches({ A: du, B: win(P, sl.a, r * sl.inDim), C: dX, params: dxParams }, { M: T, N: sl.inDim, K: r })
      return [
        ...full,
        ...gDB.dispatches({ A: dy, B: uBuf, C: win(G, sl.b, sl.outDim * r), params: generalMatmulParams(dev, { M: sl.outDim, N: r, K: T }, {}, s) }, { M: sl.outDim, N: r, K: T }),
        ...gDU.dispatches({ A: dy, B: win(P, sl.b, sl.outDim * r), C: du, params: generalMatmulParams(dev, { M: T, N: r, K: sl.outDim }, {}, s) }, { M: T, N: r, K: sl.outDim }),
        ...dropped.dispatches,
        ...gmDA.dispatches({ A: du, B: dropped.x, C: win(G, sl.a, r * sl.inDim), params: generalMatmulParams(dev, { M: r, N: sl.inDim, K: T }, {}, 1) }, { M: r, N: sl.inDim, K: T }),
        ...dxThroughMask
      ]
    }
    /** the norm backwards, followed by the extension's weight gradients */
    const rmsBackward = (b: Parameters<typeof bwd.rmsnormBackward>[0], rows: number): Array<Dispatch> => [bwd.rmsnormBackward(b, rows), ...(ext?.norm(b.W as GPUBuffer, b.X, b.dY) ?? [])]
    const qkBackward = (b: Parameters<typeof bwd.qkNormRopeBackward>[0], rows: number, heads: number): Array<Dispatch> =>
      [bwd.qkNormRopeBackward(b, rows, heads), ...(ext?.qkNorm(b.W as GPUBuffer, b.X, b.dY, heads) ?? [])]
    const linear = (plan: typeof mm, w: LinearWeight, A: Binding, C: Binding, M: number, N: number, K: number): Dispatch =>
      plan.dispatch({ A, C, params: mmP(M, N, K), B: w.B, ...(w.absmax ? { absmax: w.absmax } : {}) }, M, N, K)

    // each product's tile shape timed once per shape on this device (matmul.ts: tune), before the dispatches are recorded
    await mm.tune([{ M: T, N: H * D, K: Hd }, { M: T, N: KV * D, K: Hd }, { M: T, N: I, K: Hd }])
    await mmAcc.tune([{ M: T, N: Hd, K: H * D }, { M: T, N: Hd, K: I }])
    await mmKn.tune([{ M: T, N: I, K: Hd }, { M: T, N: Hd, K: I }, { M: T, N: H * D, K: Hd }, { M: T, N: Hd, K: H * D }])
    await mmKnAcc.tune([{ M: T, N: Hd, K: I }, { M: T, N: Hd, K: KV * D }])
    const headRows = [...new Set([chunk, T % chunk || chunk])]
    await head.tune(headRows.map((rows) => ({ M: rows, N: vocab, K: Hd })))
    await headKn.tune(headRows.map((rows) => ({ M: rows, N: Hd, K: vocab })))

    // ---- forward
    const fwd: Array<Dispatch> = []
    for (let l = 0; l < L; l++) {
      const w = weights.layers[l]!
      const k = saved[l]!
      fwd.push(
        el.copy({ X: x, Y: k.xIn, params: p.hd }, T * Hd),
        fused.rmsnormF16({ X: x, W: w.inputNorm, Y: xh, params: p.norm }, T),
        linear(mm, w.q, xh, k.qPre, T, H * D, Hd), ...loraForward(l, "q_proj", xh, k.qPre),
        linear(mm, w.k, xh, k.kPre, T, KV * D, Hd), ...loraForward(l, "k_proj", xh, k.kPre),
        linear(mm, w.v, xh, v, T, KV * D, Hd), ...loraForward(l, "v_proj", xh, v),
        fused.qkNormRopeF16({ X: k.qPre, W: w.qNorm, Y: qh, params: p.qk }, T, H),
        fused.qkNormRopeF16({ X: k.kPre, W: w.kNorm, Y: kh, params: p.kk }, T, KV),
        el.castF16({ X: v, Y: k.vh, params: p.kv }, T * KV * D),
        attention({ Q: qh, K: kh, V: k.vh, O: k.atth, LSE: k.lse, params: p.att }, batch, seq, H, seq),
        linear(mmAcc, w.o, k.atth, x, T, Hd, H * D), ...loraForward(l, "o_proj", k.atth, x),
        el.copy({ X: x, Y: k.xMid, params: p.hd }, T * Hd),
        fused.rmsnormF16({ X: x, W: w.postNorm, Y: xh, params: p.norm }, T),
        linear(mm, w.gate, xh, k.g, T, I, Hd), ...loraForward(l, "gate_proj", xh, k.g),
        linear(mm, w.up, xh, k.up, T, I, Hd), ...loraForward(l, "up_proj", xh, k.up),
        fused.swigluF16({ G: k.g, U: k.up, Y: acth, params: p.inter }, T * I),
        linear(mmAcc, w.down, acth, x, T, Hd, I), ...loraForward(l, "down_proj", acth, x)
      )
    }
    // ---- loss and its gradient into the final hidden states, chunk by chunk
    const lossHead: Array<Dispatch> = [fused.rmsnormF16({ X: x, W: weights.finalNorm, Y: xh, params: p.norm }, T)]
    const scaleUniform = uniformBuffer(dev, [chunk, vocab, 0, 0], [1]) // its scale is rewritten each batch: the loss scale
    const chunkScales: Array<GPUBuffer> = [scaleUniform]
    for (let c0 = 0; c0 < T; c0 += chunk) {
      const rows = Math.min(chunk, T - c0)
      const ce = rows === chunk ? scaleUniform : uniformBuffer(dev, [rows, vocab, 0, 0], [1])
      if (ce !== scaleUniform) chunkScales.push(ce)
      lossHead.push(
        head.dispatch({ A: { buffer: xh, offset: c0 * Hd * 2, size: rows * Hd * 2 }, B: weights.lmHead, C: logits, params: mmP(rows, vocab, Hd) }, rows, vocab, Hd),
        bwd.crossEntropyF16({ logits, targets: win(targets, c0, rows), loss: win(loss, c0, rows), dLogits: dlogits, params: ce }, rows),
        ...(splitHead
          ? splitHead({ A: dlogits, B: weights.lmHead, C: win(dxF, c0 * Hd, rows * Hd) }, rows, Hd, vocab, headSplits)
          : [headKn.dispatch({ A: dlogits, B: weights.lmHead, C: win(dxF, c0 * Hd, rows * Hd), params: mmP(rows, Hd, vocab) }, rows, Hd, vocab)]),
        ...(ext?.head(rows, dlogits, { buffer: xh, offset: c0 * Hd * 2, size: rows * Hd * 2 }) ?? [])
      )
    }
    lossHead.push(...rmsBackward({ X: x, W: weights.finalNorm, dY: dxF, dX: dx, params: p.normBwdFinal }, T))

    // ---- backward, layers in reverse
    const back: Array<Dispatch> = []
    for (let l = L - 1; l >= 0; l--) {
      const w = weights.layers[l]!
      const k = saved[l]!
      back.push(
        // MLP
        fused.rmsnormF16({ X: k.xMid, W: w.postNorm, Y: xh, params: p.norm }, T),
        fused.swigluF16({ G: k.g, U: k.up, Y: acth, params: p.inter }, T * I),
        el.castF16({ X: dx, Y: dxh, params: p.hd }, T * Hd),
        linear(mmKn, w.down, dxh, dact, T, I, Hd), ...loraBackward(l, "down_proj", acth, dx, "f32", dact),
        bwd.swigluBackwardF16({ G: k.g, U: k.up, dY: dact, dG: dgh, dU: duh, params: p.inter }, T * I),
        linear(mmKn, w.gate, dgh, dxn, T, Hd, I), linear(mmKnAcc, w.up, duh, dxn, T, Hd, I),
        ...loraBackward(l, "gate_proj", xh, dgh, "f16", dxn), ...loraBackward(l, "up_proj", xh, duh, "f16", dxn),
        ...rmsBackward({ X: k.xMid, W: w.postNorm, dY: dxn, dX: dx, params: p.normBwd }, T),
        // attention
        el.castF16({ X: dx, Y: dxh, params: p.hd }, T * Hd),
        linear(mmKn, w.o, dxh, datt, T, H * D, Hd), ...loraBackward(l, "o_proj", k.atth, dx, "f32", datt),
        fused.rmsnormF16({ X: k.xIn, W: w.inputNorm, Y: xh, params: p.norm }, T),
        fused.qkNormRopeF16({ X: k.qPre, W: w.qNorm, Y: qh, params: p.qk }, T, H),
        fused.qkNormRopeF16({ X: k.kPre, W: w.kNorm, Y: kh, params: p.kk }, T, KV),
        ...attBwd.record({ Q: qh, K: kh, V: k.vh, O: k.atth, dO: datt, LSE: k.lse, dQ: dq, dK: dk, dV: dv, Dlt: dlt, dOh: dqh, params: p.att }, batch, seq, H, KV, seq), // dqh is free until the cast below
        ...qkBackward({ X: k.qPre, W: w.qNorm, dY: dq, dX: dqPre, params: p.qk }, T, H),
        ...qkBackward({ X: k.kPre, W: w.kNorm, dY: dk, dX: dkPre, params: p.kk }, T, KV),
        el.castF16({ X: dqPre, Y: dqh, params: p.q }, T * H * D),
        el.castF16({ X: dkPre, Y: dkh, params: p.kv }, T * KV * D),
        el.castF16({ X: dv, Y: dvh, params: p.kv }, T * KV * D),
        linear(mmKn, w.q, dqh, dxn, T, Hd, H * D), linear(mmKnAcc, w.k, dkh, dxn, T, Hd, KV * D), linear(mmKnAcc, w.v, dvh, dxn, T, Hd, KV * D),
        ...loraBackward(l, "q_proj", xh, dqPre, "f32", dxn), ...loraBackward(l, "k_proj", xh, dkPre, "f32", dxn), ...loraBackward(l, "v_proj", xh, dv, "f32", dxn),
        ...rmsBackward({ X: k.xIn, W: w.inputNorm, dY: dxn, dX: dx, params: p.normBwd }, T)
      )
    }
    const embed = await (await import("./token-kernels.ts")).tokenKernels(gpu)
    const unscale = uniformBuffer(dev, [paramCount], [1])
    const sumSq = bwd.sumOfSquares({ X: G, partials, out: norm, params: u([paramCount, sumOfSquaresPartials(paramCount)]) }, paramCount)
    const forwardBackward = [embed.embed({ ids, E: weights.embed, X: x, params: u([T, Hd, vocab, 0, vocab]) }, T), ...fwd, ...lossHead, ...back, ...(ext?.embedding(dx) ?? [])]
    const finishGradients = ext ? ext.finish(norm) : [el.scale({ X: G, params: unscale }, paramCount), ...sumSq]
    const o = { lr: options.learningRate ?? 2e-4, wd: options.weightDecay ?? 0, b1: options.beta1 ?? 0.9, b2: options.beta2 ?? 0.999, eps: options.eps ?? 1e-8, clip: options.maxGradNorm ?? 1 }
    const optimizerParams = u([paramCount, 0], [o.lr, o.b1, o.b2, o.eps, o.wd, o.clip])
    const optimizer = ext ? ext.optimizer(norm) : [bwd.adamw({ P, G, M: M1, V: M2, norm, params: optimizerParams }, paramCount)]
    return new Qwen3LoraTrainer(gpu, shape, batch, seq, lora, slots, P, G, paramCount, ids, targets, loss, owned, forwardBackward, finishGradients, optimizer,
      { buffer: optimizerParams, lr: o.lr }, { m: M1, v: M2 }, options.meanOver ?? "tokens", { ce: chunkScales, unscale, norm }, owned.reduce((a, b) => a + b.size, 0), options.lossScale ?? 1024,
      dropout?.seed, options.seed ?? 0, ext)
  }

  private zeros: Float32Array<ArrayBuffer> | undefined

  /** One micro-batch's forward, loss and backward, then the gradients' finish and AdamW: what a step runs (profiling). */
  stepDispatches(): ReadonlyArray<Dispatch> {
    return [...this.forwardBackward, ...this.finishGradients, ...this.optimizer]
  }

  /** Loads a micro-batch and writes the cross-entropy's scale (the loss scale × `weight`). */
  private load(batch: MicroBatch, weight: number): void {
    const T = this.batch * this.seq
    if (batch.ids.length !== T || batch.targets.length !== T) throw new EngineShapeError(`${batch.ids.length} ids and ${batch.targets.length} targets for a ${this.batch} × ${this.seq} trainer`)
    const q = this.gpu.device.queue
    q.writeBuffer(this.ids, 0, batch.ids)
    q.writeBuffer(this.targets, 0, batch.targets)
    for (const u of this.perBatch.ce) q.writeBuffer(u, 16, new Float32Array([this.lossScale * weight]))
    this.extension?.load(batch.ids)
    if (this.dropoutSeed) q.writeBuffer(this.dropoutSeed, 0, new Uint32Array([batch.dropoutSeed ?? mix32(Math.imul(this.seed, 7919) + this.loaded)]))
    this.loaded++
  }

  /**
   * Loss and LoRA gradients of the mean loss over micro-batches (gradient accumulation), no update.
   * `targets[t]` is the token position t predicts, or 0xFFFFFFFF where it predicts nothing
   * (padding, a row's last position).
   */
  async gradients(batches: ReadonlyArray<MicroBatch>): Promise<{ readonly loss: number; readonly gradNorm: number }> {
    const dev = this.gpu.device
    const T = this.batch * this.seq
    dev.queue.writeBuffer(this.G, 0, (this.zeros ??= new Float32Array(this.paramCount)))
    this.extension?.clearGradients()
    const counts = batches.map((b) => b.targets.reduce((a, t) => a + (t === IGNORE ? 0 : 1), 0))
    const counted = counts.reduce((a, c) => a + c, 0)
    if (counted === 0) throw new EngineShapeError("the batch has no target tokens")
    if (this.meanOver === "micro-batches" && counts.includes(0)) throw new EngineShapeError(`micro-batch ${counts.indexOf(0)} has no target tokens`)
    // Per micro-batch weight w_i such that the unscaled gradient Σ w_i·g_i / counted is the wanted
    // mean: 1 for the mean over tokens, counted / (n·count_i) for the mean of micro-batch means.
    const weights = counts.map((c) => (this.meanOver === "tokens" ? 1 : counted / (batches.length * c)))
    let loss = 0
    for (const [i, batch] of batches.entries()) {
      this.load(batch, weights[i]!)
      await runDispatches(dev, this.forwardBackward)
      const sum = new Float32Array(await readBuffer(dev, this.loss, T * 4)).reduce((a, b) => a + b, 0)
      loss += this.meanOver === "tokens" ? sum / counted : sum / counts[i]! / batches.length
    }
    dev.queue.writeBuffer(this.perBatch.unscale, 4, new Float32Array([1 / (this.lossScale * counted)]))
    this.extension?.setUnscale(1 / (this.lossScale * counted))
    await runDispatches(dev, this.finishGradients)
    const norm2 = new Float32Array(await readBuffer(dev, this.perBatch.norm, 4))[0]!
    return { loss, gradNorm: Math.sqrt(norm2) }
  }

  /**
   * One optimizer step over micro-batches (skipped, with the loss scale halved, if the gradients
   * overflowed), at learning rate `lr` (default: the options' learningRate; a schedule passes its own).
   */
  async trainStep(batches: ReadonlyArray<MicroBatch>, lr?: number): Promise<StepResult> {
    const lossScale = this.lossScale
    const { loss, gradNorm } = await this.gradients(batches)
    if (!Number.isFinite(gradNorm)) {
      this.lossScale /= 2
      return { loss, gradNorm, skipped: true, lossScale }
    }
    this.step++
    const q = this.gpu.device.queue
    q.writeBuffer(this.optimizerParams.buffer, 4, new Uint32Array([this.step]))
    q.writeBuffer(this.optimizerParams.buffer, 8, new Float32Array([lr ?? this.optimizerParams.lr]))
    this.extension?.setStep(this.step, lr ?? this.optimizerParams.lr)
    await runDispatches(this.gpu.device, this.optimizer)
    return { loss, gradNorm, skipped: false, lossScale }
  }

  /** The LoRA pairs (their gradients, AdamW moments) by projection path: a [r, in], b [out, r]. */
  async readPairs(what: "params" | "grads" | "m" | "v" = "params"): Promise<Map<string, { a: Float32Array; b: Float32Array }>> {
    const source = { params: this.P, grads: this.G, m: this.moments.m, v: this.moments.v }[what]
    const all = new Float32Array(await readBuffer(this.gpu.device, source, this.paramCount * 4))
    const r = this.lora.r
    return new Map(this.slots.map((sl) => [sl.path, { a: all.slice(sl.a, sl.a + r * sl.inDim), b: all.slice(sl.b, sl.b + sl.outDim * r) }]))
  }

  /** Sets LoRA pairs (or AdamW moments) from the host (tests, resuming); paths not given are left as they are. */
  writePairs(pairs: ReadonlyMap<string, { readonly a: Float32Array; readonly b: Float32Array }>, what: "params" | "m" | "v" = "params"): void {
    const target = { params: this.P, m: this.moments.m, v: this.moments.v }[what]
    const r = this.lora.r
    for (const sl of this.slots) {
      const pair = pairs.get(sl.path)
      if (!pair) continue
      if (pair.a.length !== r * sl.inDim || pair.b.length !== sl.outDim * r) {
        throw new EngineShapeError(`${sl.path}: ${pair.a.length} + ${pair.b.length} values, expected A [${r}, ${sl.inDim}] and B [${sl.outDim}, ${r}]`)
      }
      this.gpu.device.queue.writeBuffer(target, sl.a * 4, Float32Array.from(pair.a))
      this.gpu.device.queue.writeBuffer(target, sl.b * 4, Float32Array.from(pair.b))
    }
  }

  /** The optimizer's state, for a checkpoint: AdamW moments, steps taken (its bias correction), loss scale. */
  async readState(): Promise<OptimizerState> {
    return { step: this.step, lossScale: this.lossScale, m: await this.readPairs("m"), v: await this.readPairs("v") }
  }

  /** Restores readState()'s state (resuming); every adapted path must be present. */
  writeState(state: OptimizerState): void {
    const missing = this.slots.filter((sl) => !state.m.has(sl.path) || !state.v.has(sl.path)).map((sl) => sl.path)
    if (missing.length > 0) throw new EngineShapeError(`optimizer state lacks moments for ${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ` and ${missing.length - 3} more` : ""}`)
    this.writePairs(state.m, "m")
    this.writePairs(state.v, "v")
    this.step = state.step
    this.lossScale = state.lossScale
  }

  /** The loss scale the next step runs at. */
  get currentLossScale(): number {
    return this.lossScale
  }

  /** Optimizer steps taken (skipped ones not counted). */
  get steps(): number {
    return this.step
  }

  dispose(): void {
    for (const b of this.owned) b.destroy()
  }
}
