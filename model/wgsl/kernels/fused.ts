import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { range } from "./codegen.ts"

/**
 * Fused transformer kernels (f32 storage, f32 math), Qwen3 semantics (HF modeling_qwen3.py):
 * - flash-style causal attention with GQA and a KV cache: online softmax over chunks of 32 keys,
 *   no S×T score matrix in memory; query head h reads kv head h / (H / KV);
 * - RMSNorm: x · rsqrt(mean(x²) + eps) · weight, one workgroup a row;
 * - RoPE, half-split (rotate_half), in place, positions offset by the cache length;
 * - SwiGLU: silu(gate) · up.
 */

const SG = 32 // subgroup width the attention kernel is written for (NVIDIA, AMD wave32)

/** The bindings every attention kernel takes: parameters, Q, K, V, O — f32 here, f16 in attention-tc.ts. */
export const attentionBindings = (type: "f32" | "f16"): string => `struct P { B: u32, S: u32, T: u32, H: u32, KV: u32, _p0: u32, _p1: u32, _p2: u32, scale: f32 }
@group(0) @binding(0) var<storage, read> Q: array<${type}>;
@group(0) @binding(1) var<storage, read> K: array<${type}>;
@group(0) @binding(2) var<storage, read> V: array<${type}>;
@group(0) @binding(3) var<storage, read_write> O: array<${type}>;
@group(0) @binding(4) var<uniform> p: P;`

