import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { range } from "./codegen.ts"
import { grid } from "./fused.ts"

/**
 * The kernels full-parameter training adds to the LoRA trainer's backward (model/wgsl/qwen3-full-trainer.ts):
 * - a tiled transpose [rows, cols] → [cols, rows] (f32 or f16 in, f16 or f32 out): a projection's
 *   dW = dYᵀ·X runs on the tensor-core matmul as A = dYᵀ (f16, [out, T]) times B = X read "kn";
 * - the RMSNorm weight gradient dW[j] += Σ_rows dY[r, j]·x[r, j]·rstd[r], and the same for Qwen3's
 *   per-head q/k norm, whose dY is first rotated back through RoPE (the forward normalises, scales
 *   by w, then rotates). Two passes, fixed order (deterministic): each of at most 256 workgroups
 *   sums its share of the rows per column into a partial row (a row at a time for wide rows, eight
 *   at a time for rows of ≤ 256: the q/k norms' 262144 rows of 128 at 16384 tokens), then one
 *   thread a column sums the partials in order into dW;
 * - the input embedding's gradient: dE[id] += Σ dX[t] over the positions t holding token id, one
 *   workgroup a distinct token, positions in order (the host sorts them: deterministic, no atomics).
 * All arithmetic is f32.
 */

export type TransposeType = "f32" | "f16"

/** Workgroups of the norm weight gradient's first pass (at most; fewer when there are fewer rows). */
export const NORM_GRAD_GROUPS = 256

/** [rows, cols] → [cols, rows] through a 32 × 33 workgroup tile (no bank conflicts); 256 threads, 4 rows each. */
export const transposeWgsl = (inType: TransposeType, outType: TransposeType): string => `${inType === "f16" || outType === "f16" ? "enable f16;\n" : ""}struct P { rows: u32, cols: u32 }
@group(0) @binding(0) var<storage, read> X: array<${inType}>;
@group(0) @binding(1) var<storage, read_write> Y: array<${outType}>;
@group(0) @binding(2) var<uniform> p: P;
var<workgroup> tile: array<f32, ${32 * 33}>;
@compute @workgroup_size(32, 8)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c0 = wg.x * 32u;
  let r0 = wg.y * 32u;
  for (var k = 0u; k < 32u; k += 8u) {
    let r = r0 + lid.y + k;
    let c = c0 + lid.x;
    if (r < p.rows && c < p.cols) { tile[(lid.y + k) * 33u + lid.x] = f32(X[r * p.cols + c]); }
  }
  workgroupBarrier();
  for (var k = 0u; k < 32u; k += 8u) {
    let c = c0 + lid.y + k;
    let r = r0 + lid.x;
    if (r < p.rows && c < p.cols) { Y[c * p.rows + r] = ${outType}(tile[lid.x * 33u + lid.y + k]); }
  }
}
`

/**
 * Pass 1 of the norm weight gradient over rows of width H (H ≤ 256·C). rope: the rows are
 * (token, head) pairs of a [tokens, heads, H] tensor and dY is rotated back by the forward's RoPE
 * angle (position = past + token mod S) before it multiplies x̂.
 */
