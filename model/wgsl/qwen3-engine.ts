import { encodeDispatches, readBuffer, storageBuffer, toF16, uniformBuffer, type Dispatch, submitChecked } from "./kernels/buffers.ts"
import { pickMatrixConfig, type Gpu } from "./kernels/device.ts"
import { tensorCoreAttention, type AttentionForm } from "./kernels/attention-tc.ts"
import { elementwiseKernels, fusedKernels } from "./kernels/fused.ts"
import { gemvPlan, type LayerMatmul } from "./kernels/gemv.ts"
import { matmulPlan, type MatmulPlan, type WeightFormat } from "./kernels/matmul.ts"
import { nf4Absmax, quantizeNf4 } from "../formats/nf4.ts"
import type { Qwen3Config } from "../qwen3/config.ts"
import { tableShards, tokenKernels } from "./token-kernels.ts"
import { gateUpEpilogue, pickEpilogue, swigluEpilogue } from "./epilogue-choice.ts"
import { concatRows, interleaveRows } from "./kernels/weight-merge.ts"

/**
 * Qwen3 scoring forward built from fleuve's WGSL kernels: token ids in, for every position the
 * log-probability of its target token and whether the target was the argmax out. Weights live on
 * the GPU as f16 (or NF4, dequantised inside the matmul); activations between kernels are f32
 * where they are summed (the residual stream, projections before their norms) and f16 where they
 * only feed a tensor-core operand. One layer is 12 dispatches:
 *
 *   rmsnorm→f16 · q, k, v matmuls · q/k norm+RoPE→f16, v→f16 · tensor-core attention→f16 ·
 *   o matmul accumulated onto the residual · rmsnorm→f16 · gate, up matmuls · SwiGLU→f16 ·
 *   down matmul accumulated onto the residual
 *
 * or 7 on the tensor cores with both merges (session 12): one q|k|v matmul over the three weights
 * concatenated and one kernel for the q/k norms, RoPE and the v cast (qkvMergeWanted), and one
 * gate|up matmul over the two weights interleaved whose epilogue writes SwiGLU's f16 output, neither
 * projection stored (epilogue-choice.ts gateUpEpilogue). The merged weights are GPU copies made
 * once per weights beside the caller's and freed with them (weightBuffers lists them); a follow-up
 * could upload them merged in the first place.
 *
 * then the final norm, and the lm_head in chunks of rows (its logits are consumed chunk by chunk
 * by the pick kernels, so a vocabulary-wide f32 matrix for all tokens never exists). An
 * embedding table / lm_head larger than one binding (2 GiB: hidden ≥ 7168 at Qwen3's vocabulary)
 * is bound as row shards of one buffer; the pick merges the shards' log-sum-exp and argmax.
 *
 * Shapes: tokens a batch (batch × seq) a multiple of 128, seq a multiple of 16, hidden,
 * intermediate, q/kv widths and vocab multiples of 128 (every Qwen3 size is), head_dim a multiple
 * of 32. Sequences are right-padded by the caller: causal attention keeps padding invisible to
 * the real tokens before it.
 */

/** The sizes the engine needs (Qwen3Config's, or a benchmark's random model). */
export interface EngineShape {
  readonly hidden: number
  readonly heads: number
  readonly kvHeads: number
  readonly headDim: number
  readonly intermediate: number
  readonly vocab: number
  readonly layers: number
  readonly eps: number
  readonly theta: number
}

export const engineShape = (c: Qwen3Config): EngineShape => ({
  hidden: c.hiddenSize, heads: c.numHeads, kvHeads: c.numKvHeads, headDim: c.headDim, intermediate: c.intermediateSize,
  vocab: c.vocabSize, layers: c.numLayers, eps: c.rmsNormEps, theta: c.ropeTheta
})

export class EngineShapeError extends Error {}