/** Q [B,S,H,D], K/V [B,T,KV,D] (T = cache length + S), O [B,S,H,D]; queries sit at positions T−S … T−1. */
export const attentionWgsl = (D: number): string => {
  const per = D / SG
  const QB = 8 // queries a workgroup (one subgroup each)
  return `enable subgroups;
${attentionBindings("f32")}
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

/**
 * The entry point of an element-wise kernel over p.n elements: 1024 a workgroup of 256 threads,
 * thread t taking t, t + 256, … (consecutive threads, consecutive addresses); `prelude` runs once
 * a thread, `body` for each index i. Dispatch with grid(ceil(n / 1024)).
 */
export const elementwiseMain = (body: string, prelude = ""): string => `@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
${prelude}  let first = (wg.x + wg.y * 65535u) * 1024u + lid;
  for (var i = first; i < min(first + 1024u, p.n); i += 256u) {
${body}
  }
}
`

/** Element type a kernel writes: f16 where the result only feeds a tensor-core matmul's operand. */
export type OutType = "f32" | "f16"
const enableFor = (out: OutType) => (out === "f16" ? "enable f16;\n" : "")

/**
 * Eight rows a workgroup of 256, 32 threads a row: each row's sum through workgroup memory (every
 * thread of a row reads the row's 32 partials: broadcast reads, no bank conflicts). Portable
 * across subgroup widths, and 8× fewer workgroups than one a row — on the H100 tiny workgroups
 * are bound by how fast they are launched, not by memory (0.22 ms for an 8192 × 1024 RMSNorm).
 */
/** `fn name(v, lid)`: the sum of v over each 32-thread row of a 256-thread workgroup (f32 or vec2<f32>). */
export const rowSumWgsl = (name: string, type: "f32" | "vec2<f32>"): string => `var<workgroup> partials: array<${type}, 256>;
fn ${name}(v: ${type}, lid: u32) -> ${type} {
  partials[lid] = v;
  workgroupBarrier();
  let first = (lid / 32u) * 32u;
  var total = ${type}(0.0);
  for (var k = 0u; k < 32u; k++) { total += partials[first + k]; }
  return total;
}`
const ROW_SUM = rowSumWgsl("rowSum", "f32")

export const rmsnormOutWgsl = (out: OutType): string => `${enableFor(out)}struct P { rows: u32, H: u32, _p0: u32, _p1: u32, eps: f32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<${out}>;
@group(0) @binding(3) var<uniform> p: P;
${ROW_SUM}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wanted = (wg.x + wg.y * 65535u) * 8u + lid / 32u;
  let lane = lid % 32u;
  let row = min(wanted, p.rows - 1u); // no early return: every thread reaches the barrier
  let base = row * p.H;
  var ss = 0.0;
  for (var i = lane; i < p.H; i += 32u) { let v = X[base + i]; ss = fma(v, v, ss); }
  let inv = inverseSqrt(rowSum(ss, lid) / f32(p.H) + p.eps);
  if (wanted < p.rows) {
    for (var i = lane; i < p.H; i += 32u) { Y[base + i] = ${out}(X[base + i] * inv * W[i]); }
  }
}
`
export const rmsnormWgsl = rmsnormOutWgsl("f32")

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
 * The per-head norm + RoPE kernels' shared WGSL: each lane's pairs (i, i + D/2) loaded from X at
 * `base` while the (row, head) is one of `count`, with their squares summed into `ss`…
 */
const normRopePairLoads = (D: number, count: string): string => range(Math.ceil(D / 2 / 32)).map((k) => `  let i${k} = min(lane + ${32 * k}u, ${D / 2 - 1}u);
  let on${k} = wanted < ${count} && lane + ${32 * k}u < ${D / 2}u;
  let a${k} = select(0.0, X[base + i${k}], on${k});
  let b${k} = select(0.0, X[base + i${k} + ${D / 2}u], on${k});
  ss += a${k} * a${k} + b${k} * b${k};`).join("\n")

/** …and pair k normed (by `inv` and the weights `w1`, `w2` at i and i + D/2) and rotated by RoPE at `pos`: n1, n2, c, s. */
const normRopePair = (D: number, k: number, w1: string, w2: string, indent: string): string => [
  `let n1 = a${k} * inv * ${w1};`, `let n2 = b${k} * inv * ${w2};`,
  `let angle = pos / pow(p.theta, f32(2u * i${k}) / ${D}.0);`, "let c = cos(angle);", "let s = sin(angle);"
].map((l) => indent + l).join("\n")

/**
 * Qwen3's per-head q/k norm then RoPE, fused, on X [rows = B·S, heads, D]: 32 threads a
 * (row, head), 8 a workgroup; each thread owns the pairs (i, i + D/2) that RoPE rotates together
 * (i = lane, lane + 32, …), so the normalised values never leave registers. In place (f32), or
 * into Y as f16 (binding 3) for the tensor-core attention.
 */
export const qkNormRopeWgsl = (D: number, out: "in-place" | "f16" | "f16-append" = "in-place"): string => {
  const half = D / 2
  const pairs = Math.ceil(half / 32)
  const f16 = out !== "in-place"
  const Y = f16 ? "Y" : "X"
  const cast = f16 ? "f16" : ""
  // "f16-append": Y is a KV cache [positions, rows, heads, D] and these rows are position `past`
  const yBase = out === "f16-append" ? `(p.past * p.rows * p.heads + rh) * ${D}u` : "base"
  return `${f16 ? "enable f16;\n" : ""}struct P { rows: u32, S: u32, heads: u32, past: u32, eps: f32, theta: f32 }
@group(0) @binding(0) var<storage, ${f16 ? "read" : "read_write"}> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<uniform> p: P;${f16 ? "\n@group(0) @binding(3) var<storage, read_write> Y: array<f16>;" : ""}
${ROW_SUM}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let wanted = (wg.x + wg.y * 65535u) * 8u + lid / 32u; // row·heads + head
  let lane = lid % 32u;
  let rh = min(wanted, p.rows * p.heads - 1u); // no early return: every thread reaches the barrier
  let base = rh * ${D}u;
  let yBase = ${yBase};
  let pos = f32(p.past + (rh / p.heads) % p.S);
  var ss = 0.0;
${normRopePairLoads(D, "p.rows * p.heads")}
  let inv = inverseSqrt(rowSum(ss, lid) / ${D}.0 + p.eps);
