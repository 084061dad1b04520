import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { range } from "./codegen.ts"
import { elementwiseMain, grid, rowSumWgsl, type OutType } from "./fused.ts"

/**
 * Backward kernels for LoRA training on the Qwen3 forward of fused.ts (f32 math throughout):
 * - RMSNorm backward (frozen weight: only dX), optionally added into the residual stream's gradient;
 * - Qwen3's per-head q/k norm + RoPE backward (RoPE transposed, then the RMSNorm backward over D);
 * - SwiGLU backward, dG and dU in f32 or f16 (they feed tensor-core matmuls);
 * - softmax cross-entropy: loss and scaled dLogits in one kernel, ignored rows (target 0xFFFFFFFF);
 * - sum of squares (for gradient-norm clipping) in two deterministic passes;
 * - AdamW, in place, with the clip factor read from the sum of squares on the GPU (no read-back).
 * Reductions go through workgroup memory only: portable across subgroup widths (SwiftShader's is not 32).
 */

const enableFor = (out: OutType) => (out === "f16" ? "enable f16;\n" : "")

/**
 * Eight rows a workgroup of 256, 32 threads a row (as fused.ts): two sums a row at once (Σx² and
 * Σ g·x), one barrier. Callers call it once, so the partials are never overwritten while read.
 */
const ROW_SUM2 = rowSumWgsl("rowSum2", "vec2<f32>")

/**
 * y = x·r·w with r = rsqrt(mean(x²) + eps); g = dy·w: dx = r·g − x·r³·(Σ g·x)/H.
 * dX is written, or added to when accumulate = 1 (the residual stream's gradient).
 */
export const rmsnormBackwardWgsl = `struct P { rows: u32, H: u32, accumulate: u32, _p0: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> dY: array<f32>;
@group(0) @binding(3) var<storage, read_write> dX: array<f32>;
@group(0) @binding(4) var<uniform> p: P;
${ROW_SUM2}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wanted = (wg.x + wg.y * 65535u) * 8u + lid / 32u;
  let lane = lid % 32u;
  let row = min(wanted, p.rows - 1u); // no early return: every thread reaches the barrier
  let base = row * p.H;
  var ss = 0.0;
  var gx = 0.0;
  for (var i = lane; i < p.H; i += 32u) {
    let x = X[base + i];
    ss = fma(x, x, ss);
    gx = fma(dY[base + i] * W[i], x, gx);
  }
  let sums = rowSum2(vec2<f32>(ss, gx), lid);
  let inv = inverseSqrt(sums.x / f32(p.H) + p.eps);
  let k = inv * inv * inv * sums.y / f32(p.H);
  if (wanted < p.rows) {
    if (p.accumulate == 1u) {
      for (var i = lane; i < p.H; i += 32u) { dX[base + i] += inv * dY[base + i] * W[i] - k * X[base + i]; }
    } else {
      for (var i = lane; i < p.H; i += 32u) { dX[base + i] = inv * dY[base + i] * W[i] - k * X[base + i]; }
    }
  }
}
`

/**
 * Backward of fused.ts qkNormRopeWgsl on X [rows, heads, D] (the pre-norm input): 32 threads a
 * (row, head), 8 a workgroup, each owning the pairs (i, i + D/2) as the forward does. RoPE is a
 * rotation, so its backward rotates dY by −angle; then the RMSNorm backward over D.
 */