export const checkEngineShape = (s: EngineShape): void => {
  const widths: Array<[string, number]> = [["hidden_size", s.hidden], ["intermediate_size", s.intermediate], ["heads × head_dim", s.heads * s.headDim], ["kv_heads × head_dim", s.kvHeads * s.headDim], ["vocab_size", s.vocab]]
  const bad = widths.filter(([, n]) => n % 128 !== 0)
  if (bad.length > 0) throw new EngineShapeError(`the WGSL engine needs multiples of 128: ${bad.map(([k, n]) => `${k} = ${n}`).join(", ")}`)
  if (s.headDim % 32 !== 0) throw new EngineShapeError(`the WGSL engine needs head_dim a multiple of 32, not ${s.headDim}`)
}

/** A linear layer's weight as the matmul binds it: f16 [N, K], or NF4 words + absmax. */
export interface LinearWeight {
  readonly B: GPUBuffer
  readonly absmax?: GPUBuffer
}

export interface LayerWeights {
  readonly q: LinearWeight
  readonly k: LinearWeight
  readonly v: LinearWeight
  readonly o: LinearWeight
  readonly gate: LinearWeight
  readonly up: LinearWeight
  readonly down: LinearWeight
  readonly inputNorm: GPUBuffer
  readonly postNorm: GPUBuffer
  readonly qNorm: GPUBuffer
  readonly kNorm: GPUBuffer
}

export interface EngineWeights {
  readonly format: WeightFormat
  /** f16 [vocab, hidden] */
  readonly embed: GPUBuffer
  /** f16 [vocab, hidden]; the embedding buffer itself when the checkpoint ties them */
  readonly lmHead: GPUBuffer
  readonly finalNorm: GPUBuffer
  readonly layers: ReadonlyArray<LayerWeights>
}

/** Uploads a linear weight [N, K] in `format`: f16, or NF4 quantised once on the host. */
export const uploadLinear = (device: GPUDevice, format: WeightFormat, values: Float32Array, N: number, K: number): LinearWeight => {
  if (format === "f16") return { B: storageBuffer(device, toF16(values)) }
  const q = quantizeNf4(values, [N, K])
  return { B: storageBuffer(device, new Uint32Array(q.packed.buffer, q.packed.byteOffset, q.packed.byteLength / 4)), absmax: storageBuffer(device, nf4Absmax(q.stats)) }
}

/** Uploads a checkpoint's tensors (by Hugging Face name, f32 on the host). */
export const uploadQwen3Weights = (gpu: Gpu, shape: EngineShape, format: WeightFormat, tensor: (name: string) => Float32Array, tied: boolean): EngineWeights => {
  const dev = gpu.device
  const { hidden: Hd, heads: H, kvHeads: KV, headDim: D, intermediate: I } = shape
  const lin = (name: string, N: number, K: number) => uploadLinear(dev, format, tensor(`${name}.weight`), N, K)
  const f32 = (name: string) => storageBuffer(dev, tensor(name))
  const embed = storageBuffer(dev, toF16(tensor("model.embed_tokens.weight")))
  return {
    format,
    embed,
    lmHead: tied ? embed : storageBuffer(dev, toF16(tensor("lm_head.weight"))),
    finalNorm: f32("model.norm.weight"),
    layers: Array.from({ length: shape.layers }, (_, l) => {
      const p = `model.layers.${l}`
      return {
        q: lin(`${p}.self_attn.q_proj`, H * D, Hd), k: lin(`${p}.self_attn.k_proj`, KV * D, Hd), v: lin(`${p}.self_attn.v_proj`, KV * D, Hd),
        o: lin(`${p}.self_attn.o_proj`, Hd, H * D),
        gate: lin(`${p}.mlp.gate_proj`, I, Hd), up: lin(`${p}.mlp.up_proj`, I, Hd), down: lin(`${p}.mlp.down_proj`, Hd, I),
        inputNorm: f32(`${p}.input_layernorm.weight`), postNorm: f32(`${p}.post_attention_layernorm.weight`),
        qNorm: f32(`${p}.self_attn.q_norm.weight`), kNorm: f32(`${p}.self_attn.k_norm.weight`)
      }
    })
  }
}

/**
 * Weights derived from a model's own for the scoring forward (q|k|v concatenated, gate/up
 * interleaved: GPU copies), made once per weights and kind, whatever number of engines (batch ×
 * seq shapes) or decoders run over them, and freed with the weights: weightBuffers lists them.
 */
