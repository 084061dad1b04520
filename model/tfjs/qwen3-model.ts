import * as tf from "@tensorflow/tfjs-core"
import type { HostTensor } from "../formats/safetensors.ts"
import { fusedCpuActive } from "../cpu/active.ts"
import type { Qwen3Config } from "../qwen3/config.ts"
import { attentionModules, mlpModules, projectionDims, projectionNames, type ProjectionName } from "../qwen3/projections.ts"

export { attentionModules, mlpModules, type ProjectionName }

/** Checkpoint name of a projection's weight, e.g. model.layers.3.self_attn.q_proj. */
export const projectionPath = (layer: number, module: ProjectionName): string =>
  `model.layers.${layer}.${(attentionModules as ReadonlyArray<string>).includes(module) ? "self_attn" : "mlp"}.${module}`

/** A LoRA pair on one projection: y = Wx + scale·B(A(dropout(x))), as PEFT computes it. */
export interface LoraPair {
  readonly a: tf.Variable // [r, in]
  readonly b: tf.Variable // [out, r]
  readonly scale: number
  readonly dropout: number
}

/** Per-layer key/value cache: k and v are [batch, kvHeads, length, headDim]. */
export interface KvCache {
  readonly k: ReadonlyArray<tf.Tensor4D>
  readonly v: ReadonlyArray<tf.Tensor4D>
  readonly length: number
  /** 1 where a cached position holds a real token, 0 where it is padding; one row per sequence. */
  readonly valid: ReadonlyArray<ReadonlyArray<number>>
}

export const disposeCache = (c: KvCache | undefined): void => {
  if (!c) return
  tf.dispose([...c.k, ...c.v])
}

export interface ForwardOptions {
  /** Position of each input token (per row), for RoPE. Defaults to cache.length + column index. */
  readonly positions?: ReadonlyArray<ReadonlyArray<number>>
  /** 1 for real tokens, 0 for padding (per row); padded keys are never attended to. */
  readonly valid?: ReadonlyArray<ReadonlyArray<number>>
  readonly cache?: KvCache
  /** Return the updated cache (inference); training leaves it out. */
  readonly keepCache?: boolean
  /** Seed of this forward's LoRA dropout masks; absent means no dropout (evaluation). */
  readonly dropoutSeed?: number
  /**
   * The LoRA dropout masks themselves, in place of tfjs' seeded draws: for (layer, projection) and
   * its input's [rows, in], the values to multiply the input by (0 or 1/(1 − p)). Lets this model
   * reproduce the WGSL trainer's masks (model/wgsl/kernels/dropout.ts) in tests.
   */
  readonly dropoutMasks?: (layer: number, module: ProjectionName, shape: readonly [number, number]) => tf.Tensor2D
}

/** A projection's LoRA input as this forward drops it (or leaves it: no dropout). */
type DropLoraInput = (x: tf.Tensor2D, lora: LoraPair, module: ProjectionName) => tf.Tensor2D

/** A forward's inputs with their defaults filled in: the same for the tfjs and the fused CPU paths. */
export const forwardInputs = (ids: ReadonlyArray<ReadonlyArray<number>>, options: ForwardOptions) => {
  const t = ids[0]!.length
  const past = options.cache?.length ?? 0
  const valid = options.valid ?? ids.map((row) => row.map(() => 1))
  const positions = options.positions ?? ids.map(() => Array.from({ length: t }, (_, i) => past + i))
  // which keys a query may attend to: the cached ones, then this call's real tokens
  const keyValid = valid.map((row, r) => [...(options.cache?.valid[r] ?? []), ...row])
  return { b: ids.length, t, past, positions, keyValid }
}

export interface ForwardResult {
  readonly logits: tf.Tensor3D // [batch, length, vocab]
  readonly cache?: KvCache
}

/**
 * The forward that stands in for Qwen3Model.forward while the cpu-fused backend is chosen; set by
 * model/cpu/tfjs-bridge.ts when the backend loads it (this module imports nothing of model/cpu/
 * but the flag, so the two do not import each other).
 */