export const qkNormRopeBackwardWgsl = (D: number): string => {
  const half = D / 2
  const pairs = Math.ceil(half / 32)
  return `struct P { rows: u32, S: u32, heads: u32, past: u32, eps: f32, theta: f32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read> dY: array<f32>;
@group(0) @binding(3) var<storage, read_write> dX: array<f32>;
@group(0) @binding(4) var<uniform> p: P;
${ROW_SUM2}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wanted = (wg.x + wg.y * 65535u) * 8u + lid / 32u; // row·heads + head
  let lane = lid % 32u;
  let rh = min(wanted, p.rows * p.heads - 1u); // no early return: every thread reaches the barrier
  let base = rh * ${D}u;
  let pos = f32(p.past + (rh / p.heads) % p.S);
  var ss = 0.0;
  var gx = 0.0;
${range(pairs).map((k) => `  let i${k} = min(lane + ${32 * k}u, ${half - 1}u);
  let on${k} = wanted < p.rows * p.heads && lane + ${32 * k}u < ${half}u;
  let a${k} = select(0.0, X[base + i${k}], on${k});
  let b${k} = select(0.0, X[base + i${k} + ${half}u], on${k});
  let angle${k} = pos / pow(p.theta, f32(2u * i${k}) / ${D}.0); // exactly the forward's angle
  let c${k} = cos(angle${k});
  let s${k} = sin(angle${k});
  let dy1${k} = select(0.0, dY[base + i${k}], on${k});
  let dy2${k} = select(0.0, dY[base + i${k} + ${half}u], on${k});
  let g1${k} = (dy1${k} * c${k} + dy2${k} * s${k}) * W[i${k}];
  let g2${k} = (dy2${k} * c${k} - dy1${k} * s${k}) * W[i${k} + ${half}u];
  ss += a${k} * a${k} + b${k} * b${k};
  gx += g1${k} * a${k} + g2${k} * b${k};`).join("\n")}
  let sums = rowSum2(vec2<f32>(ss, gx), lid);
  let inv = inverseSqrt(sums.x / ${D}.0 + p.eps);
  let k = inv * inv * inv * sums.y / ${D}.0;
${range(pairs).map((k) => `  if (on${k}) {
    dX[base + i${k}] = inv * g1${k} - k * a${k};
    dX[base + i${k} + ${half}u] = inv * g2${k} - k * b${k};
  }`).join("\n")}
}
`
}

/**
 * y = silu(g)·u, s = sigmoid(g): dG = dy·u·s·(1 + g·(1 − s)), dU = dy·g·s. One exp an element;
 * 1024 elements a workgroup, thread t taking t, t + 256, … (consecutive threads, consecutive addresses).
 */
export const swigluBackwardWgsl = (out: OutType): string => `${enableFor(out)}struct P { n: u32 }
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read> dY: array<f32>;
@group(0) @binding(3) var<storage, read_write> dG: array<${out}>;
@group(0) @binding(4) var<storage, read_write> dU: array<${out}>;
@group(0) @binding(5) var<uniform> p: P;
${elementwiseMain(`    let g = G[i];
    let u = U[i];
    let dy = dY[i];
    let s = 1.0 / (1.0 + exp(-g));
    dG[i] = ${out}(dy * u * s * (1.0 + g * (1.0 - s)));
    dU[i] = ${out}(dy * g * s);`)}`

/**
 * Softmax cross-entropy, one workgroup of 256 a row (rows are long: V = 151936). Pass 1: online
 * max and Σexp, one exp an element (rescale only when the max grows), then a tree over the 256
 * (max, sum) pairs; pass 2 writes scale·(softmax − onehot), one exp an element. Ignored rows
 * (target 0xFFFFFFFF, or any target ≥ V) get loss 0 and dLogits 0 without reading the logits.
 */
export const crossEntropyWgsl = (out: OutType): string => `${enableFor(out)}struct P { rows: u32, V: u32, _p0: u32, _p1: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<u32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> dLogits: array<${out}>;
@group(0) @binding(4) var<uniform> p: P;
var<workgroup> ms: array<f32, 256>;
var<workgroup> ls: array<f32, 256>;
var<workgroup> tgt: u32;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; } // uniform: the same for the whole workgroup
  let base = row * p.V;
  if (lid == 0u) { tgt = targets[row]; }
  let t = workgroupUniformLoad(&tgt);
  if (t >= p.V) {
    for (var i = lid; i < p.V; i += 256u) { dLogits[base + i] = ${out}(0.0); }
    if (lid == 0u) { loss[row] = 0.0; }
    return;
  }
  var m = -3.0e38;
  var l = 0.0;
  for (var i = lid; i < p.V; i += 256u) {
    let x = logits[base + i];
    if (x > m) { l = l * exp(m - x) + 1.0; m = x; } else { l += exp(x - m); }
  }
  ms[lid] = m;
  ls[lid] = l;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) {
      let m1 = ms[lid];
      let m2 = ms[lid + stride];
      let mm = max(m1, m2);
      ls[lid] = ls[lid] * exp(m1 - mm) + ls[lid + stride] * exp(m2 - mm);
      ms[lid] = mm;
    }
    workgroupBarrier();
  }
  let logZ = ms[0] + log(ls[0]);
  for (var i = lid; i < p.V; i += 256u) {
    let prob = exp(logits[base + i] - logZ);
    dLogits[base + i] = ${out}(p.scale * (prob - select(0.0, 1.0, i == t)));
  }
  if (lid == 0u) { loss[row] = logZ - logits[base + t]; }
}
`

