/**
 * Qwen3 forward and backward on the CPU, written out by hand: each layer's work is a few matrix
 * products (model/cpu/kernels.ts) and fused work over rows (RMSNorm, RoPE, attention with its
 * softmax, SwiGLU), with no tape and no per-op dispatch; with the WebAssembly kernels that fused
 * work is theirs (kernels.fused), else the loops here do it. The backward is the
 * forward's exact adjoint, including the embedding's scatter-add (the gradient tfjs' wasm backend
 * lacks) and LoRA pairs with their dropout masks. Numerics follow modeling_qwen3 in f32 (sums of
 * products accumulate in f64 in the JavaScript kernels, in f32 lanes in the WebAssembly ones).
 *
 * Used through model/cpu/tfjs-bridge.ts: the weights stay tfjs tensors of the `cpu` backend (their
 * values are read in place), logits and caches go back as tfjs tensors.
 */
import type { Qwen3Config } from "../qwen3/config.ts"
import type { ProjectionName } from "../qwen3/projections.ts"
import type { CpuKernels } from "./kernels.ts"

/** A LoRA pair's values: a [r, in], b [out, r]; y += scale · B(A(x·mask)). */
export interface HostLora {
  readonly a: Float32Array
  readonly b: Float32Array
  readonly r: number
  readonly scale: number
  /** Gradients wanted for this pair. */
  readonly train: boolean
}

/** Where the forward reads weights and LoRA pairs; `trainParam` says which weights get gradients. */
export interface HostWeights {
  weight(name: string): Float32Array
  lora(layer: number, module: ProjectionName): HostLora | undefined
  trainParam(name: string): boolean
  /** The multiplier of a LoRA input (0 or 1/(1 − p)), or undefined: no dropout. */
  dropMask(layer: number, module: ProjectionName, rows: number, cols: number): Float32Array | undefined
}

export interface HostCache {
  /** Per layer, [batch, kvHeads, length, headDim]. */
  readonly k: ReadonlyArray<Float32Array>
  readonly v: ReadonlyArray<Float32Array>
  readonly length: number
  readonly valid: ReadonlyArray<ReadonlyArray<number>>
}

export interface HostForwardInput {
  readonly ids: ReadonlyArray<ReadonlyArray<number>>
  readonly positions: ReadonlyArray<ReadonlyArray<number>>
  /** Per row, 1/0 for every key: the cached ones, then the new ones. */
  readonly keyValid: ReadonlyArray<ReadonlyArray<number>>
  readonly cache?: HostCache
  /** Keep what the backward needs (training). */
  readonly forTraining: boolean
  /** Compute logits only for these rows of the flattened [batch·length] (undefined: all). */
  readonly logitRows?: ReadonlyArray<boolean>
}

const MASKED = -1e9

interface LinearSaved {
  readonly x: Float32Array
  readonly xin?: Float32Array
  readonly mask?: Float32Array
  readonly low?: Float32Array
}

interface LayerSaved {
  readonly hIn: Float32Array
  readonly rstd1: Float32Array
  readonly xn: Float32Array
  readonly qRaw: Float32Array
  readonly kRaw: Float32Array
  readonly rstdQ: Float32Array
  readonly rstdK: Float32Array
  readonly qr: Float32Array // [b, t, nh, d] roped
  readonly kr: Float32Array // [b, kv, total, d]
  readonly v: Float32Array // [b, kv, total, d]
  readonly probs: Float32Array // [b, nh, t, total]
  readonly ctx: Float32Array // [M, nh·d]
  readonly h1: Float32Array
  readonly rstd2: Float32Array
  readonly yn: Float32Array
  readonly gate: Float32Array
  readonly up: Float32Array
  readonly act: Float32Array
  readonly lin: Map<ProjectionName, LinearSaved>
}

export interface HostForwardResult {
  /** [rows, vocab] for the rows asked for (all when logitRows is undefined), in row order. */
  readonly logits: Float32Array
  readonly newK: Array<Float32Array>
  readonly newV: Array<Float32Array>
  readonly total: number
  /** What backward needs; present when forTraining. */
  readonly saved?: { readonly layers: Array<LayerSaved>; readonly hFinal: Float32Array; readonly rstdF: Float32Array; readonly hn: Float32Array; readonly rows: Array<number> }
}