let fusedForward: ((model: Qwen3Model, ids: ReadonlyArray<ReadonlyArray<number>>, options: ForwardOptions) => ForwardResult) | undefined

export const useFusedForward = (f: typeof fusedForward): void => {
  fusedForward = f
}

// Large but finite: a fully masked row (padding) must give finite values, never NaN.
const MASKED = -1e9

/** Qwen3 decoder-only LM computed as Hugging Face transformers' modeling_qwen3 does. */
export class Qwen3Model {
  /** LoRA pairs by projection path; empty when no adapter is attached. */
  readonly lora = new Map<string, LoraPair>()

  constructor(
    readonly config: Qwen3Config,
    /** Every weight by its checkpoint name (tied models have no lm_head.weight). */
    readonly params: Map<string, tf.Tensor>
  ) {}

  /** Builds a model from host tensors, checking every expected name and shape. */
  static fromHost(config: Qwen3Config, host: ReadonlyMap<string, HostTensor>, options: { readonly trainable?: boolean } = {}): Qwen3Model {
    const expected = expectedShapes(config)
    const params = new Map<string, tf.Tensor>()
    for (const [name, shape] of expected) {
      const t = host.get(name)
      if (!t) throw new Error(`checkpoint has no tensor '${name}'`)
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`tensor '${name}' has shape ${JSON.stringify(t.shape)}, config expects ${JSON.stringify(shape)}`)
      }
      const tensor = tf.tensor(t.data, [...t.shape], "float32")
      params.set(name, options.trainable ? tf.variable(tensor, true) : tensor)
      if (options.trainable) tensor.dispose()
    }
    return new Qwen3Model(config, params)
  }

  private p(name: string): tf.Tensor {
    const t = this.params.get(name)
    if (!t) throw new Error(`model has no weight '${name}'`)
    return t
  }

  private linear(x: tf.Tensor2D, layer: number, module: ProjectionName, drop: DropLoraInput): tf.Tensor2D {
    const path = projectionPath(layer, module)
    const y: tf.Tensor2D = tf.matMul(x, this.p(`${path}.weight`) as tf.Tensor2D, false, true)
    const lora = this.lora.get(path)
    if (!lora) return y
    const xin = lora.dropout > 0 ? drop(x, lora, module) : x
    const low = tf.matMul(tf.matMul(xin, lora.a, false, true), lora.b, false, true)
    return tf.add(y, tf.mul(low, lora.scale)) as tf.Tensor2D
  }

  private rmsNorm(x: tf.Tensor, weight: string): tf.Tensor {
    const variance = tf.mean(tf.square(x), -1, true)
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, this.config.rmsNormEps))), this.p(weight))
  }

  /** cos/sin tables [batch, 1, length, headDim] for the given positions (HF: cat(freqs, freqs)). */
  private rope(positions: ReadonlyArray<ReadonlyArray<number>>): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
    const d = this.config.headDim
    const half = d / 2
    const invFreq = Array.from({ length: half }, (_, i) => 1 / Math.pow(this.config.ropeTheta, (2 * i) / d))
    const b = positions.length
    const t = positions[0]!.length
    const cos = new Float32Array(b * t * d)
    const sin = new Float32Array(b * t * d)
    for (let r = 0; r < b; r++) {
      for (let c = 0; c < t; c++) {
        const pos = positions[r]![c]!
        for (let i = 0; i < half; i++) {
          // f32 product as torch computes it, then cos/sin of that f32 angle.
          const angle = Math.fround(pos * Math.fround(invFreq[i]!))
          const base = (r * t + c) * d
          cos[base + i] = cos[base + i + half] = Math.cos(angle)
          sin[base + i] = sin[base + i + half] = Math.sin(angle)
        }
      }
    }
    return { cos: tf.tensor4d(cos, [b, 1, t, d]), sin: tf.tensor4d(sin, [b, 1, t, d]) }
  }

  private applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
    const half = this.config.headDim / 2
    const [x1, x2] = tf.split(x, [half, half], 3) as [tf.Tensor4D, tf.Tensor4D]
    const rotated = tf.concat([tf.neg(x2), x1], 3)
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin))
  }

  /**
   * Runs the decoder over `ids` ([batch][length], one length for all rows), after what the cache
   * holds. Returns logits for every input position and, if asked, the extended cache. Callers pad
   * rows on the right (scoring) or the left (generation) and say which tokens are real in `valid`.
   */
  forward(ids: ReadonlyArray<ReadonlyArray<number>>, options: ForwardOptions = {}): ForwardResult {
    // The cpu-fused backend: the same computation on fleuve's fused CPU kernels (model/cpu/).
    if (fusedForward && fusedCpuActive()) return fusedForward(this, ids, options)
    const cfg = this.config
    const { b, t, past, positions, keyValid } = forwardInputs(ids, options)
    const run = (): ForwardResult => {
      const total = past + t
      // Additive mask [batch, 1, 1, t, total]: causal and no padded keys.
      const mask = new Float32Array(b * t * total)
      for (let r = 0; r < b; r++) {
        for (let i = 0; i < t; i++) {
          for (let j = 0; j < total; j++) mask[(r * t + i) * total + j] = j <= past + i && keyValid[r]![j] ? 0 : MASKED
        }
      }
      const maskT = tf.tensor(mask, [b, 1, 1, t, total])
      const { cos, sin } = this.rope(positions)
      const g = cfg.numHeads / cfg.numKvHeads
      const d = cfg.headDim
      let h = tf.reshape(tf.gather(this.p("model.embed_tokens.weight"), tf.tensor1d(ids.flat(), "int32")), [b * t, cfg.hiddenSize]) as tf.Tensor2D
      const newK: Array<tf.Tensor4D> = []
      const newV: Array<tf.Tensor4D> = []
      for (let l = 0; l < cfg.numLayers; l++) {
        const prefix = `model.layers.${l}`
        const x = this.rmsNorm(h, `${prefix}.input_layernorm.weight`) as tf.Tensor2D
        const seed = options.dropoutSeed === undefined ? undefined : options.dropoutSeed * 1000 + l
        const drop: DropLoraInput = options.dropoutMasks
          ? (xin, _lora, m) => tf.mul(xin, options.dropoutMasks!(l, m, xin.shape)) as tf.Tensor2D
          // tfjs' seeded dropout; salt 1…7 in projection order (q, k, v, o, gate, up, down)
          : (xin, lora, m) => (seed === undefined ? xin : tf.dropout(xin, lora.dropout, undefined, seed * 7919 + projectionNames.indexOf(m) + 1) as tf.Tensor2D)
        const heads = (name: ProjectionName, n: number) => tf.reshape(this.linear(x, l, name, drop), [b, t, n, d])
        const q = tf.transpose(this.rmsNorm(heads("q_proj", cfg.numHeads), `${prefix}.self_attn.q_norm.weight`), [0, 2, 1, 3]) as tf.Tensor4D
        const kNew = tf.transpose(this.rmsNorm(heads("k_proj", cfg.numKvHeads), `${prefix}.self_attn.k_norm.weight`), [0, 2, 1, 3]) as tf.Tensor4D
        const vNew = tf.transpose(heads("v_proj", cfg.numKvHeads), [0, 2, 1, 3]) as tf.Tensor4D
        const qr = this.applyRope(q, cos, sin)
        const kr = this.applyRope(kNew, cos, sin)
        const k = options.cache ? tf.concat([options.cache.k[l]!, kr], 2) : kr
        const v = options.cache ? tf.concat([options.cache.v[l]!, vNew], 2) : vNew
        if (options.keepCache) {
          newK.push(k)
          newV.push(v)
        }
        // GQA without copying k/v: query head h = kv·g + j shares kv head h // g.
        const qg = tf.reshape(qr, [b, cfg.numKvHeads, g * t, d])
        const scores = tf.reshape(tf.mul(tf.matMul(qg, k, false, true), 1 / Math.sqrt(d)), [b, cfg.numKvHeads, g, t, total])
        const probs = tf.softmax(tf.add(scores, maskT))
        const ctx = tf.matMul(tf.reshape(probs, [b, cfg.numKvHeads, g * t, total]), v) // [b, kv, g·t, d] = [b, heads, t, d]
        const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [b, cfg.numHeads, t, d]), [0, 2, 1, 3]), [b * t, cfg.numHeads * d]) as tf.Tensor2D
        h = tf.add(h, this.linear(merged, l, "o_proj", drop))
        const y = this.rmsNorm(h, `${prefix}.post_attention_layernorm.weight`) as tf.Tensor2D
        const gate = this.linear(y, l, "gate_proj", drop)
        const up = this.linear(y, l, "up_proj", drop)
        const act = tf.mul(tf.mul(gate, tf.sigmoid(gate)), up) as tf.Tensor2D // SwiGLU: silu(gate)·up
        h = tf.add(h, this.linear(act, l, "down_proj", drop))
      }
      const normed = this.rmsNorm(h, "model.norm.weight") as tf.Tensor2D
      const head = cfg.tieWordEmbeddings ? this.p("model.embed_tokens.weight") : this.p("lm_head.weight")
      const logits = tf.reshape(tf.matMul(normed, head as tf.Tensor2D, false, true), [b, t, cfg.vocabSize]) as tf.Tensor3D
      const cache: KvCache | undefined = options.keepCache ? { k: newK, v: newV, length: total, valid: keyValid } : undefined
      return cache ? { logits, cache } : { logits }
    }
    return tf.tidy(run as unknown as () => tf.TensorContainer) as unknown as ForwardResult
  }

  /** Weights back on the host, by checkpoint name, for saving. */
  /** The weights on the host. Asynchronous reads: WebGPU cannot read synchronously in Node. */
  async toHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>()
    for (const [name, t] of this.params) out.set(name, { shape: t.shape, data: (await t.data()) as Float32Array })
    return out
  }

  dispose(): void {
    tf.dispose([...this.params.values()])
    for (const l of this.lora.values()) tf.dispose([l.a, l.b])
    this.lora.clear()
  }
}

