import * as tf from "@tensorflow/tfjs-core"
import type { HostTensor } from "../formats/safetensors.ts"

export interface AdamWOptions {
  readonly beta1: number
  readonly beta2: number
  readonly eps: number
  readonly weightDecay: number
}

export const defaultAdamW: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }

/**
 * AdamW with decoupled weight decay, step for step as torch.optim.AdamW: decay the weights by
 * lr·wd, then the bias-corrected Adam update. Its moments save and load for exact resume.
 */
export class AdamW {
  private readonly m = new Map<string, tf.Tensor>()
  private readonly v = new Map<string, tf.Tensor>()
  step = 0

  constructor(readonly options: AdamWOptions = defaultAdamW) {}

  apply(params: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, lr: number): void {
    const { beta1, beta2, eps, weightDecay } = this.options
    this.step += 1
    const bc1 = 1 - Math.pow(beta1, this.step)
    const bc2 = 1 - Math.pow(beta2, this.step)
    for (const [name, p] of params) {
      const g = grads.get(name)
      if (!g) continue
      const m0 = this.m.get(name)
      const v0 = this.v.get(name)
      const [m1, v1] = tf.tidy(() => [
        tf.add(tf.mul(m0 ?? tf.zerosLike(g), beta1), tf.mul(g, 1 - beta1)),
        tf.add(tf.mul(v0 ?? tf.zerosLike(g), beta2), tf.mul(tf.square(g), 1 - beta2))
      ])
      tf.tidy(() => {
        const decayed = tf.mul(p, 1 - lr * weightDecay)
        const denom = tf.add(tf.div(tf.sqrt(v1!), Math.sqrt(bc2)), eps)
        p.assign(tf.sub(decayed, tf.mul(tf.div(m1!, denom), lr / bc1)))
      })
      tf.dispose([m0, v0].filter((t): t is tf.Tensor => t !== undefined))
      this.m.set(name, m1!)
      this.v.set(name, v1!)
    }
  }

  /** The moments on the host (asynchronous reads: WebGPU cannot read synchronously in Node). */
  async toHost(): Promise<Map<string, HostTensor>> {
    const out = new Map<string, HostTensor>()
    for (const [name, t] of this.m) out.set(`m.${name}`, { shape: t.shape, data: (await t.data()) as Float32Array })
    for (const [name, t] of this.v) out.set(`v.${name}`, { shape: t.shape, data: (await t.data()) as Float32Array })
    return out
  }

  loadHost(state: ReadonlyMap<string, HostTensor>, step: number): void {
    this.dispose()
    for (const [key, t] of state) {
      const target = key.startsWith("m.") ? this.m : this.v
      target.set(key.slice(2), tf.tensor(t.data, [...t.shape]))
    }
    this.step = step
  }

  dispose(): void {
    tf.dispose([...this.m.values(), ...this.v.values()])
    this.m.clear()
    this.v.clear()
  }
}