${range(pairs).map((k) => `  if (on${k}) {
${normRopePair(D, k, `W[i${k}]`, `W[i${k} + ${half}u]`, "    ")}
    ${Y}[yBase + i${k}] = ${cast}(n1 * c - n2 * s);
    ${Y}[yBase + i${k} + ${half}u] = ${cast}(n2 * c + n1 * s);
  }`).join("\n")}
}
`
}

/**
 * The scoring forward's q, k and v after one merged projection (qwen3-engine.ts: X [rows, H + 2·KV
 * heads, D] f32, the q heads then the k heads then the v heads of each row, as one matmul writes
 * them): q heads normed with Wq and rotated into Q [rows, H, D], k heads normed with Wk and rotated
 * into K [rows, KV, D], v heads only cast into V [rows, KV, D], all f16 for the tensor-core
 * attention — qkNormRopeWgsl's work for q and k plus the v cast in one dispatch instead of three.
 * 32 threads a (row, head), 8 a workgroup, as qkNormRopeWgsl; a v head sums its squares too (every
 * thread reaches the barrier) and ignores them. Positions are row % S (a prefill: no past).
 */
export const qkvNormRopeWgsl = (D: number): string => {
  const half = D / 2
  const pairs = Math.ceil(half / 32)
  return `enable f16;