export const normGradPartialWgsl = (H: number, rope: boolean): string => {
  const C = Math.ceil(H / 256)
  const half = H / 2
  const unrotated = (c: number) => rope
    ? `    {
      let j = lid + ${256 * c}u;
      if (j < ${H}u) {
        let i = j % ${half}u;
        let angle = pos / pow(p.theta, f32(2u * i) / ${H}.0); // exactly the forward's angle
        let cs = cos(angle);
        let sn = sin(angle);
        let lo = dY[base + i];
        let hi = dY[base + i + ${half}u];
        let g = select(hi * cs - lo * sn, lo * cs + hi * sn, j < ${half}u);
        acc${c} = fma(g * X[base + j], inv, acc${c});
      }
    }`
    : `    {
      let j = lid + ${256 * c}u;
      if (j < ${H}u) { acc${c} = fma(dY[base + j] * X[base + j], inv, acc${c}); }
    }`
  return `struct P { rows: u32, perGroup: u32, S: u32, heads: u32, past: u32, _p0: u32, eps: f32, theta: f32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> dY: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> red: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${range(C).map((c) => `  var acc${c} = 0.0;`).join("\n")}
  let first = wg.x * p.perGroup;
  let last = min(first + p.perGroup, p.rows);
  for (var r = first; r < last; r++) {
    let base = r * ${H}u;
    var ss = 0.0;
${range(C).map((c) => `    { let j = lid + ${256 * c}u; if (j < ${H}u) { let x = X[base + j]; ss = fma(x, x, ss); } }`).join("\n")}
    red[lid] = ss;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
      if (lid < stride) { red[lid] += red[lid + stride]; }
      workgroupBarrier();
    }
    let inv = inverseSqrt(red[0] / ${H}.0 + p.eps);
    workgroupBarrier(); // everyone has read red[0] before the next row overwrites it
    let pos = f32(p.past + (r / max(p.heads, 1u)) % max(p.S, 1u));
${range(C).map(unrotated).join("\n")}
  }
${range(C).map((c) => `  { let j = lid + ${256 * c}u; if (j < ${H}u) { partials[wg.x * ${H}u + j] = acc${c}; } }`).join("\n")}
}
`
}

/**
 * Pass 1 for narrow rows (H ≤ 256: the q/k norms' head_dim): eight rows at once, 32 lanes a row,
 * each lane owning columns lane + 32c; a row's Σx² through workgroup memory (two barriers per
 * eight rows instead of a tree per row), RoPE's denominators computed once per column. The eight
 * row-groups' sums are added in order at the end. Same bindings and uniforms as normGradPartialWgsl.
 */
export const normGradPartialNarrowWgsl = (H: number, rope: boolean): string => {
  if (H > 256) throw new Error(`narrow norm gradient: width ${H} > 256`)
  const C = Math.ceil(H / 32)
  const half = H / 2
  const cols = range(C)
  return `struct P { rows: u32, perGroup: u32, S: u32, heads: u32, past: u32, _p0: u32, eps: f32, theta: f32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> dY: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> red: array<f32, 256>;
var<workgroup> sums: array<f32, ${8 * H}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = lid / 32u;
  let lane = lid % 32u;
${cols.map((c) => `  let j${c} = lane + ${32 * c}u;
  let in${c} = j${c} < ${H}u;
  var acc${c} = 0.0;${rope ? `
  let den${c} = pow(p.theta, f32(2u * (min(j${c}, ${H - 1}u) % ${half}u)) / ${H}.0); // the forward's angle is pos / this` : ""}`).join("\n")}
  let first = wg.x * p.perGroup;
  let last = min(first + p.perGroup, p.rows);
  for (var r0 = first; r0 < last; r0 += 8u) {
    let r = r0 + g;
    let on = r < last;
    let base = min(r, p.rows - 1u) * ${H}u;
${cols.map((c) => `    let x${c} = select(0.0, X[base + min(j${c}, ${H - 1}u)], on && in${c});`).join("\n")}
    red[lid] = ${cols.map((c) => `x${c} * x${c}`).join(" + ")};
    workgroupBarrier();
    var ss = 0.0;
    for (var i = 0u; i < 32u; i++) { ss += red[g * 32u + i]; }
    workgroupBarrier(); // all have read red before the next rows overwrite it
    let inv = inverseSqrt(ss / ${H}.0 + p.eps);${rope ? `
    let pos = f32(p.past + (min(r, p.rows - 1u) / max(p.heads, 1u)) % max(p.S, 1u));` : ""}
    if (on) {
${cols.map((c) => rope
    ? `      if (in${c}) {
        let i = j${c} % ${half}u;
        let angle = pos / den${c};
        let cs = cos(angle);
        let sn = sin(angle);
        let lo = dY[base + i];
        let hi = dY[base + i + ${half}u];
        acc${c} = fma(select(hi * cs - lo * sn, lo * cs + hi * sn, j${c} < ${half}u) * x${c}, inv, acc${c});
      }`
    : `      if (in${c}) { acc${c} = fma(dY[base + j${c}] * x${c}, inv, acc${c}); }`).join("\n")}
    }
  }
${cols.map((c) => `  if (in${c}) { sums[g * ${H}u + j${c}] = acc${c}; }`).join("\n")}
  workgroupBarrier();
  if (lid < ${H}u) {
    var s = 0.0;
    for (var k = 0u; k < 8u; k++) { s += sums[k * ${H}u + lid]; }
    partials[wg.x * ${H}u + lid] = s;
  }
}
`
}