const layerPath = (l: number, m: ProjectionName) => `model.layers.${l}.${m === "q_proj" || m === "k_proj" || m === "v_proj" || m === "o_proj" ? "self_attn" : "mlp"}.${m}`

/** x·rsqrt(mean(x²)+eps)·w over groups of `width` values; returns rstd per group. */
const rmsNorm = (x: Float32Array, w: Float32Array, width: number, eps: number, out: Float32Array, rstd: Float32Array): void => {
  const groups = x.length / width
  for (let g = 0; g < groups; g++) {
    const o = g * width
    let ss = 0
    for (let i = 0; i < width; i++) ss += x[o + i]! * x[o + i]!
    const r = Math.fround(1 / Math.sqrt(Math.fround(Math.fround(ss / width) + eps)))
    rstd[g] = r
    for (let i = 0; i < width; i++) out[o + i] = x[o + i]! * r * w[i]!
  }
}

/** Adds to dx the gradient of rmsNorm through dy (and to dw when given). */
const rmsNormBack = (x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, width: number, dx: Float32Array, dw: Float32Array | undefined, overwrite: boolean): void => {
  const groups = x.length / width
  for (let g = 0; g < groups; g++) {
    const o = g * width
    const r = rstd[g]!
    let dot = 0
    for (let i = 0; i < width; i++) dot += dy[o + i]! * w[i]! * x[o + i]!
    const c = (dot * r * r * r) / width
    for (let i = 0; i < width; i++) {
      const v = dy[o + i]! * w[i]! * r - x[o + i]! * c
      dx[o + i] = overwrite ? v : dx[o + i]! + v
      if (dw) dw[i] = dw[i]! + dy[o + i]! * x[o + i]! * r
    }
  }
}

export class HostQwen3 {
  private readonly cosSin = new Map<number, { cos: Float32Array; sin: Float32Array }>()

  constructor(readonly config: Qwen3Config, readonly k: CpuKernels) {}