const derived = new WeakMap<EngineWeights, Map<string, ReadonlyArray<LinearWeight>>>()

const derivedWeights = (weights: EngineWeights, kind: string, make: () => ReadonlyArray<LinearWeight>): ReadonlyArray<LinearWeight> => {
  const kinds = derived.get(weights) ?? new Map<string, ReadonlyArray<LinearWeight>>()
  derived.set(weights, kinds)
  const made = kinds.get(kind) ?? make()
  kinds.set(kind, made)
  return made
}

const linearBuffers = (x: LinearWeight): Array<GPUBuffer> => (x.absmax ? [x.B, x.absmax] : [x.B])

/** Every buffer the weights hold (the tied head counted once), the copies derived from them for the scoring forward included. */
export const weightBuffers = (w: EngineWeights): Array<GPUBuffer> => [
  ...new Set([w.embed, w.lmHead, w.finalNorm, ...w.layers.flatMap((l) => [
    ...[l.q, l.k, l.v, l.o, l.gate, l.up, l.down].flatMap(linearBuffers),
    l.inputNorm, l.postNorm, l.qNorm, l.kNorm
  ]), ...[...(derived.get(w)?.values() ?? [])].flat().flatMap(linearBuffers)])
]

export interface TokenScores {
  /** log-probability of each position's target under the model */
  readonly logprob: Float32Array
  /** the argmax token id at each position */
  readonly argmax: Uint32Array
}

/** Rows of logits the lm_head computes at a time. */
const HEAD_CHUNK = 1024

export interface EngineOptions {
  /** the scalar f32 attention even where tensor cores are there (for comparisons) */
  readonly attention?: "tensor-core" | "scalar"
  /** the tensor-core attention's form (default defaultAttentionForm(): FLEUVE_ATTENTION_FORWARD; benchmarks compare forms) */
  readonly attentionVariant?: AttentionForm
  /** the largest binding to use (default: the device's maxStorageBufferBindingSize); tests lower it to exercise sharding */
  readonly maxBindingBytes?: number
}

/** The activations every forward over T tokens holds (f32 where summed, f16 where a tensor-core operand reads them). */
export interface TokenBuffers {
  readonly ids: GPUBuffer
  readonly targets: GPUBuffer
  /** (log-prob of the target, argmax) a token */
  readonly out: GPUBuffer
  readonly x: GPUBuffer
  readonly xh: GPUBuffer
  readonly q: GPUBuffer
  readonly k: GPUBuffer
  readonly v: GPUBuffer
  readonly qh: GPUBuffer
  readonly atth: GPUBuffer
  readonly g: GPUBuffer
  readonly up: GPUBuffer
  readonly acth: GPUBuffer
}

/**
 * What the scoring engine and the decoder (model/wgsl/qwen3-decoder.ts) share for a forward over
 * T tokens: the kernels, the activations, the embedding and head dispatches, and a layer's
 * dispatches around its attention block (which differs: whole sequences, or one token a row
 * against a KV cache). Buffers made through `buf` and `u` are listed in `made`, for dispose.
 */
