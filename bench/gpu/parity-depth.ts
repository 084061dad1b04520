/**
 * Where do fleuve's GPU paths drift from the f32 reference as a model gets deeper? A random
 * Qwen3 (hidden 256, 4/2 heads of 64, vocabulary 512, weights N(0, 0.02) f16-rounded, norms 1 —
 * the scoring bench's recipe at a smaller width) at 2, 8 and 28 layers: per-token log-probs of
 * 2 × 64 tokens from tfjs on its f32 CPU kernels (the reference), from the WGSL engine, and from
 * the tfjs runtime on WebGPU. Prints the largest and mean |Δ| of each GPU path per depth.
 *
 *   node bench/gpu/parity-depth.ts
 */
import * as tf from "@tensorflow/tfjs-core"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { engineShape, Qwen3Engine, uploadQwen3Weights, weightBuffers } from "../../model/wgsl/qwen3-engine.ts"
import { roundF16 } from "../../model/wgsl/kernels/buffers.ts"
import { openGpu } from "../../model/wgsl/kernels/device.ts"
import { parseQwen3Config } from "../../model/qwen3/config.ts"
import { expectedShapes, Qwen3Model } from "../../model/tfjs/qwen3-model.ts"
import { emit } from "./common.ts"

const normal = (n: number, std: number, seed: number) => {
  let x = seed >>> 0 || 1
  const next = () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return ((x >>> 0) + 0.5) / 2 ** 32
  }
  return Float32Array.from({ length: n }, () => std * Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next()))
}

const opened = await openGpu()
if (opened._tag !== "Ready") throw new Error(opened.reason)
const gpu = opened.gpu
const [B, S, V] = [2, 64, 512]
const ids = [Array.from({ length: S }, (_, i) => (i * 37 + 1) % V), Array.from({ length: S }, (_, i) => (i * 91 + 5) % V)]
const targets = ids.map((row) => row.map((_, j) => row[(j + 1) % S]!))

for (const layers of [2, 8, 28]) {
  const config = parseQwen3Config({
    model_type: "qwen3", vocab_size: V, hidden_size: 256, intermediate_size: 512, num_hidden_layers: layers, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: 64, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 256, tie_word_embeddings: true
  })
  const host = new Map([...expectedShapes(config)].map(([name, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1)
    return [name, { shape, values: name.includes("norm") ? new Float32Array(n).fill(1) : roundF16(normal(n, 0.02, 1000 + i)) }] as const
  }))
  const tfjsLogprobs = async (backend: "cpu" | "webgpu") => {
    await selectBackend(backend)
    const model = new Qwen3Model(config, new Map([...host].map(([n, t]) => [n, tf.tensor(t.values, [...t.shape])])))
    const { logits } = model.forward(ids)
    const lp = tf.logSoftmax(logits)
    const values = await lp.data()
    tf.dispose([logits, lp])
    model.dispose()
    return targets.flatMap((row, b) => row.map((t, j) => values[(b * S + j) * V + t]!))
  }
  const reference = await tfjsLogprobs("cpu")
  const webgpu = await tfjsLogprobs("webgpu")
  const shape = engineShape(config)
  const weights = uploadQwen3Weights(gpu, shape, "f16", (name) => host.get(name)!.values, true)
  const engine = await Qwen3Engine.create(gpu, shape, weights, B, S)
  const scored = await engine.score(Uint32Array.from(ids.flat()), Uint32Array.from(targets.flat()))
  engine.dispose()
  for (const b of weightBuffers(weights)) b.destroy()
  const gap = (got: ArrayLike<number>) => {
    let max = 0
    let sum = 0
    for (let i = 0; i < reference.length; i++) {
      const d = Math.abs(got[i]! - reference[i]!)
      max = Math.max(max, d)
      sum += d
    }
    return { max: +max.toFixed(5), mean: +(sum / reference.length).toFixed(5) }
  }
  emit({ kind: "parity-depth", layers, reference: "tfjs f32 CPU kernels", meanReferenceLogprob: +(reference.reduce((a, b) => a + b, 0) / reference.length).toFixed(3), engine: gap(scored.logprob), tfjsWebgpu: gap(webgpu) })
}
gpu.close()
process.exit(0)
