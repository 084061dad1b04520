import { pipeline, uniformBuffer, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { elementwiseMain, grid } from "./fused.ts"

/**
 * LoRA dropout on the GPU, as PEFT applies it: y = Wx + s·B·A·dropout(x), each adapted projection
 * with a mask of its own. The mask is a counter-based hash of (seed, site, element index) — the
 * trainer gives each (layer, projection) a site — rather than a stream of random numbers: the
 * backward redraws exactly the forward's mask instead of storing it, and `dropoutMask` reproduces
 * it bit for bit on the CPU. An element is kept when its hash ≥ round(p·2³²), so the keep
 * probability is 1 − p to within 2⁻³²; kept elements are scaled by 1/(1 − p) (inverted dropout,
 * as torch).
 *
 * The seed is a u32 in a storage buffer of its own, written once per micro-batch, so the hundreds
 * of dispatches of a step keep static uniforms.
 */

/** A 32-bit integer hash with full avalanche (the "lowbias32" constants); `Math.imul` wraps as WGSL's u32 product does. */
export const mix32 = (x: number): number => {
  let h = x >>> 0
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0
  return (h ^ (h >>> 16)) >>> 0
}

const mix32Wgsl = `fn mix32(x: u32) -> u32 {
  var h = x;
  h = (h ^ (h >> 16u)) * 0x7feb352du;
  h = (h ^ (h >> 15u)) * 0x846ca68bu;
  return h ^ (h >> 16u);
}`

/** Elements at or above this hash are kept: p·2³² rounded (p = 0 keeps every element). */
export const dropoutThreshold = (p: number): number => {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout probability ${p} is not in [0, 1)`)
  return Math.min(0xffffffff, Math.round(p * 2 ** 32))
}

/** The largest element count one mask indexes (u32 indices). */
export const MAX_DROPOUT_ELEMENTS = 0xffffffff

const paramsStruct = "struct P { n: u32, site: u32, threshold: u32, scale: f32 }"
const keepPrelude = "  let key = mix32(seed[0] ^ p.site);\n"
const keep = "mix32(mix32(i) ^ key) >= p.threshold"

/** Y = dropout(X): f16 in, f16 out (the LoRA A matmul's operand). */
export const dropoutF16Wgsl = `enable f16;
${paramsStruct}
@group(0) @binding(0) var<storage, read> X: array<f16>;
@group(0) @binding(1) var<storage, read_write> Y: array<f16>;
@group(0) @binding(2) var<storage, read> seed: array<u32>;
@group(0) @binding(3) var<uniform> p: P;
${mix32Wgsl}
${elementwiseMain(`    Y[i] = select(f16(0.0), f16(f32(X[i]) * p.scale), ${keep});`, keepPrelude)}`

/** D += dropout'(S): the gradient through the same mask, f32 (S: du·A, D: the input's gradient). */
export const dropoutAccumulateWgsl = `${paramsStruct}
@group(0) @binding(0) var<storage, read> S: array<f32>;
@group(0) @binding(1) var<storage, read_write> D: array<f32>;
@group(0) @binding(2) var<storage, read> seed: array<u32>;
@group(0) @binding(3) var<uniform> p: P;
${mix32Wgsl}
${elementwiseMain(`    if (${keep}) { D[i] = D[i] + S[i] * p.scale; }`, keepPrelude)}`

export interface DropoutKernels {
  /** Y = X·mask/(1 − p), f16; params from dropoutParams. */
  forwardF16(b: { X: Binding; Y: Binding; seed: Binding; params: GPUBuffer }, n: number): Dispatch
  /** D += S·mask/(1 − p), f32, the same mask as forwardF16 with the same seed and params. */
  accumulate(b: { S: Binding; D: Binding; seed: Binding; params: GPUBuffer }, n: number): Dispatch
}

/** The uniform of one mask: n elements, the site, and p. */
export const dropoutParams = (device: GPUDevice, n: number, site: number, p: number): GPUBuffer => {
  if (n > MAX_DROPOUT_ELEMENTS) throw new RangeError(`a dropout mask of ${n} elements exceeds u32 indices`)
  return uniformBuffer(device, [n, site >>> 0, dropoutThreshold(p)], [1 / (1 - p)])
}

/** The mask as the kernels apply it (0 or 1/(1 − p) per element), for CPU references and the tfjs reference model. */
export const dropoutMask = (seed: number, site: number, n: number, p: number): Float32Array => {
  const threshold = dropoutThreshold(p)
  const scale = Math.fround(1 / (1 - p))
  const key = mix32((seed ^ site) >>> 0)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) if (mix32(mix32(i) ^ key) >= threshold) out[i] = scale
  return out
}

export const dropoutKernels = async (gpu: Gpu): Promise<DropoutKernels> => {
  const [fwd, acc] = await Promise.all([
    gpu.hasF16 ? pipeline(gpu.device, dropoutF16Wgsl, "dropout-f16") : Promise.resolve(undefined),
    pipeline(gpu.device, dropoutAccumulateWgsl, "dropout-accumulate")
  ])
  return {
    forwardF16: (b, n) => {
      if (!fwd) throw new Error("dropout-f16: this adapter has no shader-f16")
      return { pipeline: fwd, buffers: [b.X, b.Y, b.seed, b.params], groups: grid(Math.ceil(n / 1024)) }
    },
    accumulate: (b, n) => ({ pipeline: acc, buffers: [b.S, b.D, b.seed, b.params], groups: grid(Math.ceil(n / 1024)) })
  }
}