export const forwardParts = async (gpu: Gpu, shape: EngineShape, weights: EngineWeights, T: number, options: EngineOptions & { readonly gemvRows?: number; readonly qkvMerge?: boolean } = {}) => {
  const dev = gpu.device
  const { hidden: Hd, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocab } = shape
  const format = weights.format
  // gemvRows (a decoder of at most GEMV_ROWS rows, f16 weights): the layers' matmuls on the GEMV,
  // over that many rows of the T allocated; the lm_head stays on the tensor cores
  const gemv = options.gemvRows !== undefined && format === "f16"
  const M = gemv ? options.gemvRows! : T
  const [mm, mmAcc, mmHead, fused, el, tok] = await Promise.all([
    gemv ? gemvPlan(gpu) : matmulPlan(gpu, format), gemv ? gemvPlan(gpu, { accumulate: true }) : matmulPlan(gpu, format, undefined, { accumulate: true }), matmulPlan(gpu, "f16"),
    fusedKernels(gpu, D), elementwiseKernels(gpu), tokenKernels(gpu)
  ])
  const chunkRows = Math.min(HEAD_CHUNK, T)
  // The matmul epilogues (matmul-tiles.ts), where the tensor-core tiles exist and the device finds
  // them right and faster (epilogue-choice.ts; FLEUVE_SWIGLU_EPILOGUE / FLEUVE_PICK_EPILOGUE = 1 or 0
  // decide instead): the up projection writes SwiGLU's f16 output itself (one pass over U fewer a
  // layer), and the lm_head reduces its logits to log-softmax partials in its tiles, so the f32
  // logits (a chunk's 622 MB at Qwen3's vocabulary) are never written nor read back by the pick.
  // Better still where the device finds it right and faster (FLEUVE_GATE_UP_EPILOGUE): gate and up
  // as one product over their weights interleaved, SwiGLU in its epilogue, neither projection stored.
  const gateUp = gemv ? undefined : await gateUpEpilogue(gpu, format, mm as MatmulPlan, fused, { M: Math.min(T, 2048), N: I, K: Hd })
  const upSwiglu = gemv || gateUp ? undefined : await swigluEpilogue(gpu, format, mm as MatmulPlan, fused, { M: Math.min(T, 2048), N: I, K: Hd })
  const headPick = gemv ? undefined : await pickEpilogue(gpu, mmHead, tok, { M: chunkRows, N: Math.min(vocab, 32768), K: Hd })
  // each product's tile shape timed once per shape on this device (matmul.ts: tune), before the dispatches are recorded
  if (!gemv) await (mm as MatmulPlan).tune([{ M, N: H * D, K: Hd }, { M, N: KV * D, K: Hd }, { M, N: I, K: Hd }])
  if (!gemv) await (mmAcc as MatmulPlan).tune([{ M, N: Hd, K: H * D }, { M, N: Hd, K: I }])
  if (gateUp) await gateUp.tune([{ M, N: 2 * I, K: Hd }])
  // q|k|v as one product (qkvMergeWanted; the caller says so where its attention reads the merged rows)
  const qkvMerge = !gemv && options.qkvMerge === true
  if (qkvMerge) await (mm as MatmulPlan).tune([{ M, N: (H + 2 * KV) * D, K: Hd }])
  await mmHead.tune(tableShards(vocab, Hd, options.maxBindingBytes ?? gpu.maxStorageBufferBindingSize).flatMap((sh) =>
    [...new Set([chunkRows, T % chunkRows || chunkRows])].map((rows) => ({ M: rows, N: sh.rows, K: Hd }))))
  const made: Array<GPUBuffer> = []
  const buf = (bytes: number) => {
    const b = storageBuffer(dev, bytes)
    made.push(b)
    return b
  }
  const u = (words: Array<number>, floats: Array<number> = []) => {
    const b = uniformBuffer(dev, words, floats)
    made.push(b) // freed with the activations
    return b
  }
  const b: TokenBuffers = {
    ids: buf(T * 4), targets: buf(T * 4), out: buf(T * 8),
    x: buf(T * Hd * 4), xh: buf(T * Hd * 2),
    // the merged q|k|v product writes `qkv` instead: no room for the three
    q: buf(qkvMerge ? 16 : T * H * D * 4), k: buf(qkvMerge ? 16 : T * KV * D * 4), v: buf(qkvMerge ? 16 : T * KV * D * 4), qh: buf(T * H * D * 2), atth: buf(T * H * D * 2),
    // the gate-up epilogue stores neither projection: no room for them
    g: buf(gateUp ? 16 : T * I * 4), up: buf(gateUp ? 16 : T * I * 4), acth: buf(T * I * 2)
  }
  // q|k|v's merged weights and the product's rows [T, H + 2·KV heads, D]: weights made once per weights (derivedWeights)
  const qkvWeights = qkvMerge ? derivedWeights(weights, "qkv", () => mergeQkvWeights(dev, format, shape, weights.layers)) : undefined
  const qkvOut = qkvMerge ? buf(T * (H + 2 * KV) * D * 4) : undefined
  const qkvLayer = new Map(qkvWeights?.map((m, l) => [weights.layers[l]!, m]) ?? [])
  // gate and up's weights interleaved for the gate-up epilogue: copies made once for these weights (derivedWeights)
  const gateUpWeights = new Map<LayerWeights, LinearWeight>()
  if (gateUp) {
    const merged = derivedWeights(weights, `gate-up|${gateUp.fragment}`, () => {
      const enc = dev.createCommandEncoder()
      const out = weights.layers.map((w) => interleaveRows(dev, enc, format, Hd, w.gate, w.up, I, gateUp.fragment!))
      dev.queue.submit([enc.finish()])
      return out
    })
    weights.layers.forEach((w, l) => gateUpWeights.set(w, merged[l]!))
  }
  const chunk = Math.min(HEAD_CHUNK, T)
  // the embedding table and lm_head bound shard by shard where they exceed one binding (2 GiB)
  const shards = tableShards(vocab, Hd, options.maxBindingBytes ?? gpu.maxStorageBufferBindingSize)
  const widest = Math.max(...shards.map((sh) => sh.rows))
  // the logits of a chunk, or (pick epilogue) its partials: 16 bytes a row and block of columns
  const logits = buf(headPick ? chunk * (widest / headPick.pickWidth!) * 16 : chunk * widest * 4)
  const state = buf(T * 16)
  const p = {
    norm: u([T, Hd, 0, 0], [shape.eps]),
    q: u([M, H * D, Hd, 0]), kv: u([M, KV * D, Hd, 0]), o: u([M, Hd, H * D, 0]), gu: u([M, I, Hd, 0]), down: u([M, Hd, I, 0]),
    swiglu: u([T * I]), gateUp: u([M, 2 * I, Hd, 0]), qkv: u([M, (H + 2 * KV) * D, Hd, 0])
  }
  /**
   * One layer: rmsnorm→f16 · q, k, v matmuls (or one over the three weights merged, into `qkv`) ·
   * `attention` (q, k, v or qkv → atth) · o (+residual) · rmsnorm→f16 · gate, up ·
   * SwiGLU→f16 (or gate|up as one product with SwiGLU in its epilogue, or SwiGLU in up's) · down (+residual).
   */
  const layer = (w: LayerWeights, attention: ReadonlyArray<readonly [string, Dispatch]>): Array<readonly [string, Dispatch]> => [
    ["rmsnorm", fused.rmsnormF16({ X: b.x, W: w.inputNorm, Y: b.xh, params: p.norm }, T)],
    ...(qkvOut
      ? [["matmul qkv", mm.dispatch({ A: b.xh, C: qkvOut, params: p.qkv, ...qkvLayer.get(w)! }, M, (H + 2 * KV) * D, Hd)] as const]
      : [
        ["matmul q", mm.dispatch({ A: b.xh, C: b.q, params: p.q, ...w.q }, M, H * D, Hd)] as const,
        ["matmul k", mm.dispatch({ A: b.xh, C: b.k, params: p.kv, ...w.k }, M, KV * D, Hd)] as const,
        ["matmul v", mm.dispatch({ A: b.xh, C: b.v, params: p.kv, ...w.v }, M, KV * D, Hd)] as const
      ]),
    ...attention,
    ["matmul o (+residual)", mmAcc.dispatch({ A: b.atth, C: b.x, params: p.o, ...w.o }, M, Hd, H * D)],
    ["rmsnorm", fused.rmsnormF16({ X: b.x, W: w.postNorm, Y: b.xh, params: p.norm }, T)],
    ...(gateUp
      ? [["matmul gate|up + swiglu", gateUp.dispatch({ A: b.xh, C: b.acth, params: p.gateUp, ...gateUpWeights.get(w)! }, M, 2 * I, Hd)] as const]
      : [
        ["matmul gate", mm.dispatch({ A: b.xh, C: b.g, params: p.gu, ...w.gate }, M, I, Hd)] as const,
        ...(upSwiglu
          ? [["matmul up + swiglu", upSwiglu.dispatch({ A: b.xh, C: b.up, G: b.g, Y: b.acth, params: p.gu, ...w.up }, M, I, Hd)] as const]
          : [["matmul up", mm.dispatch({ A: b.xh, C: b.up, params: p.gu, ...w.up }, M, I, Hd)] as const, ["swiglu", fused.swigluF16({ G: b.g, U: b.up, Y: b.acth, params: p.swiglu }, T * I)] as const])
      ]),
    ["matmul down (+residual)", mmAcc.dispatch({ A: b.acth, C: b.x, params: p.down, ...w.down }, M, Hd, I)]
  ]
  const rowsOf = (t: GPUBuffer, sh: { row0: number; rows: number }) => ({ buffer: t, offset: sh.row0 * Hd * 2, size: sh.rows * Hd * 2 })
  const head: Array<Dispatch> = [fused.rmsnormF16({ X: b.x, W: weights.finalNorm, Y: b.xh, params: p.norm }, T)]
  for (let c0 = 0; c0 < T; c0 += chunk) {
    const rows = Math.min(chunk, T - c0)
    const targets = { buffer: b.targets, offset: c0 * 4, size: rows * 4 }
    const rowState = { buffer: state, offset: c0 * 16, size: rows * 16 }
    shards.forEach((sh, i) => head.push(...(headPick ? [
      headPick.dispatch({ A: { buffer: b.xh, offset: c0 * Hd * 2, size: rows * Hd * 2 }, B: rowsOf(weights.lmHead, sh), C: logits, targets, params: u([rows, sh.rows, Hd, sh.row0]) }, rows, sh.rows, Hd),
      tok.pickMerge({ partials: logits, targets, state: rowState, params: u([rows, sh.rows, sh.row0, i === 0 ? 1 : 0, sh.rows / headPick.pickWidth!, headPick.pickWidth!]) }, rows)
    ] : [
      mmHead.dispatch({ A: { buffer: b.xh, offset: c0 * Hd * 2, size: rows * Hd * 2 }, B: rowsOf(weights.lmHead, sh), C: logits, params: u([rows, sh.rows, Hd, 0]) }, rows, sh.rows, Hd),
      tok.pickPartial({ logits, targets, state: rowState, params: u([rows, sh.rows, sh.row0, i === 0 ? 1 : 0]) }, rows)
    ])))
    head.push(tok.pickFinish({ state: rowState, out: { buffer: b.out, offset: c0 * 8, size: rows * 8 }, params: u([rows]) }, rows))
  }
  const embed = shards.map((sh) => tok.embed({ ids: b.ids, E: rowsOf(weights.embed, sh), X: b.x, params: u([T, Hd, vocab, sh.row0, sh.rows]) }, T))
  return { kernels: { mm, fused, el, tok }, b, qkv: qkvOut, buf, u, made, layer, embed, head }
}

