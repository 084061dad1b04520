/**
 * Puts the fused CPU Qwen3 (model/cpu/qwen3-cpu.ts) behind Qwen3Model.forward and causalLmLoss
 * while the `cpu-fused` backend is chosen: weights stay tfjs tensors of tfjs' `cpu` backend (read
 * in place, no copy), logits and KV caches come back as tfjs tensors, and the loss is one
 * tf.customGrad node whose gradient is the hand-written backward — so tf.variableGrads, the
 * trainer, AdamW and checkpoints work unchanged.
 */
import * as tf from "@tensorflow/tfjs-core"
import { projectionNames, type ProjectionName } from "../qwen3/projections.ts"
import { type ForwardOptions, forwardInputs, type ForwardResult, type KvCache, type Qwen3Model, useFusedForward } from "../tfjs/qwen3-model.ts"
import { type CpuKernels, jsKernels } from "./kernels.ts"
import { type HostForwardInput, type HostLora, HostQwen3, type HostWeights } from "./qwen3-cpu.ts"

let kernels: CpuKernels = jsKernels()
const hosts = new WeakMap<Qwen3Model, HostQwen3>()
let pendingRelease: (() => void) | undefined

/** Sets the kernels the fused path computes with (the backend does, once). */
export const useCpuKernels = (k: CpuKernels): void => {
  kernels = k
}
export const cpuKernelsInUse = (): CpuKernels => kernels

const hostOf = (model: Qwen3Model): HostQwen3 => {
  let h = hosts.get(model)
  if (!h || h.k !== kernels) {
    h = new HostQwen3(model.config, kernels)
    hosts.set(model, h)
  }
  return h
}

const projectionPath = (layer: number, m: ProjectionName) => `model.layers.${layer}.${m === "q_proj" || m === "k_proj" || m === "v_proj" || m === "o_proj" ? "self_attn" : "mlp"}.${m}`

const read = (t: tf.Tensor): Float32Array => kernels.weights(t.dataSync() as Float32Array)

const isTrainable = (t: tf.Tensor): boolean => t instanceof tf.Variable && t.trainable

/**
 * The state seedrandom's Alea starts from for `seed` (its Mash hash, as tfjs' randomUniform seeds
 * it): the WebAssembly kernels then draw the same numbers. Ported from seedrandom 3 (lib/alea.js).
 */
export const aleaState = (seed: string): { s0: number; s1: number; s2: number; c: number } => {
  let n = 0xefc8249d
  const mash = (data: string): number => {
    for (let i = 0; i < data.length; i++) {
      n += data.charCodeAt(i)
      let h = 0.02519603282416938 * n
      n = h >>> 0
      h -= n
      h *= n
      n = h >>> 0
      h -= n
      n += h * 0x100000000
    }
    return (n >>> 0) * 2.3283064365386963e-10
  }
  let s0 = mash(" ")
  let s1 = mash(" ")
  let s2 = mash(" ")
  s0 -= mash(seed)
  if (s0 < 0) s0 += 1
  s1 -= mash(seed)
  if (s1 < 0) s1 += 1
  s2 -= mash(seed)
  if (s2 < 0) s2 += 1
  return { s0, s1, s2, c: 1 }
}

/** The model's tensors as the host forward reads them; `train` names those that get gradients. */
const hostWeights = (model: Qwen3Model, options: Pick<ForwardOptions, "dropoutSeed" | "dropoutMasks">, train: boolean): HostWeights => ({
  weight(name) {
    const t = model.params.get(name)
    if (!t) throw new Error(`model has no weight '${name}'`)
    return read(t)
  },
  lora(layer, m): HostLora | undefined {
    const pair = model.lora.get(projectionPath(layer, m))
    if (!pair) return undefined
    return { a: read(pair.a), b: read(pair.b), r: pair.a.shape[0]!, scale: pair.scale, train: train && isTrainable(pair.a) }
  },
  trainParam: (name) => train && isTrainable(model.params.get(name)!),
  dropMask(layer, m, rows, cols) {
    const pair = model.lora.get(projectionPath(layer, m))
    if (!pair || !(pair.dropout > 0)) return undefined
    const values = kernels.alloc(rows * cols, false)
    if (options.dropoutMasks) {
      values.set(options.dropoutMasks(layer, m, [rows, cols]).dataSync() as Float32Array)
      return values
    }
    if (options.dropoutSeed === undefined) return undefined
    // tf.dropout's multiplier, floor(u + keep) / keep in f32, from tfjs' own seeded uniform draws
    // (the seed the tfjs forward gives it: the same masks), without its scalar-broadcast ops.
    const seed = (options.dropoutSeed * 1000 + layer) * 7919 + projectionNames.indexOf(m) + 1
    const keep = Math.fround(1 - pair.dropout)
    if (kernels.fused) {
      kernels.fused.dropoutMask(values, aleaState(String(seed)), keep)
      return values
    }
    const u = tf.randomUniform([rows, cols], 0, 1, "float32", seed)
    const draws = u.dataSync() as Float32Array
    for (let i = 0; i < draws.length; i++) values[i] = Math.floor(Math.fround(draws[i]! + keep)) / keep
    u.dispose()
    return values
  }
})

