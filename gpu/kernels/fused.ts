import { pipeline, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"

/**
 * Fused transformer kernels (f32 storage, f32 math), Qwen3 semantics (HF modeling_qwen3.py):
 * - flash-style causal attention with GQA and a KV cache: online softmax over chunks of 32 keys,
 *   no S×T score matrix in memory; query head h reads kv head h / (H / KV);
 * - RMSNorm: x · rsqrt(mean(x²) + eps) · weight, one workgroup a row;
 * - RoPE, half-split (rotate_half), in place, positions offset by the cache length;
 * - SwiGLU: silu(gate) · up.
 */

const SG = 32 // subgroup width the attention kernel is written for (NVIDIA, AMD wave32)

/** The bindings every attention kernel takes (this one and attention-tc.ts): parameters, Q, K, V, O. */
export const ATTENTION_BINDINGS = `struct P { B: u32, S: u32, T: u32, H: u32, KV: u32, _p0: u32, _p1: u32, _p2: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> Q: array<f32>;
@group(0) @binding(1) var<storage, read> K: array<f32>;
@group(0) @binding(2) var<storage, read> V: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
@group(0) @binding(4) var<uniform> p: P;`

/** Q [B,S,H,D], K/V [B,T,KV,D] (T = cache length + S), O [B,S,H,D]; queries sit at positions T−S … T−1. */
export const attentionWgsl = (D: number): string => {
  const per = D / SG
  const QB = 8 // queries a workgroup (one subgroup each)
  return `enable subgroups;
${ATTENTION_BINDINGS}
var<workgroup> Ks: array<f32, ${SG * (D + 1)}>;
var<workgroup> Vs: array<f32, ${SG * D}>;
var<workgroup> Qs: array<f32, ${QB * D}>;

@compute @workgroup_size(${QB * SG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let bh = wg.y;
  let b = bh / p.H;
  let h = bh % p.H;
  let kvh = h / (p.H / p.KV);
  let s0 = wg.x * ${QB}u;
  let sg = lid / ${SG}u;
  let lane = lid % ${SG}u;
  let s = s0 + sg;
  let past = p.T - p.S;
  let pos = past + s;
  for (var i = lid; i < ${QB * D}u; i += ${QB * SG}u) {
    let qs = s0 + i / ${D}u;
    Qs[i] = select(0.0, Q[((b * p.S + min(qs, p.S - 1u)) * p.H + h) * ${D}u + i % ${D}u], qs < p.S);
  }
  var m = -3.0e38;
  var l = 0.0;
${Array.from({ length: per }, (_, t) => `  var o${t} = 0.0;`).join("\n")}
  let last = min(p.T, past + s0 + ${QB}u); // keys any query of this block may see
  for (var c0 = 0u; c0 < last; c0 += ${SG}u) {
    workgroupBarrier();
    for (var i = lid; i < ${SG * D}u; i += ${QB * SG}u) {
      let j = i / ${D}u;
      let d = i % ${D}u;
      let key = c0 + j;
      let src = ((b * p.T + min(key, p.T - 1u)) * p.KV + kvh) * ${D}u + d;
      Ks[j * ${D + 1}u + d] = K[src];
      Vs[j * ${D}u + d] = V[src];
    }
    workgroupBarrier();
    let key = c0 + lane;
    let valid = key <= pos && key < p.T && s < p.S;
    var qk = 0.0;
    for (var d = 0u; d < ${D}u; d++) { qk = fma(Qs[sg * ${D}u + d], Ks[lane * ${D + 1}u + d], qk); }
    let score = select(-3.0e38, qk * p.scale, valid);
    let mNew = max(m, subgroupMax(score));
    let pr = select(0.0, exp(score - mNew), valid);
    let corr = exp(m - mNew);
    l = l * corr + subgroupAdd(pr);
${Array.from({ length: per }, (_, t) => `    o${t} = o${t} * corr;`).join("\n")}
    for (var j = 0u; j < ${SG}u; j++) {
      let pj = subgroupShuffle(pr, j);
${Array.from({ length: per }, (_, t) => `      o${t} = fma(pj, Vs[j * ${D}u + lane + ${t * SG}u], o${t});`).join("\n")}
    }
    m = mNew;
  }
  if (s < p.S) {
    let base = ((b * p.S + s) * p.H + h) * ${D}u;
    let inv = 1.0 / l;
${Array.from({ length: per }, (_, t) => `    O[base + lane + ${t * SG}u] = o${t} * inv;`).join("\n")}
  }
}
`
}

export const rmsnormWgsl = `struct P { rows: u32, H: u32, _p0: u32, _p1: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> part: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; }
  let base = row * p.H;
  var ss = 0.0;
  for (var i = lid; i < p.H; i += 256u) { let v = X[base + i]; ss = fma(v, v, ss); }
  part[lid] = ss;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w / 2u) {
    if (lid < w) { part[lid] += part[lid + w]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(part[0] / f32(p.H) + p.eps);
  for (var i = lid; i < p.H; i += 256u) { Y[base + i] = X[base + i] * inv * W[i]; }
}
`

/** In place on X [rows = B·S, heads, D]; position of row r is past + (r % S). */
export const ropeWgsl = `struct P { rows: u32, S: u32, heads: u32, D: u32, past: u32, _p0: u32, _p1: u32, _p2: u32, theta: f32 }
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let hd = p.D / 2u;
  let idx = gid.x + gid.y * 65535u * 256u;
  if (idx >= p.rows * p.heads * hd) { return; }
  let i = idx % hd;
  let rh = idx / hd; // row·heads + head
  let row = rh / p.heads;
  let pos = f32(p.past + row % p.S);
  let invFreq = 1.0 / pow(p.theta, f32(2u * i) / f32(p.D));
  let angle = pos * invFreq;
  let c = cos(angle);
  let s = sin(angle);
  let base = rh * p.D;
  let x1 = X[base + i];
  let x2 = X[base + i + hd];
  X[base + i] = x1 * c - x2 * s;
  X[base + i + hd] = x2 * c + x1 * s;
}
`

/**
 * Qwen3's per-head q/k norm then RoPE, fused and in place on X [rows = B·S, heads, D]: one
 * workgroup of D/2 threads a (row, head); each thread owns the pair (i, i + D/2) that RoPE
 * rotates together, so the normalised values never leave registers.
 */
export const qkNormRopeWgsl = (D: number): string => `struct P { rows: u32, S: u32, heads: u32, past: u32, eps: f32, theta: f32 }
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
var<workgroup> part: array<f32, ${D / 2}>;
@compute @workgroup_size(${D / 2})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) i: u32) {
  let rh = wg.x + wg.y * 65535u; // row·heads + head
  if (rh >= p.rows * p.heads) { return; }
  let base = rh * ${D}u;
  let x1 = X[base + i];
  let x2 = X[base + i + ${D / 2}u];
  part[i] = x1 * x1 + x2 * x2;
  workgroupBarrier();
  for (var w = ${D / 4}u; w > 0u; w = w / 2u) {
    if (i < w) { part[i] += part[i + w]; }
    workgroupBarrier();
  }
  let inv = inverseSqrt(part[0] / ${D}.0 + p.eps);
  let n1 = x1 * inv * W[i];
  let n2 = x2 * inv * W[i + ${D / 2}u];
  let row = rh / p.heads;
  let pos = f32(p.past + row % p.S);
  let angle = pos / pow(p.theta, f32(2u * i) / ${D}.0);
  let c = cos(angle);
  let s = sin(angle);
  X[base + i] = n1 * c - n2 * s;
  X[base + i + ${D / 2}u] = n2 * c + n1 * s;
}
`

export const swigluWgsl = `struct P { n: u32 }
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * 65535u * 256u;
  if (i >= p.n) { return; }
  let g = G[i];
  Y[i] = g / (1.0 + exp(-g)) * U[i];
}
`

/** Workgroup counts for `n` items, folding into y above the 65535 limit of one dimension. */
export const grid = (n: number): readonly [number, number] => (n <= 65535 ? [Math.max(1, n), 1] : [65535, Math.ceil(n / 65535)])

export interface FusedKernels {
  attention(b: { Q: GPUBuffer; K: GPUBuffer; V: GPUBuffer; O: GPUBuffer; params: GPUBuffer }, B: number, S: number, H: number): Dispatch
  rmsnorm(b: { X: GPUBuffer; W: GPUBuffer; Y: GPUBuffer; params: GPUBuffer }, rows: number): Dispatch
  rope(b: { X: GPUBuffer; params: GPUBuffer }, rows: number, heads: number, D: number): Dispatch
  swiglu(b: { G: GPUBuffer; U: GPUBuffer; Y: GPUBuffer; params: GPUBuffer }, n: number): Dispatch
  /** params: rows, S, heads, past (u32), eps, theta (f32) */
  qkNormRope(b: { X: GPUBuffer; W: GPUBuffer; params: GPUBuffer }, rows: number, heads: number): Dispatch
}

export const fusedKernels = async (gpu: Gpu, headDim: number): Promise<FusedKernels> => {
  if (headDim % SG !== 0) throw new Error(`attention kernel: head_dim ${headDim} must be a multiple of ${SG}`)
  const [att, rms, rope, swi, qkr] = await Promise.all([
    pipeline(gpu.device, attentionWgsl(headDim), "attention"),
    pipeline(gpu.device, rmsnormWgsl, "rmsnorm"),
    pipeline(gpu.device, ropeWgsl, "rope"),
    pipeline(gpu.device, swigluWgsl, "swiglu"),
    pipeline(gpu.device, qkNormRopeWgsl(headDim), "qk-norm-rope")
  ])
  return {
    attention: (b, B, S, H) => ({ pipeline: att, buffers: [b.Q, b.K, b.V, b.O, b.params], groups: [Math.ceil(S / 8), B * H] }),
    rmsnorm: (b, rows) => ({ pipeline: rms, buffers: [b.X, b.W, b.Y, b.params], groups: grid(rows) }),
    rope: (b, rows, heads, D) => ({ pipeline: rope, buffers: [b.X, b.params], groups: grid(Math.ceil((rows * heads * D) / 2 / 256)) }),
    swiglu: (b, n) => ({ pipeline: swi, buffers: [b.G, b.U, b.Y, b.params], groups: grid(Math.ceil(n / 256)) }),
    qkNormRope: (b, rows, heads) => ({ pipeline: qkr, buffers: [b.X, b.W, b.params], groups: grid(rows * heads) })
  }
}

/** f32 → f16 (feeds the matmul's A operand) and residual add: elementwise helpers between fused kernels. */
export const castF16Wgsl = `enable f16;
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f16>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * 65535u * 256u;
  if (i < p.n) { Y[i] = f16(X[i]); }
}
`

export const addWgsl = `struct P { n: u32 }
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read> R: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * 65535u * 256u;
  if (i < p.n) { X[i] = X[i] + R[i]; }
}
`

export interface ElementwiseKernels {
  castF16(b: { X: GPUBuffer; Y: GPUBuffer; params: GPUBuffer }, n: number): Dispatch
  add(b: { X: GPUBuffer; R: GPUBuffer; params: GPUBuffer }, n: number): Dispatch
}

export const elementwiseKernels = async (gpu: Gpu): Promise<ElementwiseKernels> => {
  const [cast, add] = await Promise.all([pipeline(gpu.device, castF16Wgsl, "cast-f16"), pipeline(gpu.device, addWgsl, "add")])
  return {
    castF16: (b, n) => ({ pipeline: cast, buffers: [b.X, b.Y, b.params], groups: grid(Math.ceil(n / 256)) }),
    add: (b, n) => ({ pipeline: add, buffers: [b.X, b.R, b.params], groups: grid(Math.ceil(n / 256)) })
  }
}