/**
 * Whether the scoring forward projects q, k and v with one matmul over their weights merged
 * (FLEUVE_QKV_MERGE: 1, the default, or 0 for three matmuls): one dispatch instead of three a layer,
 * a wider product that fills the card better, and one kernel after it for the q/k norms, RoPE and
 * the v cast (fused.ts qkvNormRopeWgsl) instead of three. The merged weights are copies made once
 * per weights (q, k and v's bytes again: 235 MB for Qwen3-0.6B in f16), as the decoder keeps using
 * the separate ones.
 */
export const qkvMergeWanted = (): boolean => {
  const v = process.env.FLEUVE_QKV_MERGE
  if (v !== undefined && v !== "" && v !== "0" && v !== "1") throw new Error(`FLEUVE_QKV_MERGE must be 1 (one merged q|k|v matmul) or 0 (three matmuls), not '${v}'`)
  return v !== "0"
}

/**
 * q, k and v's weights as one [H·D + 2·KV·D, hidden] weight, rows of q then k then v (so the
 * product's rows hold each token's q heads, k heads, v heads in that order), copied on the GPU in
 * one submission.
 */
export const mergeQkvWeights = (device: GPUDevice, format: WeightFormat, shape: EngineShape, layers: ReadonlyArray<LayerWeights>): Array<LinearWeight> => {
  const { hidden: K, heads: H, kvHeads: KV, headDim: D } = shape
  const enc = device.createCommandEncoder()
  const merged = layers.map((w) => concatRows(device, enc, format, K, [{ w: w.q, rows: H * D }, { w: w.k, rows: KV * D }, { w: w.v, rows: KV * D }]))
  device.queue.submit([enc.finish()])
  return merged
}

