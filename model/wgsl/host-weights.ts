import * as tf from "@tensorflow/tfjs-core"
import type { Qwen3Model } from "../tfjs/qwen3-model.ts"

/**
 * Host copies of a loaded model's weights by checkpoint name, for uploading to fleuve's WGSL
 * engines (asynchronous reads: WebGPU cannot read synchronously in Node). `mergeLora`: each
 * attached LoRA pair is merged into its projection (W + scale·B·A), as the scoring engine holds
 * them; without it the base weights are returned as they are (the trainer keeps the pairs apart).
 */
export const hostWeights = async (model: Qwen3Model, options: { readonly mergeLora: boolean }): Promise<Map<string, Float32Array>> => {
  const out = new Map([...(await model.toHost())].map(([name, t]) => [name, t.data]))
  if (!options.mergeLora) return out
  for (const [path, pair] of model.lora) {
    const name = `${path}.weight`
    const base = model.params.get(name)
    if (!base) throw new Error(`LoRA pair on '${path}', but the model has no weight '${name}'`)
    const merged = tf.tidy(() => tf.add(base, tf.mul(tf.matMul(pair.b, pair.a), pair.scale)))
    out.set(name, (await merged.data()) as Float32Array)
    merged.dispose()
  }
  return out
}

/** A reader of `host` that drops each tensor once taken (each is uploaded once: halves the peak host memory). */
export const takeOnce = (host: Map<string, Float32Array>) => (name: string): Float32Array => {
  const t = host.get(name)
  if (!t) throw new Error(`model has no weight '${name}'`)
  host.delete(name)
  return t
}