/** At most this many partial sums: the second pass is one workgroup, so keep its loop short. */
const MAX_PARTIALS = 1024

/** How many f32 the `partials` buffer of sumOfSquares(n) needs (one a workgroup of the first pass). */
export const sumOfSquaresPartials = (n: number): number => Math.max(1, Math.min(MAX_PARTIALS, Math.ceil(n / 4096)))

const TREE = `var<workgroup> acc: array<f32, 256>;
fn workgroupSum(v: f32, lid: u32) -> f32 {
  acc[lid] = v;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { acc[lid] += acc[lid + stride]; }
    workgroupBarrier();
  }
  return acc[0];
}`

/** Pass 1: workgroup w sums X[i]² over i = w·256 + lid + k·(count·256): coalesced, fixed order (deterministic). */
export const sumOfSquaresPartialWgsl = `struct P { n: u32, count: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${TREE}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = wg.x * 256u + lid; i < p.n; i += p.count * 256u) { let x = X[i]; s = fma(x, x, s); }
  let total = workgroupSum(s, lid);
  if (lid == 0u) { partials[wg.x] = total; }
}
`

/** Pass 2: one workgroup sums the partials into out[0]. */
export const sumOfSquaresFinalWgsl = `struct P { n: u32, count: u32 }
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${TREE}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < p.count; i += 256u) { s += partials[i]; }
  let total = workgroupSum(s, lid);
  if (lid == 0u) { out[0] = total; }
}
`

/**
 * AdamW as torch.optim.AdamW (decoupled decay first, then the bias-corrected step), after
 * torch.nn.utils.clip_grad_norm_'s factor min(1, maxNorm / (‖g‖ + 1e-6)) read from norm[0] = ‖g‖²
 * (maxNorm ≤ 0: no clipping). In place on P, M, V; 1024 elements a workgroup, coalesced.
 */
export const adamwWgsl = `struct Params { n: u32, t: u32, lr: f32, b1: f32, b2: f32, eps: f32, wd: f32, maxNorm: f32 }
@group(0) @binding(0) var<storage, read_write> Pw: array<f32>;
@group(0) @binding(1) var<storage, read> Gr: array<f32>;
@group(0) @binding(2) var<storage, read_write> Mo: array<f32>;
@group(0) @binding(3) var<storage, read_write> Ve: array<f32>;
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;
${elementwiseMain(`    let g = clip * Gr[i];
    var w = Pw[i];
    w -= p.lr * p.wd * w;
    let m = p.b1 * Mo[i] + (1.0 - p.b1) * g;
    let v = p.b2 * Ve[i] + (1.0 - p.b2) * g * g;
    w -= p.lr * (m / bc1) / (sqrt(v / bc2) + p.eps);
    Pw[i] = w;
    Mo[i] = m;
    Ve[i] = v;`, `  let clip = select(1.0, min(1.0, p.maxNorm / (sqrt(norm[0]) + 1e-6)), p.maxNorm > 0.0);
  let bc1 = 1.0 - pow(p.b1, f32(p.t));
  let bc2 = 1.0 - pow(p.b2, f32(p.t));
`)}`

export interface BackwardKernels {
  /** params: words [rows, H, accumulate (1: dX +=), 0], floats [eps] */
  rmsnormBackward(b: { X: Binding; W: Binding; dY: Binding; dX: Binding; params: Binding }, rows: number): Dispatch
  /** X the pre-norm input [rows, heads, headDim]; params exactly the forward's: words [rows, S, heads, past], floats [eps, theta] */
  qkNormRopeBackward(b: { X: Binding; W: Binding; dY: Binding; dX: Binding; params: Binding }, rows: number, heads: number): Dispatch
  /** params: words [n] */
  swigluBackward(b: { G: Binding; U: Binding; dY: Binding; dG: Binding; dU: Binding; params: Binding }, n: number): Dispatch
  /** dG, dU as f16 (needs shader-f16) */
  swigluBackwardF16(b: { G: Binding; U: Binding; dY: Binding; dG: Binding; dU: Binding; params: Binding }, n: number): Dispatch
  /**
   * logits [rows, V] f32, targets [rows] u32: loss [rows] = −log softmax[target] (unscaled), dLogits [rows, V] =
   * scale·(softmax − onehot). A target 0xFFFFFFFF (or any ≥ V) ignores the row: loss 0, dLogits 0 (written).
   * params: words [rows, V, 0, 0], floats [scale]. One workgroup a row; row·V must stay below 2³² (chunk the rows).
   */
  crossEntropy(b: { logits: Binding; targets: Binding; loss: Binding; dLogits: Binding; params: Binding }, rows: number): Dispatch
  /** dLogits as f16 (needs shader-f16) */
  crossEntropyF16(b: { logits: Binding; targets: Binding; loss: Binding; dLogits: Binding; params: Binding }, rows: number): Dispatch
  /**
   * Two dispatches, run in order: out[0] = Σ X[i]² (overwritten, not added to). partials: sumOfSquaresPartials(n) f32;
   * params: words [n, sumOfSquaresPartials(n)], the same uniform for both.
   */
  sumOfSquares(b: { X: Binding; partials: Binding; out: Binding; params: Binding }, n: number): Array<Dispatch>
  /** params: words [n, t (from 1)], floats [lr, b1, b2, eps, wd, maxNorm]; norm[0] the gradient's sum of squares */
  adamw(b: { P: Binding; G: Binding; M: Binding; V: Binding; norm: Binding; params: Binding }, n: number): Dispatch
}