/** Reads `tokens` (log-prob, argmax) pairs of a forward's `out` buffer. */
export const readTokenScores = async (device: GPUDevice, out: GPUBuffer, tokens: number): Promise<TokenScores> => {
  const raw = await readBuffer(device, out, tokens * 8)
  const words = new Uint32Array(raw)
  const f = new Float32Array(raw)
  const logprob = new Float32Array(tokens)
  const argmax = new Uint32Array(tokens)
  for (let t = 0; t < tokens; t++) {
    logprob[t] = f[2 * t]!
    argmax[t] = words[2 * t + 1]!
  }
  return { logprob, argmax }
}

/**
 * A forward of fixed batch × seq over uploaded weights: activations are allocated once and reused
 * by every `score` call; `dispose` frees them (the weights stay with their owner).
 */
export class Qwen3Engine {
  private constructor(
    readonly shape: EngineShape,
    readonly batch: number,
    readonly seq: number,
    private readonly device: GPUDevice,
    private readonly ids: GPUBuffer,
    private readonly targets: GPUBuffer,
    private readonly out: GPUBuffer,
    private readonly activations: ReadonlyArray<GPUBuffer>,
    /** one layer's dispatches, with what each does (for profiles) */
    readonly layerDispatches: ReadonlyArray<ReadonlyArray<readonly [string, Dispatch]>>,
    readonly embedDispatches: ReadonlyArray<Dispatch>,
    readonly headDispatches: ReadonlyArray<Dispatch>,
    readonly matmul: LayerMatmul,
    readonly attention: "tensor-core" | "scalar",
    /**
     * Where each layer leaves its keys (after q/k norm + RoPE) and values, [batch, seq, KV, D]:
     * f16 on the tensor-core path, f32 on the scalar one. Overwritten by the next layer: read them
     * in the dispatches that `submitLayers` runs after each layer (the decoder's prefill).
     */
    readonly kv: { readonly K: GPUBuffer; readonly V: GPUBuffer; readonly type: "f16" | "f32" }
  ) {}

