import * as tf from "@tensorflow/tfjs-core"
import type { HostTensor } from "../formats/safetensors.ts"
import { cpuKernelsInUse } from "../cpu/tfjs-bridge.ts"
import { fusedCpuActive } from "../tfjs/backend.ts"

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

  /** One step; `gradScale` multiplies every gradient first (clipping by global norm). */
  apply(params: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, lr: number, gradScale = 1): void {
    const { beta1, beta2, eps, weightDecay } = this.options
    this.step += 1
    const bc1 = 1 - Math.pow(beta1, this.step)
    const bc2 = 1 - Math.pow(beta2, this.step)
    if (fusedCpuActive()) return this.applyOnHost(params, grads, lr, gradScale, bc1, bc2)
    for (const [name, p] of params) {
      const g0 = grads.get(name)
      if (!g0) continue
      const g = gradScale === 1 ? g0 : tf.mul(g0, gradScale)
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
      if (g !== g0) g.dispose()
      this.m.set(name, m1!)
      this.v.set(name, v1!)
    }
  }

  /**
   * The same update as one loop per tensor over the values of tfjs' cpu backend (the cpu-fused
   * backend): its elementwise ops with a scalar take a slow broadcasting path, which made the
   * optimizer cost more than the model's forward and backward.
   */
  private applyOnHost(params: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, lr: number, gradScale: number, bc1: number, bc2: number): void {
    const { beta1, beta2, eps, weightDecay } = this.options
    const sqrtBc2 = Math.sqrt(bc2)
    const stepSize = lr / bc1
    const decay = 1 - lr * weightDecay
    for (const [name, p] of params) {
      const gt = grads.get(name)
      if (!gt) continue
      const g = gt.dataSync() as Float32Array
      const pv = p.dataSync() as Float32Array
      // the moments are this optimizer's own tensors: updated in place (the cpu backend's
      // dataSync is their storage); the weight gets a new array, which is how the fused path
      // sees that it changed
      let m0 = this.m.get(name)
      let v0 = this.v.get(name)
      if (!m0 || !v0) {
        m0 = tf.zeros(p.shape, "float32")
        v0 = tf.zeros(p.shape, "float32")
        this.m.set(name, m0)
        this.v.set(name, v0)
      }
      const mv = m0.dataSync() as Float32Array
      const vv = v0.dataSync() as Float32Array
      // fleuve's WebAssembly kernels: SIMD over both threads, and the new weights' kernel copy made here
      const fused = cpuKernelsInUse().fused
      const p1 = fused ? fused.adamw(pv, g, mv, vv, { gradScale, beta1, beta2, eps, stepSize, sqrtBc2, decay }) : new Float32Array(g.length)
      for (let i = 0; i < g.length && !fused; i++) {
        const gi = g[i]! * gradScale
        const m = (mv[i] = beta1 * mv[i]! + (1 - beta1) * gi)
        const v = (vv[i] = beta2 * vv[i]! + (1 - beta2) * gi * gi)
        p1[i] = pv[i]! * decay - (stepSize * m) / (Math.sqrt(v) / sqrtBc2 + eps)
      }
      const next = tf.tensor(p1, p.shape, "float32")
      p.assign(next)
      next.dispose()
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