/**
 * Pass 2: dW[j] += Σ_g partials[g, j]: one workgroup a column, thread t taking partial rows t, t + 256, …,
 * then a fixed tree (deterministic). (A thread a column, looping over the 256 partial rows, left
 * the 128 columns of a q/k norm on two workgroups: 57 µs a dispatch on the H100.)
 */
export const normGradFinishWgsl = `struct P { H: u32, groups: u32 }
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> dW: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
var<workgroup> red: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let j = wg.x;
  var s = 0.0;
  for (var g = lid; g < p.groups; g += 256u) { s += partials[g * p.H + j]; }
  red[lid] = s;
  workgroupBarrier();
  for (var stride = 128u; stride > 0u; stride >>= 1u) {
    if (lid < stride) { red[lid] += red[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { dW[j] += red[0]; }
}
`

/**
 * dE[ids[s]] += Σ_{i in [starts[s], starts[s + 1])} dX[order[i]]: one workgroup a segment (a distinct
 * token), segments beyond count[0] idle. params: H, segments dispatched.
 */
export const embeddingGradWgsl = `struct P { H: u32 }
@group(0) @binding(0) var<storage, read> dX: array<f32>;
@group(0) @binding(1) var<storage, read> order: array<u32>;
@group(0) @binding(2) var<storage, read> starts: array<u32>;
@group(0) @binding(3) var<storage, read> tokens: array<u32>;
@group(0) @binding(4) var<storage, read> count: array<u32>;
@group(0) @binding(5) var<storage, read_write> dE: array<f32>;
@group(0) @binding(6) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let s = wg.x + wg.y * 65535u;
  if (s >= count[0]) { return; }
  let row = tokens[s] * p.H;
  for (var j = lid; j < p.H; j += 256u) {
    var acc = 0.0;
    for (var i = starts[s]; i < starts[s + 1u]; i++) { acc += dX[order[i] * p.H + j]; }
    dE[row + j] += acc;
  }
}
`

/**
 * The positions of `ids` grouped by token, in order (the embedding gradient's input): order
 * (positions sorted by token, then position), starts (segment s is order[starts[s]..starts[s+1]]),
 * tokens (segment s's token) and the segment count.
 */
export const tokenSegments = (ids: Uint32Array): { order: Uint32Array<ArrayBuffer>; starts: Uint32Array<ArrayBuffer>; tokens: Uint32Array<ArrayBuffer>; count: number } => {
  const order = Uint32Array.from(ids.keys()).sort((a, b) => ids[a]! - ids[b]! || a - b)
  const starts = new Uint32Array(ids.length + 1)
  const tokens = new Uint32Array(ids.length)
  let count = 0
  for (let i = 0; i < order.length; i++) {
    if (i === 0 || ids[order[i]!] !== ids[order[i - 1]!]) {
      starts[count] = i
      tokens[count] = ids[order[i]!]!
      count++
    }
  }
  starts[count] = order.length
  return { order, starts, tokens, count }
}

export interface WeightGradientKernels {
  /** X [rows, cols] → Y [cols, rows]; params: words [rows, cols] */
  transpose(inType: TransposeType, outType: TransposeType, b: { X: Binding; Y: Binding; params: GPUBuffer }, rows: number, cols: number): Dispatch
  /**
   * dW [H] += the norm weight's gradient over X, dY [rows, H] (pre-norm input and the gradient of
   * the norm's output; rope: of the rotated output, rows = tokens × heads). partials: normGradGroups(rows) × H f32.
   * params: normGradParams' two uniforms.
   */
  normWeight(H: number, rope: boolean, b: { X: Binding; dY: Binding; partials: Binding; dW: Binding; params: readonly [GPUBuffer, GPUBuffer] }, rows: number): Array<Dispatch>
  /** dE += the lookup's gradient; segments: the most segments a batch can have (its token count) */
  embedding(b: { dX: Binding; order: Binding; starts: Binding; tokens: Binding; count: Binding; dE: Binding; params: GPUBuffer }, segments: number): Dispatch
}