  /** Bytes of activations this engine allocated. */
  get activationBytes(): number {
    return [this.ids, this.targets, this.out, ...this.activations].reduce((a, b) => a + b.size, 0)
  }

  static async create(gpu: Gpu, shape: EngineShape, weights: EngineWeights, batch: number, seq: number, options: EngineOptions = {}): Promise<Qwen3Engine> {
    checkEngineShape(shape)
    const T = batch * seq
    if (T % 128 !== 0 || seq % 16 !== 0) throw new EngineShapeError(`batch × seq (${batch} × ${seq}) must be a multiple of 128 tokens and seq a multiple of 16`)
    const { heads: H, kvHeads: KV, headDim: D } = shape
    const tensorCores = pickMatrixConfig(gpu) !== undefined && options.attention !== "scalar"
    const tcAttention = tensorCores ? await tensorCoreAttention(gpu, D, options.attentionVariant, false, H / KV) : undefined
    const f = await forwardParts(gpu, shape, weights, T, { ...options, qkvMerge: tcAttention !== undefined && qkvMergeWanted() })
    const { buf, u, b, kernels: { fused, el } } = f
    const kh = buf(T * KV * D * 2), vh = buf(T * KV * D * 2), att = buf(T * H * D * 4)
    const p = {
      qkQ: u([T, seq, H, 0], [shape.eps, shape.theta]), qkK: u([T, seq, KV, 0], [shape.eps, shape.theta]),
      qkv: u([T, seq, H, KV], [shape.eps, shape.theta]),
      castV: u([T * KV * D]), castAtt: u([T * H * D]),
      att: u([batch, seq, seq, H, KV, 0, 0, 0], [1 / Math.sqrt(D)])
    }
    // Without tensor cores: the scalar f32 attention, and its output cast for the o matmul.
    const layerDispatches = weights.layers.map((w) => f.layer(w, tcAttention
      ? [
        ...(f.qkv
          ? [["qkv-norm+rope, v cast", fused.qkvNormRopeF16({ X: f.qkv, Wq: w.qNorm, Wk: w.kNorm, Q: b.qh, K: kh, V: vh, params: p.qkv }, T, H, KV)] as const]
          : [
            ["qk-norm+rope q", fused.qkNormRopeF16({ X: b.q, W: w.qNorm, Y: b.qh, params: p.qkQ }, T, H)] as const,
            ["qk-norm+rope k", fused.qkNormRopeF16({ X: b.k, W: w.kNorm, Y: kh, params: p.qkK }, T, KV)] as const,
            ["cast v", el.castF16({ X: b.v, Y: vh, params: p.castV }, T * KV * D)] as const
          ]),
        ["attention", tcAttention({ Q: b.qh, K: kh, V: vh, O: b.atth, params: p.att }, batch, seq, H, seq)]
      ]
      : [
        ["qk-norm+rope q", fused.qkNormRope({ X: b.q, W: w.qNorm, params: p.qkQ }, T, H)],
        ["qk-norm+rope k", fused.qkNormRope({ X: b.k, W: w.kNorm, params: p.qkK }, T, KV)],
        ["attention", fused.attention({ Q: b.q, K: b.k, V: b.v, O: att, params: p.att }, batch, seq, H)],
        ["cast attention", el.castF16({ X: att, Y: b.atth, params: p.castAtt }, T * H * D)]
      ]))
    return new Qwen3Engine(shape, batch, seq, gpu.device, b.ids, b.targets, b.out, f.made.filter((x) => x !== b.ids && x !== b.targets && x !== b.out), layerDispatches, f.embed, f.head, f.kernels.mm, tcAttention ? "tensor-core" : "scalar",
      tcAttention ? { K: kh, V: vh, type: "f16" } : { K: b.k, V: b.v, type: "f32" })
  }