/** Every tensor a Qwen3 checkpoint must hold, with its shape (HF layout: Linear weights are [out, in]). */
export const expectedShapes = (c: Qwen3Config): Map<string, Array<number>> => {
  const m = new Map<string, Array<number>>()
  const qDim = c.numHeads * c.headDim
  const kvDim = c.numKvHeads * c.headDim
  m.set("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize])
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}`
    m.set(`${p}.input_layernorm.weight`, [c.hiddenSize])
    m.set(`${p}.post_attention_layernorm.weight`, [c.hiddenSize])
    m.set(`${p}.self_attn.q_proj.weight`, [qDim, c.hiddenSize])
    m.set(`${p}.self_attn.k_proj.weight`, [kvDim, c.hiddenSize])
    m.set(`${p}.self_attn.v_proj.weight`, [kvDim, c.hiddenSize])
    m.set(`${p}.self_attn.o_proj.weight`, [c.hiddenSize, qDim])
    m.set(`${p}.self_attn.q_norm.weight`, [c.headDim])
    m.set(`${p}.self_attn.k_norm.weight`, [c.headDim])
    m.set(`${p}.mlp.gate_proj.weight`, [c.intermediateSize, c.hiddenSize])
    m.set(`${p}.mlp.up_proj.weight`, [c.intermediateSize, c.hiddenSize])
    m.set(`${p}.mlp.down_proj.weight`, [c.hiddenSize, c.intermediateSize])
  }
  m.set("model.norm.weight", [c.hiddenSize])
  if (!c.tieWordEmbeddings) m.set("lm_head.weight", [c.vocabSize, c.hiddenSize])
  return m
}

/** Projection input/output sizes, for LoRA shapes. */
export const projectionShape = (c: Qwen3Config, module: ProjectionName): { in: number; out: number } =>
  projectionDims({ hidden: c.hiddenSize, heads: c.numHeads, kvHeads: c.numKvHeads, headDim: c.headDim, intermediate: c.intermediateSize }, module)