export const normGradGroups = (rows: number): number => Math.max(1, Math.min(NORM_GRAD_GROUPS, rows))

/** The words of the two passes' uniforms: [rows, perGroup, S, heads, past, 0] + [eps, theta], and [H, groups]. */
export const normGradParams = (rows: number, H: number, eps: number, rope?: { readonly S: number; readonly heads: number; readonly theta: number }) => {
  const groups = normGradGroups(rows)
  return {
    partial: { words: [rows, Math.ceil(rows / groups), rope?.S ?? 1, rope?.heads ?? 1, 0, 0], floats: [eps, rope?.theta ?? 1] },
    finish: { words: [H, groups] }
  }
}

export interface PreparedWeightGradientKernels extends WeightGradientKernels {
  /** compiles the variants the dispatches will use (before they are recorded) */
  prepare(keys: { transposes?: ReadonlyArray<readonly [TransposeType, TransposeType]>; norms?: ReadonlyArray<readonly [number, boolean]> }): Promise<void>
}

export const weightGradientKernels = async (gpu: Gpu): Promise<PreparedWeightGradientKernels> => {
  const d = gpu.device
  const cache = new Map<string, Promise<GPUComputePipeline>>()
  const get = (key: string, code: () => string) => {
    let p = cache.get(key)
    if (!p) cache.set(key, (p = pipeline(d, code(), key)))
    return p
  }
  const needF16 = (t: TransposeType) => {
    if (t === "f16" && !gpu.hasF16) throw new Error("transpose: this adapter has no shader-f16")
  }
  const [finish, embed] = await Promise.all([pipeline(d, normGradFinishWgsl, "norm-grad-finish"), pipeline(d, embeddingGradWgsl, "embedding-grad")])
  // pipelines are compiled on first use of a variant; `prepare` awaits them before the dispatches are recorded
  const ready = new Map<string, GPUComputePipeline>()
  const variant = (key: string): GPUComputePipeline => {
    const p = ready.get(key)
    if (!p) throw new Error(`weight-gradient kernel ${key} not prepared`)
    return p
  }
  const kernels: PreparedWeightGradientKernels = {
    async prepare(keys) {
      for (const [i, o] of keys.transposes ?? []) {
        needF16(i)
        needF16(o)
        const key = `transpose-${i}-${o}`
        ready.set(key, await get(key, () => transposeWgsl(i, o)))
      }
      for (const [H, rope] of keys.norms ?? []) {
        if (rope && H % 2 !== 0) throw new Error(`q/k norm gradient: head_dim ${H} must be even`)
        const key = `norm-grad-${H}${rope ? "-rope" : ""}`
        ready.set(key, await get(key, () => (H <= 256 ? normGradPartialNarrowWgsl(H, rope) : normGradPartialWgsl(H, rope))))
      }
    },
    transpose: (i, o, b, rows, cols) => ({ pipeline: variant(`transpose-${i}-${o}`), buffers: [b.X, b.Y, b.params], groups: [Math.ceil(cols / 32), Math.ceil(rows / 32)] }),
    normWeight: (H, rope, b, rows) => [
      { pipeline: variant(`norm-grad-${H}${rope ? "-rope" : ""}`), buffers: [b.X, b.dY, b.partials, b.params[0]], groups: [normGradGroups(rows)] },
      { pipeline: finish, buffers: [b.partials, b.dW, b.params[1]], groups: [H] }
    ],
    embedding: (b, segments) => ({ pipeline: embed, buffers: [b.dX, b.order, b.starts, b.tokens, b.count, b.dE, b.params], groups: grid(segments) })
  }
  return kernels
}