  /** Every dispatch of one forward, in order. */
  dispatches(): Array<Dispatch> {
    return [...this.embedDispatches, ...this.layerDispatches.flatMap((l) => l.map(([, d]) => d)), ...this.headDispatches]
  }

  /**
   * Scores batch × seq positions: `ids[t]` is the input token at t and `targets[t]` the token
   * whose log-probability position t reports (the next token; anything for padding).
   */
  async score(ids: Uint32Array<ArrayBuffer>, targets: Uint32Array<ArrayBuffer>): Promise<TokenScores> {
    const T = this.batch * this.seq
    if (ids.length !== T || targets.length !== T) throw new EngineShapeError(`score: ${ids.length} ids and ${targets.length} targets for a ${this.batch} × ${this.seq} engine`)
    this.device.queue.writeBuffer(this.ids, 0, ids)
    this.device.queue.writeBuffer(this.targets, 0, targets)
    // one wait: the scores' read-back is queued behind the forward and its mapping waits for both
    // (waiting for the forward first cost a second round trip through the event loop)
    const [, scores] = await Promise.all([submitChecked(this.device, this.dispatches()), readTokenScores(this.device, this.out, T)])
    return scores
  }

  /**
   * The embedding and every layer over `ids` (batch × seq), with `after(l)` dispatched right after
   * layer l, and no lm_head: submitted, not waited for (the queue keeps later work in order).
   */
  submitLayers(ids: Uint32Array<ArrayBuffer>, after: (layer: number) => ReadonlyArray<Dispatch>): void {
    if (ids.length !== this.batch * this.seq) throw new EngineShapeError(`submitLayers: ${ids.length} ids for a ${this.batch} × ${this.seq} engine`)
    this.device.queue.writeBuffer(this.ids, 0, ids)
    const dispatches = [...this.embedDispatches, ...this.layerDispatches.flatMap((l, i) => [...l.map(([, d]) => d), ...after(i)])]
    this.device.queue.submit([encodeDispatches(this.device, dispatches)])
  }

  dispose(): void {
    for (const b of [this.ids, this.targets, this.out, ...this.activations]) b.destroy()
  }
}