/** A kernel-owned array as tensor data: copied when the kernels reuse their memory. */
const owned = (a: Float32Array): Float32Array => (kernels.arena ? a.slice() : a)

/** Qwen3Model.forward on the fused CPU path (same options, same results). */
export const fusedForward = (model: Qwen3Model, ids: ReadonlyArray<ReadonlyArray<number>>, options: ForwardOptions): ForwardResult => {
  const c = model.config
  const { b, t, past, positions, keyValid } = forwardInputs(ids, options)
  const mark = kernels.mark()
  try {
    const copyIn = (x: tf.Tensor) => {
      const a = kernels.alloc(x.size, false)
      a.set(x.dataSync() as Float32Array)
      return a
    }
    const cache = options.cache ? { k: options.cache.k.map(copyIn), v: options.cache.v.map(copyIn), length: past, valid: options.cache.valid } : undefined
    const input: HostForwardInput = { ids, positions, keyValid, forTraining: false, ...(cache ? { cache } : {}) }
    const out = hostOf(model).forward(hostWeights(model, options, false), input)
    const logits = tf.tensor3d(owned(out.logits), [b, t, c.vocabSize])
    if (!options.keepCache) return { logits }
    const shape: [number, number, number, number] = [b, c.numKvHeads, out.total, c.headDim]
    const kvCache: KvCache = {
      k: out.newK.map((k) => tf.tensor4d(owned(k), shape)),
      v: out.newV.map((v) => tf.tensor4d(owned(v), shape)),
      length: out.total,
      valid: keyValid
    }
    return { logits, cache: kvCache }
  } finally {
    kernels.release(mark)
  }
}

useFusedForward(fusedForward)

/**
 * causalLmLoss on the fused CPU path: the same mean next-token cross-entropy (targetMask as labels
 * of -100), as one tfjs op whose gradient reaches every trainable variable of the model — LoRA
 * pairs, or every weight for full fine-tuning (embedding included).
 */