struct P { rows: u32, S: u32, H: u32, KV: u32, eps: f32, theta: f32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Wq: array<f32>;
@group(0) @binding(2) var<storage, read> Wk: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
@group(0) @binding(4) var<storage, read_write> Q: array<f16>;
@group(0) @binding(5) var<storage, read_write> K: array<f16>;
@group(0) @binding(6) var<storage, read_write> V: array<f16>;
${ROW_SUM}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let heads = p.H + 2u * p.KV;
  let wanted = (wg.x + wg.y * 65535u) * 8u + lid / 32u; // row·heads + head
  let lane = lid % 32u;
  let rh = min(wanted, p.rows * heads - 1u); // no early return: every thread reaches the barrier
  let row = rh / heads;
  let head = rh % heads;
  let isQ = head < p.H;
  let isK = !isQ && head < p.H + p.KV;
  let base = rh * ${D}u;
  // where this head lands in Q, K or V
  let yBase = select(select((row * p.KV + head - p.H - p.KV) * ${D}u, (row * p.KV + head - p.H) * ${D}u, isK), (row * p.H + head) * ${D}u, isQ);
  let pos = f32(row % p.S);
  var ss = 0.0;
${normRopePairLoads(D, "p.rows * heads")}
  let inv = inverseSqrt(rowSum(ss, lid) / ${D}.0 + p.eps);
${range(pairs).map((k) => `  if (on${k}) {
    if (isQ || isK) {
${normRopePair(D, k, `select(Wk[i${k}], Wq[i${k}], isQ)`, `select(Wk[i${k} + ${half}u], Wq[i${k} + ${half}u], isQ)`, "      ")}
      if (isQ) {
        Q[yBase + i${k}] = f16(n1 * c - n2 * s);
        Q[yBase + i${k} + ${half}u] = f16(n2 * c + n1 * s);
      } else {
        K[yBase + i${k}] = f16(n1 * c - n2 * s);
        K[yBase + i${k} + ${half}u] = f16(n2 * c + n1 * s);
      }
    } else {
      V[yBase + i${k}] = f16(a${k});
      V[yBase + i${k} + ${half}u] = f16(b${k});
    }
  }`).join("\n")}
}
`
}

export const swigluOutWgsl = (out: OutType): string => `${enableFor(out)}struct P { n: u32 }
@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> U: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<${out}>;
@group(0) @binding(3) var<uniform> p: P;
${elementwiseMain(`    let g = G[i];
    Y[i] = ${out}(g / (1.0 + exp(-g)) * U[i]);`)}`
export const swigluWgsl = swigluOutWgsl("f32")

/** Workgroup counts for `n` items, folding into y above the 65535 limit of one dimension. */
export const grid = (n: number): readonly [number, number] => (n <= 65535 ? [Math.max(1, n), 1] : [65535, Math.ceil(n / 65535)])

export interface FusedKernels {
  attention(b: { Q: Binding; K: Binding; V: Binding; O: Binding; params: GPUBuffer }, B: number, S: number, H: number): Dispatch
  rmsnorm(b: { X: Binding; W: Binding; Y: Binding; params: GPUBuffer }, rows: number): Dispatch
  rope(b: { X: Binding; params: GPUBuffer }, rows: number, heads: number, D: number): Dispatch
  swiglu(b: { G: Binding; U: Binding; Y: Binding; params: GPUBuffer }, n: number): Dispatch
  /** params: rows, S, heads, past (u32), eps, theta (f32) */
  qkNormRope(b: { X: Binding; W: Binding; params: GPUBuffer }, rows: number, heads: number): Dispatch
  /** The same three with an f16 result, for the tensor-core matmul and attention that read it. */
  rmsnormF16(b: { X: Binding; W: Binding; Y: Binding; params: GPUBuffer }, rows: number): Dispatch
  swigluF16(b: { G: Binding; U: Binding; Y: Binding; params: GPUBuffer }, n: number): Dispatch
  qkNormRopeF16(b: { X: Binding; W: Binding; Y: Binding; params: GPUBuffer }, rows: number, heads: number): Dispatch
  /** qkNormRopeF16 written into a KV cache Y [positions, rows, heads, D] at position `past` (decoding one token a row). */
  qkNormRopeAppendF16(b: { X: Binding; W: Binding; Y: Binding; params: GPUBuffer }, rows: number, heads: number): Dispatch
  /** q/k norm + RoPE and the v cast after a merged q|k|v projection (qkvNormRopeWgsl); params: rows, S, H, KV (u32), eps, theta (f32) */
  qkvNormRopeF16(b: { X: Binding; Wq: Binding; Wk: Binding; Q: Binding; K: Binding; V: Binding; params: GPUBuffer }, rows: number, heads: number, kvHeads: number): Dispatch
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
  // f16 results need shader-f16; without it only the f32 kernels exist
  const [rms16, swi16, qkr16, qkrAppend, qkv16] = gpu.hasF16
    ? await Promise.all([
      pipeline(gpu.device, rmsnormOutWgsl("f16"), "rmsnorm-f16"),
      pipeline(gpu.device, swigluOutWgsl("f16"), "swiglu-f16"),
      pipeline(gpu.device, qkNormRopeWgsl(headDim, "f16"), "qk-norm-rope-f16"),
      pipeline(gpu.device, qkNormRopeWgsl(headDim, "f16-append"), "qk-norm-rope-f16-append"),
      pipeline(gpu.device, qkvNormRopeWgsl(headDim), "qkv-norm-rope-f16")
    ])
    : []
  const needF16 = (p: GPUComputePipeline | undefined, what: string) => {
    if (!p) throw new Error(`${what}: this adapter has no shader-f16`)
    return p
  }
  return {
    attention: (b, B, S, H) => ({ pipeline: att, buffers: [b.Q, b.K, b.V, b.O, b.params], groups: [Math.ceil(S / 8), B * H] }),
    rmsnorm: (b, rows) => ({ pipeline: rms, buffers: [b.X, b.W, b.Y, b.params], groups: grid(Math.ceil(rows / 8)) }),
    rope: (b, rows, heads, D) => ({ pipeline: rope, buffers: [b.X, b.params], groups: grid(Math.ceil((rows * heads * D) / 2 / 256)) }),
    swiglu: (b, n) => ({ pipeline: swi, buffers: [b.G, b.U, b.Y, b.params], groups: grid(Math.ceil(n / 1024)) }),
    qkNormRope: (b, rows, heads) => ({ pipeline: qkr, buffers: [b.X, b.W, b.params], groups: grid(Math.ceil((rows * heads) / 8)) }),
    rmsnormF16: (b, rows) => ({ pipeline: needF16(rms16, "rmsnorm-f16"), buffers: [b.X, b.W, b.Y, b.params], groups: grid(Math.ceil(rows / 8)) }),
    swigluF16: (b, n) => ({ pipeline: needF16(swi16, "swiglu-f16"), buffers: [b.G, b.U, b.Y, b.params], groups: grid(Math.ceil(n / 1024)) }),
    qkNormRopeF16: (b, rows, heads) => ({ pipeline: needF16(qkr16, "qk-norm-rope-f16"), buffers: [b.X, b.W, b.params, b.Y], groups: grid(Math.ceil((rows * heads) / 8)) }),
    qkNormRopeAppendF16: (b, rows, heads) => ({ pipeline: needF16(qkrAppend, "qk-norm-rope-f16-append"), buffers: [b.X, b.W, b.params, b.Y], groups: grid(Math.ceil((rows * heads) / 8)) }),
    qkvNormRopeF16: (b, rows, heads, kvHeads) => ({ pipeline: needF16(qkv16, "qkv-norm-rope-f16"), buffers: [b.X, b.Wq, b.Wk, b.params, b.Q, b.K, b.V], groups: grid(Math.ceil((rows * (heads + 2 * kvHeads)) / 8)) })
  }
}

/** f32 → f16 (feeds the matmul's A operand) and residual add: elementwise helpers between fused kernels. */
export const castF16Wgsl = `enable f16;
struct P { n: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f16>;
@group(0) @binding(2) var<uniform> p: P;
${elementwiseMain("    Y[i] = f16(X[i]);")}`

/** Y[offset + i] = f16(X[i]): values appended to a KV cache at their position. params: n, offset. */
export const castF16AtWgsl = `enable f16;
struct P { n: u32, offset: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f16>;
@group(0) @binding(2) var<uniform> p: P;
${elementwiseMain("    Y[p.offset + i] = f16(X[i]);")}`

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

/** Y = X (f32): snapshots of the residual stream that a backward pass reads. */
export const copyWgsl = `struct P { n: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${elementwiseMain("    Y[i] = X[i];")}`

/** X *= s in place (f32): undoing a loss scale on gradients. params: words [n], floats [s]. */
export const scaleWgsl = `struct P { n: u32, s: f32 }
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<uniform> p: P;
${elementwiseMain("    X[i] = X[i] * p.s;")}`

export interface ElementwiseKernels {
  castF16(b: { X: Binding; Y: Binding; params: GPUBuffer }, n: number): Dispatch
  /** params: n, offset (elements of Y) */
  castF16At(b: { X: Binding; Y: Binding; params: GPUBuffer }, n: number): Dispatch
  add(b: { X: Binding; R: Binding; params: GPUBuffer }, n: number): Dispatch
  copy(b: { X: Binding; Y: Binding; params: GPUBuffer }, n: number): Dispatch
  scale(b: { X: Binding; params: GPUBuffer }, n: number): Dispatch
}

export const elementwiseKernels = async (gpu: Gpu): Promise<ElementwiseKernels> => {
  const [cast, castAt, add, copy, scale] = await Promise.all([
    pipeline(gpu.device, castF16Wgsl, "cast-f16"), gpu.hasF16 ? pipeline(gpu.device, castF16AtWgsl, "cast-f16-at") : undefined,
    pipeline(gpu.device, addWgsl, "add"), pipeline(gpu.device, copyWgsl, "copy"), pipeline(gpu.device, scaleWgsl, "scale")
  ])
  return {
    castF16: (b, n) => ({ pipeline: cast, buffers: [b.X, b.Y, b.params], groups: grid(Math.ceil(n / 1024)) }),
    castF16At: (b, n) => {
      if (!castAt) throw new Error("cast-f16-at: this adapter has no shader-f16")
      return { pipeline: castAt, buffers: [b.X, b.Y, b.params], groups: grid(Math.ceil(n / 1024)) }
    },
    add: (b, n) => ({ pipeline: add, buffers: [b.X, b.R, b.params], groups: grid(Math.ceil(n / 256)) }),
    copy: (b, n) => ({ pipeline: copy, buffers: [b.X, b.Y, b.params], groups: grid(Math.ceil(n / 1024)) }),
    scale: (b, n) => ({ pipeline: scale, buffers: [b.X, b.params], groups: grid(Math.ceil(n / 1024)) })
  }
}