export const backwardKernels = async (gpu: Gpu, headDim: number): Promise<BackwardKernels> => {
  if (headDim % 2 !== 0) throw new Error(`qk-norm-rope backward: head_dim ${headDim} must be even`)
  const d = gpu.device
  const [rms, qkr, swi, ce, ssq1, ssq2, adam] = await Promise.all([
    pipeline(d, rmsnormBackwardWgsl, "rmsnorm-backward"),
    pipeline(d, qkNormRopeBackwardWgsl(headDim), "qk-norm-rope-backward"),
    pipeline(d, swigluBackwardWgsl("f32"), "swiglu-backward"),
    pipeline(d, crossEntropyWgsl("f32"), "cross-entropy"),
    pipeline(d, sumOfSquaresPartialWgsl, "sum-of-squares-partials"),
    pipeline(d, sumOfSquaresFinalWgsl, "sum-of-squares-final"),
    pipeline(d, adamwWgsl, "adamw")
  ])
  // f16 results need shader-f16; without it only the f32 kernels exist
  const [swi16, ce16] = gpu.hasF16
    ? await Promise.all([pipeline(d, swigluBackwardWgsl("f16"), "swiglu-backward-f16"), pipeline(d, crossEntropyWgsl("f16"), "cross-entropy-f16")])
    : []
  const needF16 = (p: GPUComputePipeline | undefined, what: string) => {
    if (!p) throw new Error(`${what}: this adapter has no shader-f16`)
    return p
  }
  return {
    rmsnormBackward: (b, rows) => ({ pipeline: rms, buffers: [b.X, b.W, b.dY, b.dX, b.params], groups: grid(Math.ceil(rows / 8)) }),
    qkNormRopeBackward: (b, rows, heads) => ({ pipeline: qkr, buffers: [b.X, b.W, b.dY, b.dX, b.params], groups: grid(Math.ceil((rows * heads) / 8)) }),
    swigluBackward: (b, n) => ({ pipeline: swi, buffers: [b.G, b.U, b.dY, b.dG, b.dU, b.params], groups: grid(Math.ceil(n / 1024)) }),
    swigluBackwardF16: (b, n) => ({ pipeline: needF16(swi16, "swiglu-backward-f16"), buffers: [b.G, b.U, b.dY, b.dG, b.dU, b.params], groups: grid(Math.ceil(n / 1024)) }),
    crossEntropy: (b, rows) => ({ pipeline: ce, buffers: [b.logits, b.targets, b.loss, b.dLogits, b.params], groups: grid(rows) }),
    crossEntropyF16: (b, rows) => ({ pipeline: needF16(ce16, "cross-entropy-f16"), buffers: [b.logits, b.targets, b.loss, b.dLogits, b.params], groups: grid(rows) }),
    sumOfSquares: (b, n) => [
      { pipeline: ssq1, buffers: [b.X, b.partials, b.params], groups: [sumOfSquaresPartials(n)] },
      { pipeline: ssq2, buffers: [b.partials, b.out, b.params], groups: [1] }
    ],
    adamw: (b, n) => ({ pipeline: adam, buffers: [b.P, b.G, b.M, b.V, b.norm, b.params], groups: grid(Math.ceil(n / 1024)) })
  }
}