export const fusedCausalLmLoss = (
  model: Qwen3Model,
  ids: ReadonlyArray<ReadonlyArray<number>>,
  options: { readonly targetMask?: ReadonlyArray<ReadonlyArray<number>> } & Pick<ForwardOptions, "dropoutSeed" | "dropoutMasks">
): tf.Scalar => {
  const b = ids.length
  const t = ids[0]!.length
  const V = model.config.vocabSize
  // Row r·t + i predicts token i + 1 of row r; rows that predict nothing are not computed.
  const weights = new Float64Array(b * t)
  for (let r = 0; r < b; r++) for (let i = 0; i < t - 1; i++) weights[r * t + i] = options.targetMask ? options.targetMask[r]![i + 1]! : 1
  const count = weights.reduce((a, w) => a + w, 0)
  if (count === 0) throw new Error("batch has no target tokens")
  const logitRows = Array.from(weights, (w) => w !== 0)
  const trainables: Array<[string, tf.Tensor]> = []
  for (const [name, p] of model.params) if (isTrainable(p)) trainables.push([name, p])
  for (const [path, pair] of model.lora) {
    if (isTrainable(pair.a)) trainables.push([`${path}.lora_A`, pair.a])
    if (isTrainable(pair.b)) trainables.push([`${path}.lora_B`, pair.b])
  }
  const input: HostForwardInput = { ids, positions: ids.map(() => Array.from({ length: t }, (_, i) => i)), keyValid: ids.map((row) => row.map(() => 1)), forTraining: true, logitRows }
  const run = (train: boolean): { loss: number; grads?: () => Array<Float32Array> } => {
    // A forward whose gradient was never asked for holds kernel memory until the next one.
    pendingRelease?.()
    const host = hostOf(model)
    const w = hostWeights(model, options, train)
    const mark = kernels.mark()
    let done = false
    try {
      const fwd = host.forward(w, input)
      // Cross-entropy and its gradient, row by row: softmax − one-hot, weighted (the kernels', or
      // the loop below in f64 with the JavaScript kernels).
      const rows = fwd.saved!.rows
      const dLogits = fwd.logits
      let loss = 0
      if (kernels.fused) {
        const targets = Int32Array.from(rows, (row) => ids[Math.floor(row / t)]![(row % t) + 1]!)
        const rowWeights = Float32Array.from(rows, (row) => weights[row]! / count)
        const nll = kernels.fused.crossEntropy(dLogits, rows.length, V, targets, rowWeights)
        rows.forEach((row, k) => {
          loss += (weights[row]! * nll[k]!) / count
        })
      } else rows.forEach((row, k) => {
        const target = ids[Math.floor(row / t)]![(row % t) + 1]!
        const o = k * V
        let max = -Infinity
        for (let j = 0; j < V; j++) if (dLogits[o + j]! > max) max = dLogits[o + j]!
        const picked = dLogits[o + target]!
        // one exp per logit: exp(x − max) kept in place, then scaled by weight / (count · Σ)
        let sum = 0
        for (let j = 0; j < V; j++) {
          const e = Math.exp(dLogits[o + j]! - max)
          dLogits[o + j] = e
          sum += e
        }
        const wgt = weights[row]!
        loss += (wgt * (max + Math.log(sum) - picked)) / count
        const f = wgt / count / sum
        for (let j = 0; j < V; j++) dLogits[o + j] = dLogits[o + j]! * f
        dLogits[o + target] = dLogits[o + target]! - wgt / count
      })
      if (!train) return { loss }
      done = true
      pendingRelease = () => {
        pendingRelease = undefined
        kernels.release(mark)
      }
      return {
        loss,
        grads: () => {
          try {
            const g = host.backward(w, input, fwd, dLogits)
            return trainables.map(([name, p]) => g.get(name)?.slice() ?? new Float32Array(p.size))
          } finally {
            pendingRelease?.()
          }
        }
      }
    } finally {
      if (!done) kernels.release(mark)
    }
  }
  if (trainables.length === 0) return tf.scalar(run(false).loss)
  const op = tf.customGrad((...args: Array<unknown>) => {
    const { loss, grads } = run(true)
    return {
      value: tf.scalar(loss),
      gradFunc: (dy: tf.Tensor) => {
        const scale = dy.dataSync()[0]!
        return grads!().map((g, i) => {
          if (scale !== 1) for (let j = 0; j < g.length; j++) g[j] = g[j]! * scale
          return tf.tensor(g, (args[i] as tf.Tensor).shape)
        })
      }
    }
  })
  return op(...trainables.map(([, p]) => p)) as tf.Scalar
}

/**
 * pickTargets on the fused CPU path: per row of `logits` [rows, vocab], the log-softmax at the
 * target token and the argmax (first of equal maxima, as tf.argMax), in one pass over the values
 * (tfjs' cpu backend broadcasts log-softmax element by element, slower than the model itself).
 */
export const fusedPickTargets = (logits: tf.Tensor2D, targets: ReadonlyArray<number>): { logprobs: Float32Array; argmax: Int32Array } => {
  const [rows, v] = logits.shape
  const x = logits.dataSync() as Float32Array
  if (kernels.fused) {
    targets.forEach((target, r) => {
      if (!(target >= 0 && target < v)) throw new RangeError(`target ${target} of row ${r} is outside the vocabulary of ${v}`)
    })
    return kernels.fused.pickTargets(x, rows, v, Int32Array.from(targets))
  }
  const logprobs = new Float32Array(rows)
  const argmax = new Int32Array(rows)
  for (let r = 0; r < rows; r++) {
    const o = r * v
    let max = -Infinity
    let at = 0
    for (let j = 0; j < v; j++) {
      if (x[o + j]! > max) {
        max = x[o + j]!
        at = j
      }
    }
    let sum = 0
    for (let j = 0; j < v; j++) sum += Math.exp(x[o + j]! - max)
    const target = targets[r]!
    if (!(target >= 0 && target < v)) throw new RangeError(`target ${target} of row ${r} is outside the vocabulary of ${v}`)
    logprobs[r] = x[o + target]! - max - Math.log(sum)
    argmax[r] = at
  }
  return { logprobs, argmax }
}