  /** cos/sin rows of one position (HF: cat(freqs, freqs), the angle an f32 product). */
  private rope(pos: number): { cos: Float32Array; sin: Float32Array } {
    let r = this.cosSin.get(pos)
    if (r) return r
    const d = this.config.headDim
    const half = d / 2
    const cos = new Float32Array(d)
    const sin = new Float32Array(d)
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(pos * Math.fround(1 / Math.pow(this.config.ropeTheta, (2 * i) / d)))
      cos[i] = cos[i + half] = Math.cos(angle)
      sin[i] = sin[i + half] = Math.sin(angle)
    }
    r = { cos, sin }
    if (this.cosSin.size < 65536) this.cosSin.set(pos, r)
    return r
  }

  /** cos and sin of every token's position as [tokens, d] tables in kernel memory, for the fused RoPE (undefined: the loops do it). */
  private ropeTable(ropes: ReadonlyArray<ReadonlyArray<{ cos: Float32Array; sin: Float32Array }>>, d: number): { cos: Float32Array; sin: Float32Array } | undefined {
    if (!this.k.fused || d % 8 !== 0) return undefined
    const rows = ropes.flat()
    const cos = this.k.alloc(rows.length * d, false)
    const sin = this.k.alloc(rows.length * d, false)
    rows.forEach((cs, m) => {
      cos.set(cs.cos, m * d)
      sin.set(cs.sin, m * d)
    })
    return { cos, sin }
  }

  private norm(x: Float32Array, w: Float32Array, width: number, eps: number, out: Float32Array, rstd: Float32Array): void {
    if (this.k.fused && width % 4 === 0) this.k.fused.rmsNorm(x, w, width, x.length / width, eps, out, rstd)
    else rmsNorm(x, w, width, eps, out, rstd)
  }

  private normBack(x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, width: number, dx: Float32Array, dw: Float32Array | undefined, overwrite: boolean): void {
    if (this.k.fused && width % 4 === 0) this.k.fused.rmsNormBack(x, w, rstd, dy, width, x.length / width, dx, dw, overwrite)
    else rmsNormBack(x, w, rstd, dy, width, dx, dw, overwrite)
  }

  private linear(w: HostWeights, x: Float32Array, rows: number, layer: number, m: ProjectionName, inDim: number, outDim: number, saved: Map<ProjectionName, LinearSaved> | undefined): Float32Array {
    const y = this.k.alloc(rows * outDim, false)
    this.k.gemmNT(x, w.weight(`${layerPath(layer, m)}.weight`), y, rows, outDim, inDim, 1, false)
    const lora = w.lora(layer, m)
    if (!lora) {
      saved?.set(m, { x })
      return y
    }
    const mask = w.dropMask(layer, m, rows, inDim)
    let xin = x
    if (mask) {
      xin = this.k.alloc(rows * inDim, false)
      if (this.k.fused && xin.length % 4 === 0) this.k.fused.mulInto(x, mask, xin, xin.length, false)
      else for (let i = 0; i < xin.length; i++) xin[i] = x[i]! * mask[i]!
    }
    const low = this.k.alloc(rows * lora.r, false)
    this.k.gemmNT(xin, lora.a, low, rows, lora.r, inDim, 1, false)
    this.k.gemmNT(low, lora.b, y, rows, outDim, lora.r, lora.scale, true)
    saved?.set(m, mask ? { x, xin, mask, low } : { x, xin, low })
    return y
  }

  /** Backward of `linear`: adds dy·W (and the LoRA path) to dx; weight and LoRA gradients into grads. */
  private linearBack(w: HostWeights, grads: Map<string, Float32Array>, dy: Float32Array, rows: number, layer: number, m: ProjectionName, inDim: number, outDim: number, s: LinearSaved, dx: Float32Array, accumulate: boolean): void {
    const name = `${layerPath(layer, m)}.weight`
    this.k.gemmNN(dy, w.weight(name), dx, rows, inDim, outDim, 1, accumulate)
    if (w.trainParam(name)) this.k.gemmTN(dy, s.x, gradOf(this.k, grads, name, outDim * inDim), outDim, inDim, rows, 1, true)
    const lora = w.lora(layer, m)
    if (!lora) return
    const path = layerPath(layer, m)
    const dlow = this.k.alloc(rows * lora.r, false)
    this.k.gemmNN(dy, lora.b, dlow, rows, lora.r, outDim, lora.scale, false)
    if (lora.train) {
      this.k.gemmTN(dy, s.low!, gradOf(this.k, grads, `${path}.lora_B`, outDim * lora.r), outDim, lora.r, rows, lora.scale, true)
      this.k.gemmTN(dlow, s.xin!, gradOf(this.k, grads, `${path}.lora_A`, lora.r * inDim), lora.r, inDim, rows, 1, true)
    }
    if (s.mask) {
      const dxin = this.k.alloc(rows * inDim, false)
      this.k.gemmNN(dlow, lora.a, dxin, rows, inDim, lora.r, 1, false)
      if (this.k.fused && dxin.length % 4 === 0) this.k.fused.mulInto(dxin, s.mask, dx, dxin.length, true)
      else for (let i = 0; i < dxin.length; i++) dx[i] = dx[i]! + dxin[i]! * s.mask[i]!
    } else {
      this.k.gemmNN(dlow, lora.a, dx, rows, inDim, lora.r, 1, true)
    }
  }

  forward(w: HostWeights, input: HostForwardInput): HostForwardResult {
    const c = this.config
    const K = this.k
    const b = input.ids.length
    const t = input.ids[0]!.length
    const M = b * t
    const H = c.hiddenSize
    const nh = c.numHeads
    const kv = c.numKvHeads
    const d = c.headDim
    const g = nh / kv
    const I = c.intermediateSize
    const V = c.vocabSize
    const past = input.cache?.length ?? 0
    const total = past + t
    const eps = c.rmsNormEps
    const scale = 1 / Math.sqrt(d)
    const training = input.forTraining
    const embed = w.weight("model.embed_tokens.weight")
    let h = K.alloc(M * H, false)
    for (let r = 0; r < b; r++) {
      for (let i = 0; i < t; i++) {
        const id = input.ids[r]![i]!
        if (!(id >= 0 && id < V)) throw new RangeError(`token id ${id} (row ${r}, position ${i}) is outside the vocabulary of ${V}`)
        h.set(embed.subarray(id * H, id * H + H), (r * t + i) * H)
      }
    }
    const ropes = input.positions.map((row) => row.map((p) => this.rope(p)))
    const ropeTable = this.ropeTable(ropes, d)
    const layers: Array<LayerSaved> = []
    const newK: Array<Float32Array> = []
    const newV: Array<Float32Array> = []
    const scores = new Float64Array(total)
    for (let l = 0; l < c.numLayers; l++) {
      const pre = `model.layers.${l}`
      const lin = new Map<ProjectionName, LinearSaved>()
      const xn = K.alloc(M * H, false)
      const rstd1 = K.alloc(M, false)
      this.norm(h, w.weight(`${pre}.input_layernorm.weight`), H, eps, xn, rstd1)
      const qRaw = this.linear(w, xn, M, l, "q_proj", H, nh * d, training ? lin : undefined)
      const kRaw = this.linear(w, xn, M, l, "k_proj", H, kv * d, training ? lin : undefined)
      const vNew = this.linear(w, xn, M, l, "v_proj", H, kv * d, training ? lin : undefined)
      const qn = K.alloc(M * nh * d, false)
      const rstdQ = K.alloc(M * nh, false)
      this.norm(qRaw, w.weight(`${pre}.self_attn.q_norm.weight`), d, eps, qn, rstdQ)
      const kn = K.alloc(M * kv * d, false)
      const rstdK = K.alloc(M * kv, false)
      this.norm(kRaw, w.weight(`${pre}.self_attn.k_norm.weight`), d, eps, kn, rstdK)
      // RoPE in place on qn (row layout [b, t, nh, d]); keys and values go to [b, kv, total, d].
      const half = d / 2
      const ropeInPlace = (buf: Float32Array, o: number, cs: { cos: Float32Array; sin: Float32Array }) => {
        for (let i = 0; i < half; i++) {
          const x1 = buf[o + i]!
          const x2 = buf[o + i + half]!
          buf[o + i] = x1 * cs.cos[i]! - x2 * cs.sin[i]!
          buf[o + i + half] = x2 * cs.cos[i + half]! + x1 * cs.sin[i + half]!
        }
      }
      // with the fused kernels: q and the new keys roped in place ([tokens, heads, d]) before the copy
      if (ropeTable) {
        K.fused!.rope(qn, ropeTable.cos, ropeTable.sin, M, nh, d, false)
        K.fused!.rope(kn, ropeTable.cos, ropeTable.sin, M, kv, d, false)
      }
      const kAll = K.alloc(b * kv * total * d, false)
      const vAll = K.alloc(b * kv * total * d, false)
      for (let r = 0; r < b; r++) {
        for (let j = 0; j < kv; j++) {
          const dst = ((r * kv + j) * total) * d
          if (input.cache) {
            kAll.set(input.cache.k[l]!.subarray(((r * kv + j) * past) * d, ((r * kv + j) * past + past) * d), dst)
            vAll.set(input.cache.v[l]!.subarray(((r * kv + j) * past) * d, ((r * kv + j) * past + past) * d), dst)
          }
          for (let i = 0; i < t; i++) {
            const src = ((r * t + i) * kv + j) * d
            const at = dst + (past + i) * d
            for (let e = 0; e < d; e++) {
              kAll[at + e] = kn[src + e]!
              vAll[at + e] = vNew[src + e]!
            }
            if (!ropeTable) ropeInPlace(kAll, at, ropes[r]![i]!)
          }
        }
        if (!ropeTable) for (let i = 0; i < t; i++) for (let hh = 0; hh < nh; hh++) ropeInPlace(qn, ((r * t + i) * nh + hh) * d, ropes[r]![i]!)
      }
      newK.push(kAll)
      newV.push(vAll)
      // Attention, one (row, head) at a time as matrix products on bands of q and ctx ([t, d] of
      // [tokens, heads·d]); GQA head hh reads kv head hh / g. Masked keys get −1e9 as tfjs adds it.
      const probs = training ? K.alloc(b * nh * t * total, false) : undefined
      const ctx = K.alloc(M * nh * d, false)
      // fused kernels (head_dim a multiple of 4), else the loops below
      const fusedAttention = K.fused && d % 4 === 0 ? K.fused : undefined
      fusedAttention?.attentionForward({ b, t, nh, kv, d, total, past, scale, keyValid: input.keyValid, q: qn, k: kAll, v: vAll, ctx, ...(probs ? { probs } : {}) })
      const scratch = training || fusedAttention ? undefined : K.alloc(t * total)
      for (let r = 0; r < b && !fusedAttention; r++) {
        const kvalid = input.keyValid[r]!
        for (let hh = 0; hh < nh; hh++) {
          const kvBase = ((r * kv + Math.floor(hh / g)) * total) * d
          const qBand = qn.subarray((r * t * nh + hh) * d)
          const p = probs ? probs.subarray(((r * nh + hh) * t) * total, ((r * nh + hh) * t + t) * total) : scratch!
          K.gemmNT(qBand, kAll.subarray(kvBase), p, t, total, d, scale, false, { a: nh * d })
          for (let i = 0; i < t; i++) {
            const o = i * total
            let max = -Infinity
            for (let j = 0; j < total; j++) {
              if (!(j <= past + i && kvalid[j])) p[o + j] = Math.fround(p[o + j]! + MASKED)
              if (p[o + j]! > max) max = p[o + j]!
            }
            let sum = 0
            for (let j = 0; j < total; j++) {
              const e = Math.exp(p[o + j]! - max)
              scores[j] = e
              sum += e
            }
            for (let j = 0; j < total; j++) p[o + j] = scores[j]! / sum
          }
          K.gemmNN(p, vAll.subarray(kvBase), ctx.subarray((r * t * nh + hh) * d), t, d, total, 1, false, { c: nh * d })
        }
      }
      const o = this.linear(w, ctx, M, l, "o_proj", nh * d, H, training ? lin : undefined)
      const h1 = K.alloc(M * H, false)
      for (let i = 0; i < h1.length; i++) h1[i] = h[i]! + o[i]!
      const yn = K.alloc(M * H, false)
      const rstd2 = K.alloc(M, false)
      this.norm(h1, w.weight(`${pre}.post_attention_layernorm.weight`), H, eps, yn, rstd2)
      const gate = this.linear(w, yn, M, l, "gate_proj", H, I, training ? lin : undefined)
      const up = this.linear(w, yn, M, l, "up_proj", H, I, training ? lin : undefined)
      const act = K.alloc(M * I, false)
      if (K.fused && act.length % 4 === 0) K.fused.swiglu(gate, up, act, act.length)
      else for (let i = 0; i < act.length; i++) {
        const gv = gate[i]!
        act[i] = (gv / (1 + Math.exp(-gv))) * up[i]!
      }
      const down = this.linear(w, act, M, l, "down_proj", I, H, training ? lin : undefined)
      const h2 = K.alloc(M * H, false)
      for (let i = 0; i < h2.length; i++) h2[i] = h1[i]! + down[i]!
      if (training) layers.push({ hIn: h, rstd1, xn, qRaw, kRaw, rstdQ, rstdK, qr: qn, kr: kAll, v: vAll, probs: probs!, ctx, h1, rstd2, yn, gate, up, act, lin })
      h = h2
    }
    const rows: Array<number> = []
    for (let i = 0; i < M; i++) if (!input.logitRows || input.logitRows[i]) rows.push(i)
    const hn = K.alloc(rows.length * H, false)
    const rstdF = K.alloc(rows.length, false)
    const hSel = rows.length === M ? h : K.alloc(rows.length * H, false)
    if (hSel !== h) rows.forEach((row, i) => hSel.set(h.subarray(row * H, row * H + H), i * H))
    this.norm(hSel, w.weight("model.norm.weight"), H, eps, hn, rstdF)
    const head = w.weight(c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight")
    const logits = K.alloc(rows.length * V, false)
    K.gemmNT(hn, head, logits, rows.length, V, H, 1, false)
    return training ? { logits, newK, newV, total, saved: { layers, hFinal: hSel, rstdF, hn, rows } } : { logits, newK, newV, total }
  }

  /**
   * Gradients of a loss whose gradient with respect to the logits is `dLogits` (the forward's
   * rows), for the weights `w.trainParam` names and the LoRA pairs marked train; keys are
   * checkpoint names and PATH.lora_A / PATH.lora_B. Needs a forward run forTraining without cache.
   */
  backward(w: HostWeights, input: HostForwardInput, fwd: HostForwardResult, dLogits: Float32Array): Map<string, Float32Array> {
    const s = fwd.saved
    if (!s || input.cache) throw new Error("backward needs a training forward without a cache")
    const c = this.config
    const K = this.k
    const b = input.ids.length
    const t = input.ids[0]!.length
    const M = b * t
    const H = c.hiddenSize
    const nh = c.numHeads
    const kv = c.numKvHeads
    const d = c.headDim
    const g = nh / kv
    const I = c.intermediateSize
    const V = c.vocabSize
    const total = t
    const scale = 1 / Math.sqrt(d)
    const grads = new Map<string, Float32Array>()
    const R = s.rows.length
    // Head and final norm.
    const headName = c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight"
    const dhn = K.alloc(R * H, false)
    K.gemmNN(dLogits, w.weight(headName), dhn, R, H, V, 1, false)
    if (w.trainParam(headName)) K.gemmTN(dLogits, s.hn, gradOf(this.k, grads, headName, V * H), V, H, R, 1, true)
    const dhSel = K.alloc(R * H, false)
    this.normBack(s.hFinal, w.weight("model.norm.weight"), s.rstdF, dhn, H, dhSel, w.trainParam("model.norm.weight") ? gradOf(this.k, grads, "model.norm.weight", H) : undefined, true)
    let dh = dhSel
    if (R !== M) {
      dh = K.alloc(M * H)
      s.rows.forEach((row, i) => dh.set(dhSel.subarray(i * H, i * H + H), row * H))
    }
    const half = d / 2
    const ropes = input.positions.map((row) => row.map((p) => this.rope(p)))
    const ropeTable = this.ropeTable(ropes, d)
    for (let l = c.numLayers - 1; l >= 0; l--) {
      const L = s.layers[l]!
      const pre = `model.layers.${l}`
      const dw = (name: string, n: number) => (w.trainParam(name) ? gradOf(this.k, grads, name, n) : undefined)
      // MLP
      const dact = K.alloc(M * I, false)
      this.linearBack(w, grads, dh, M, l, "down_proj", I, H, L.lin.get("down_proj")!, dact, false)
      const dgate = K.alloc(M * I, false)
      const dup = K.alloc(M * I, false)
      if (K.fused && dact.length % 4 === 0) K.fused.swigluBack(dact, L.gate, L.up, dgate, dup, dact.length)
      else for (let i = 0; i < dact.length; i++) {
        const gv = L.gate[i]!
        const sg = 1 / (1 + Math.exp(-gv))
        dup[i] = dact[i]! * gv * sg
        dgate[i] = dact[i]! * L.up[i]! * sg * (1 + gv * (1 - sg))
      }
      const dyn = K.alloc(M * H, false)
      this.linearBack(w, grads, dgate, M, l, "gate_proj", H, I, L.lin.get("gate_proj")!, dyn, false)
      this.linearBack(w, grads, dup, M, l, "up_proj", H, I, L.lin.get("up_proj")!, dyn, true)
      const dh1 = K.alloc(M * H, false)
      dh1.set(dh)
      this.normBack(L.h1, w.weight(`${pre}.post_attention_layernorm.weight`), L.rstd2, dyn, H, dh1, dw(`${pre}.post_attention_layernorm.weight`, H), false)
      // Attention output
      const dctx = K.alloc(M * nh * d, false)
      this.linearBack(w, grads, dh1, M, l, "o_proj", nh * d, H, L.lin.get("o_proj")!, dctx, false)
      const dq = K.alloc(M * nh * d) // w.r.t. roped, normed q, layout [b, t, nh, d]
      const dkAll = K.alloc(b * kv * total * d)
      const dvAll = K.alloc(b * kv * total * d)
      const fusedAttention = K.fused && d % 4 === 0 ? K.fused : undefined
      fusedAttention?.attentionBackward({ b, t, nh, kv, d, scale, keyValid: input.keyValid, q: L.qr, k: L.kr, v: L.v, probs: L.probs, dctx, dq, dk: dkAll, dv: dvAll })
      const dp = fusedAttention ? undefined : K.alloc(t * total)
      for (let r = 0; r < b && dp; r++) {
        for (let hh = 0; hh < nh; hh++) {
          const kvBase = ((r * kv + Math.floor(hh / g)) * total) * d
          const band = (r * t * nh + hh) * d
          const dctxBand = dctx.subarray(band)
          const p = L.probs.subarray(((r * nh + hh) * t) * total, ((r * nh + hh) * t + t) * total)
          const kj = L.kr.subarray(kvBase)
          K.gemmNT(dctxBand, L.v.subarray(kvBase), dp, t, total, d, 1, false, { a: nh * d })
          K.gemmTN(p, dctxBand, dvAll.subarray(kvBase), total, d, t, 1, true, { b: nh * d })
          // softmax's adjoint, in place: dS = P·(dP − Σ P·dP)·scale
          for (let i = 0; i < t; i++) {
            const o = i * total
            let dot = 0
            for (let j = 0; j < total; j++) dot += p[o + j]! * dp[o + j]!
            for (let j = 0; j < total; j++) dp[o + j] = p[o + j]! * (dp[o + j]! - dot) * scale
          }
          K.gemmNN(dp, kj, dq.subarray(band), t, d, total, 1, true, { c: nh * d })
          K.gemmTN(dp, L.qr.subarray(band), dkAll.subarray(kvBase), total, d, t, 1, true, { b: nh * d })
        }
      }
      // RoPE's adjoint: dx = dy·cos + rotate_halfᵀ(dy·sin), rotate_halfᵀ(z) = [z2, −z1].
      const ropeBack = (buf: Float32Array, o: number, cs: { cos: Float32Array; sin: Float32Array }) => {
        for (let i = 0; i < half; i++) {
          const y1 = buf[o + i]!
          const y2 = buf[o + i + half]!
          buf[o + i] = y1 * cs.cos[i]! + y2 * cs.sin[i + half]!
          buf[o + i + half] = y2 * cs.cos[i + half]! - y1 * cs.sin[i]!
        }
      }
      const dkn = K.alloc(M * kv * d, false)
      const dv = K.alloc(M * kv * d, false)
      for (let r = 0; r < b; r++) {
        for (let i = 0; i < t; i++) {
          const cs = ropes[r]![i]!
          if (!ropeTable) for (let hh = 0; hh < nh; hh++) ropeBack(dq, ((r * t + i) * nh + hh) * d, cs)
          for (let j = 0; j < kv; j++) {
            const src = ((r * kv + j) * total + i) * d
            const dst = ((r * t + i) * kv + j) * d
            if (!ropeTable) ropeBack(dkAll, src, cs)
            for (let e = 0; e < d; e++) {
              dkn[dst + e] = dkAll[src + e]!
              dv[dst + e] = dvAll[src + e]!
            }
          }
        }
      }
      if (ropeTable) {
        K.fused!.rope(dq, ropeTable.cos, ropeTable.sin, M, nh, d, true)
        K.fused!.rope(dkn, ropeTable.cos, ropeTable.sin, M, kv, d, true)
      }
      const dqRaw = K.alloc(M * nh * d, false)
      this.normBack(L.qRaw, w.weight(`${pre}.self_attn.q_norm.weight`), L.rstdQ, dq, d, dqRaw, dw(`${pre}.self_attn.q_norm.weight`, d), true)
      const dkRaw = K.alloc(M * kv * d, false)
      this.normBack(L.kRaw, w.weight(`${pre}.self_attn.k_norm.weight`), L.rstdK, dkn, d, dkRaw, dw(`${pre}.self_attn.k_norm.weight`, d), true)
      const dxn = K.alloc(M * H, false)
      this.linearBack(w, grads, dqRaw, M, l, "q_proj", H, nh * d, L.lin.get("q_proj")!, dxn, false)
      this.linearBack(w, grads, dkRaw, M, l, "k_proj", H, kv * d, L.lin.get("k_proj")!, dxn, true)
      this.linearBack(w, grads, dv, M, l, "v_proj", H, kv * d, L.lin.get("v_proj")!, dxn, true)
      const dhIn = K.alloc(M * H, false)
      dhIn.set(dh1)
      this.normBack(L.hIn, w.weight(`${pre}.input_layernorm.weight`), L.rstd1, dxn, H, dhIn, dw(`${pre}.input_layernorm.weight`, H), false)
      dh = dhIn
    }
    // The embedding's gradient: a scatter-add of the first hidden state's gradient by token id.
    if (w.trainParam("model.embed_tokens.weight")) {
      const ge = gradOf(this.k, grads, "model.embed_tokens.weight", V * H)
      for (let r = 0; r < b; r++) {
        for (let i = 0; i < t; i++) {
          const id = input.ids[r]![i]!
          const src = (r * t + i) * H
          for (let e = 0; e < H; e++) ge[id * H + e] = ge[id * H + e]! + dh[src + e]!
        }
      }
    }
    return grads
  }
}

/** The gradient array of `name`, zeroed on first use (kernel memory: the caller copies it out before releasing). */
const gradOf = (k: CpuKernels, grads: Map<string, Float32Array>, name: string, n: number): Float32Array => {
  let g = grads.get(name)
  if (!g) {
    g = k.alloc(n)
    grads.set(name, g)
  }
  return g
}

