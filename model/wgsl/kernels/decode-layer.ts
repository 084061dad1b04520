import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import { range } from "./codegen.ts"
import type { Gpu } from "./device.ts"
import { grid } from "./fused.ts"

/**
 * A decoding step's transformer layer in five dispatches (model/wgsl/qwen3-decoder.ts, up to
 * DECODE_ROWS rows, f16 weights), where the unfused layer took fifteen (a step was ~430
 * dispatches, and a step of a few tokens is bound by how many it launches, not by its bytes):
 *
 *   1. qkv     input RMSNorm folded into one GEMV over the q, k and v weights' columns
 *   2. attend  q/k norm + RoPE, the new key and value appended to the caches, attention
 *   3. o       GEMV accumulated onto the residual stream
 *   4. gate-up post-attention RMSNorm folded into the gate and up GEMV, SiLU(gate)·up out
 *   5. down    GEMV accumulated onto the residual stream
 *
 * The final norm and the lm_head are one more GEMV of kind 1 (`head`): logits [rows, vocab].
 *
 * RMSNorm folded into a GEMV: y = inv_r · Σ_k (w_k · g_k) · x_rk, inv_r = 1/√(mean(x_r²) + eps):
 * the norm weight g scales the weight vector once for all rows, and each workgroup computes the
 * rows' inv_r itself (a row is hidden f32 values: 4 KiB at Qwen3-0.6B), so no normalised copy of
 * the activations is written or read. The normalised activations stay f32 (the unfused path
 * rounded them to f16 before the matmul): the two paths agree up to rounding, not bit for bit.
 *
 * GEMV layout as model/wgsl/kernels/gemv.ts (32 threads a column, each walking the column's row
 * of B 4 values at a time, partial sums meeting in workgroup memory), but each thread keeps
 * COLUMNS columns (or the gate and up columns of one index), so one read of the activations
 * serves two weight reads: with one column a thread, the activations' loads (16 rows for each
 * weight vec4) outnumbered the weights' eight to one.
 *
 * `storage` f16 is the decoder's (weights, the attention output, the SwiGLU output and the
 * caches); f32 is the same kernels for adapters without shader-f16 (tests on SwiftShader).
 */
export const DECODE_ROWS = 16
const COLUMNS = 2
const SUBGROUPS = 8 // 32-thread column groups a 256-thread workgroup

export type DecodeStorage = "f16" | "f32"

export interface DecodeGemvSpec {
  readonly storage: DecodeStorage
  /** fold an RMSNorm of A (f32 [M, K]) into the product; A is `storage` [M, K] otherwise */
  readonly norm: boolean
  /** "one": B [N, K]; "qkv": three weights side by side along N (boundaries p.n1, p.n2); "gate-up": two weights of N rows each, SiLU(A·B0ᵀ)·(A·B1ᵀ) out */
  readonly weights: "one" | "qkv" | "gate-up"
  /** "store": C = f32 product; "accumulate": C += product (the residual); gate-up writes Y in `storage` */
  readonly out: "store" | "accumulate"
}

export const decodeGemvWgsl = (s: DecodeGemvSpec): string => {
  const R = DECODE_ROWS
  const S = s.storage
  const aType = s.norm ? "f32" : S
  const pair = s.weights === "gate-up"
  // columns a thread: gate-up keeps one index of both weights, the others COLUMNS indices of one
  const cols = pair ? 1 : COLUMNS
  const perGroup = SUBGROUPS * cols
  const nB = s.weights === "qkv" ? 3 : pair ? 2 : 1
  const bindings = [
    `@group(0) @binding(0) var<storage, read> A: array<vec4<${aType}>>;`,
    ...range(nB).map((i) => `@group(0) @binding(${1 + i}) var<storage, read> B${i}: array<vec4<${S}>>;`),
    pair ? `@group(0) @binding(${1 + nB}) var<storage, read_write> Y: array<${S}>;` : `@group(0) @binding(${1 + nB}) var<storage, read_write> C: array<f32>;`,
    `@group(0) @binding(${2 + nB}) var<uniform> p: P;`,
    ...(s.norm ? [`@group(0) @binding(${3 + nB}) var<storage, read> G: array<vec4<f32>>;`] : [])
  ]
  // a weight vec4 of column n (qkv: from the weight whose columns hold n; the boundaries are
  // multiples of the workgroup's columns, so the branch is uniform across a workgroup)
  const load = (n: string, which = 0) => (s.weights === "qkv" ? `weightQkv(${n}, k, K4)` : `vec4<f32>(B${which}[${n} * K4 + k])`)
  const acc = (j: number, r: number) => `acc${j}_${r}`
  const nAcc = pair ? 2 : cols
  return `${S === "f16" ? "enable f16;\n" : ""}struct P { M: u32, N: u32, K: u32, n1: u32, n2: u32, _p0: u32, _p1: u32, _p2: u32, eps: f32 }
${bindings.join("\n")}
var<workgroup> partial: array<f32, ${256 * R}>;
${s.weights === "qkv" ? `fn weightQkv(n: u32, k: u32, K4: u32) -> vec4<f32> {
  if (n < p.n1) { return vec4<f32>(B0[n * K4 + k]); }
  if (n < p.n2) { return vec4<f32>(B1[(n - p.n1) * K4 + k]); }
  return vec4<f32>(B2[(n - p.n2) * K4 + k]);
}
` : ""}@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let sub = lid / 32u;
  let lane = lid % 32u;
  let K4 = p.K / 4u;
  let first = (wg.x + wg.y * 65535u) * ${perGroup}u + sub * ${cols}u;
${s.norm ? `  // each row's 1/rms: 16 threads a row, then one thread a row sums their 16 partials (into
  // partial[256 + row]: the workgroup memory the reduction below uses, read out before it)
  var inv = 1.0;
  {
    let r = lid / 16u;
    var ss = 0.0;
    if (r < p.M) {
      for (var k = lid % 16u; k < K4; k += 16u) { let a = A[r * K4 + k]; ss += dot(a, a); }
    }
    partial[lid] = ss;
    workgroupBarrier();
    if (lid < ${R}u) {
      var t = 0.0;
      for (var j = 0u; j < 16u; j++) { t += partial[lid * 16u + j]; }
      partial[256u + lid] = inverseSqrt(t / f32(p.K) + p.eps);
    }
    workgroupBarrier();
    inv = partial[256u + min(lane, ${R - 1}u)];
  }
` : ""}${range(cols).map((j) => `  let n${j} = min(first + ${j}u, p.N - 1u);`).join("\n")}
${range(nAcc).flatMap((j) => range(R).map((r) => `  var ${acc(j, r)} = 0.0;`)).join("\n")}
  for (var k = lane; k < K4; k += 32u) {
${pair
    ? `    var w0 = ${load("n0", 0)};\n    var w1 = ${load("n0", 1)};`
    : range(cols).map((j) => `    var w${j} = ${load(`n${j}`)};`).join("\n")}
${s.norm ? `    let g = G[k];\n${range(nAcc).map((j) => `    w${j} = w${j} * g;`).join("\n")}` : ""}
${range(R).map((r) => `    if (${r}u < p.M) {
      let a = vec4<f32>(A[${r}u * K4 + k]);
${range(nAcc).map((j) => `      ${acc(j, r)} += dot(w${j}, a);`).join("\n")}
    }`).join("\n")}
  }
${range(nAcc).map((j) => `  workgroupBarrier();
${range(R).map((r) => `  partial[lid * ${R}u + ${r}u] = ${acc(j, r)};`).join("\n")}
  workgroupBarrier();
  var s${j} = 0.0;
  if (lane < p.M) {
    for (var t = 0u; t < 32u; t++) { s${j} += partial[(sub * 32u + t) * ${R}u + lane]; }
${s.norm ? `    s${j} = s${j} * inv;\n` : ""}  }`).join("\n")}
${pair
    ? `  if (lane < p.M && first < p.N) {
    Y[lane * p.N + first] = ${S}(s0 / (1.0 + exp(-s0)) * s1);
  }`
    : range(cols).map((j) => `  if (lane < p.M && first + ${j}u < p.N) {
    ${s.out === "accumulate" ? `C[lane * p.N + first + ${j}u] += s${j};` : `C[lane * p.N + first + ${j}u] = s${j};`}
  }`).join("\n")}
}
`
}

/**
 * Attention of one new token a row, with everything between the qkv GEMV and the o GEMV:
 * per (row, head) one workgroup of D threads reads its q, k and v (f32, from the qkv GEMV's
 * [rows, (H + 2·KV)·D] output), applies Qwen3's per-head RMSNorm to q and k and RoPE at
 * position p.pos, rounds them to `storage` as the caches hold them, and attends over positions
 * 0 … pos as model/wgsl/kernels/decode-attention.ts does (online softmax over blocks of D keys).
 * The new key and value are used from workgroup memory at position pos, and the first query
 * head of each kv head writes them into the caches ([positions, rows, KV, D]) for later steps:
 * the other heads of the group compute the same values themselves, so no workgroup waits for
 * another's write.
 */
export const decodeAttendWgsl = (D: number, storage: DecodeStorage): string => {
  const S = storage
  const half = D / 2
  return `${S === "f16" ? "enable f16;\n" : ""}struct P { rows: u32, pos: u32, H: u32, KV: u32, scale: f32, eps: f32, theta: f32, _p0: f32 }
@group(0) @binding(0) var<storage, read> QKV: array<f32>;
@group(0) @binding(1) var<storage, read> QN: array<f32>;
@group(0) @binding(2) var<storage, read> KN: array<f32>;
@group(0) @binding(3) var<storage, read_write> K: array<${S}>;
@group(0) @binding(4) var<storage, read_write> V: array<${S}>;
@group(0) @binding(5) var<storage, read_write> O: array<${S}>;
@group(0) @binding(6) var<uniform> p: P;
var<workgroup> qs: array<f32, ${D}>;
var<workgroup> ks: array<f32, ${D}>;
var<workgroup> vs: array<f32, ${D}>;
var<workgroup> scores: array<f32, ${D}>;
@compute @workgroup_size(${D})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let h = wg.y;
  let group = p.H / p.KV;
  let kvh = h / group;
  let width = (p.H + 2u * p.KV) * ${D}u;
  let qv = QKV[row * width + h * ${D}u + lid];
  let kv = QKV[row * width + (p.H + kvh) * ${D}u + lid];
  let vv = QKV[row * width + (p.H + p.KV + kvh) * ${D}u + lid];
  // per-head RMSNorm of q and k: every thread sums the squares itself (broadcast reads)
  qs[lid] = qv * qv;
  ks[lid] = kv * kv;
  workgroupBarrier();
  var sq = 0.0;
  var sk = 0.0;
  for (var d = 0u; d < ${D}u; d++) { sq += qs[d]; sk += ks[d]; }
  let qn = qv * inverseSqrt(sq / ${D}.0 + p.eps) * QN[lid];
  let kn = kv * inverseSqrt(sk / ${D}.0 + p.eps) * KN[lid];
  workgroupBarrier();
  qs[lid] = qn;
  ks[lid] = kn;
  workgroupBarrier();
  // RoPE, half-split: (x_i, x_{i+D/2}) rotated by pos / theta^(2i/D)
  let i = lid % ${half}u;
  let angle = f32(p.pos) / pow(p.theta, f32(2u * i) / ${D}.0);
  let c = cos(angle);
  let s = sin(angle);
  let low = lid < ${half}u;
  let qr = select(qn * c + qs[i] * s, qn * c - qs[min(lid + ${half}u, ${D - 1}u)] * s, low);
  let kr = select(kn * c + ks[i] * s, kn * c - ks[min(lid + ${half}u, ${D - 1}u)] * s, low);
  workgroupBarrier();
  let kNew = ${S}(kr);
  let vNew = ${S}(vv);
  qs[lid] = f32(${S}(qr));
  ks[lid] = f32(kNew);
  vs[lid] = f32(vNew);
  let stride = p.rows * p.KV * ${D}u; // one position of the cache
  let kvBase = (row * p.KV + kvh) * ${D}u;
  if (h % group == 0u) {
    K[p.pos * stride + kvBase + lid] = kNew;
    V[p.pos * stride + kvBase + lid] = vNew;
  }
  workgroupBarrier();
  let len = p.pos + 1u;
  var m = -3.0e38;
  var l = 0.0;
  var acc = 0.0;
  for (var b0 = 0u; b0 < len; b0 += ${D}u) {
    let n = min(${D}u, len - b0);
    if (lid < n) {
      let key = b0 + lid;
      var sc = 0.0;
      if (key == p.pos) {
        for (var d = 0u; d < ${D}u; d++) { sc = fma(qs[d], ks[d], sc); }
      } else {
        let kb = key * stride + kvBase;
        for (var d = 0u; d < ${D}u; d++) { sc = fma(qs[d], f32(K[kb + d]), sc); }
      }
      scores[lid] = sc * p.scale;
    }
    workgroupBarrier();
    var bm = m;
    for (var j = 0u; j < n; j++) { bm = max(bm, scores[j]); }
    let correction = exp(m - bm);
    l = l * correction;
    acc = acc * correction;
    for (var j = 0u; j < n; j++) {
      let w = exp(scores[j] - bm);
      l += w;
      let key = b0 + j;
      let vj = select(f32(V[key * stride + kvBase + lid]), vs[lid], key == p.pos);
      acc = fma(w, vj, acc);
    }
    m = bm;
    workgroupBarrier(); // the next block overwrites the scores
  }
  O[(row * p.H + h) * ${D}u + lid] = ${S}(acc / l);
}
`
}

export interface DecodeLayerKernels {
  readonly storage: DecodeStorage
  /** C [M, n1 + 2·(n2 − n1)] = RMSNorm(A)·[B0; B1; B2]ᵀ; params: decodeGemvParams(M, N, K, n1, n2, eps) */
  qkv(b: { A: Binding; B0: Binding; B1: Binding; B2: Binding; C: Binding; G: Binding; params: GPUBuffer }, N: number): Dispatch
  /** Y [M, N] = SiLU(RMSNorm(A)·B0ᵀ) · (RMSNorm(A)·B1ᵀ), in `storage`; params: decodeGemvParams(M, N, K, 0, 0, eps) */
  gateUp(b: { A: Binding; B0: Binding; B1: Binding; Y: Binding; G: Binding; params: GPUBuffer }, N: number): Dispatch
  /** C [M, N] += A·Bᵀ (A in `storage`); params: decodeGemvParams(M, N, K) */
  accumulate(b: { A: Binding; B: Binding; C: Binding; params: GPUBuffer }, N: number): Dispatch
  /** C [M, N] = RMSNorm(A)·Bᵀ (the final norm and the lm_head); params: decodeGemvParams(M, N, K, 0, 0, eps) */
  head(b: { A: Binding; B: Binding; C: Binding; G: Binding; params: GPUBuffer }, N: number): Dispatch
  /** params: decodeAttendParams */
  attend(b: { QKV: Binding; QN: Binding; KN: Binding; K: Binding; V: Binding; O: Binding; params: GPUBuffer }, rows: number, H: number): Dispatch
}

/** The GEMVs' uniform: M, N, K, the qkv boundaries n1, n2 (u32), eps (f32). */
export const decodeGemvParams = (M: number, N: number, K: number, n1 = 0, n2 = 0, eps = 0): [Array<number>, Array<number>] => [[M, N, K, n1, n2, 0, 0, 0], [eps]]

/** The attention's uniform: rows (of the caches), pos, H, KV (u32), scale, eps, theta (f32). */
export const decodeAttendParams = (rows: number, pos: number, H: number, KV: number, scale: number, eps: number, theta: number): [Array<number>, Array<number>] => [[rows, pos, H, KV], [scale, eps, theta, 0]]

export const decodeLayerKernels = async (gpu: Gpu, D: number, storage: DecodeStorage = "f16"): Promise<DecodeLayerKernels> => {
  if (storage === "f16" && !gpu.hasF16) throw new Error("decode layer: this adapter has no shader-f16")
  if (gpu.device.limits.maxComputeWorkgroupStorageSize < 256 * DECODE_ROWS * 4) throw new Error(`decode layer: needs ${256 * DECODE_ROWS * 4} bytes of workgroup memory`)
  if (D % 2 !== 0 || D > gpu.device.limits.maxComputeInvocationsPerWorkgroup) throw new Error(`decode layer: head_dim ${D} must be even and at most the workgroup size limit`)
  const make = (spec: Omit<DecodeGemvSpec, "storage">, label: string) => pipeline(gpu.device, decodeGemvWgsl({ storage, ...spec }), `decode-${label}-${storage}`)
  const [qkv, gateUp, acc, head, attend] = [
    await make({ norm: true, weights: "qkv", out: "store" }, "qkv"),
    await make({ norm: true, weights: "gate-up", out: "store" }, "gate-up"),
    await make({ norm: false, weights: "one", out: "accumulate" }, "accumulate"),
    await make({ norm: true, weights: "one", out: "store" }, "head"),
    await pipeline(gpu.device, decodeAttendWgsl(D, storage), `decode-attend-${storage}`)
  ]
  const groups = (N: number, perGroup: number) => grid(Math.ceil(N / perGroup))
  return {
    storage,
    qkv: (b, N) => {
      // the three weights' boundaries are multiples of a workgroup's columns (the engine's widths are multiples of 128)
      if (N % (SUBGROUPS * COLUMNS) !== 0) throw new Error(`decode qkv: ${N} columns, not a multiple of ${SUBGROUPS * COLUMNS}`)
      return { pipeline: qkv, buffers: [b.A, b.B0, b.B1, b.B2, b.C, b.params, b.G], groups: groups(N, SUBGROUPS * COLUMNS) }
    },
    gateUp: (b, N) => ({ pipeline: gateUp, buffers: [b.A, b.B0, b.B1, b.Y, b.params, b.G], groups: groups(N, SUBGROUPS) }),
    accumulate: (b, N) => ({ pipeline: acc, buffers: [b.A, b.B, b.C, b.params], groups: groups(N, SUBGROUPS * COLUMNS) }),
    head: (b, N) => ({ pipeline: head, buffers: [b.A, b.B, b.C, b.params, b.G], groups: groups(N, SUBGROUPS * COLUMNS) }),
    attend: (b, rows, H) => ({ pipeline: attend, buffers: [b.QKV, b.QN, b.KN, b.K, b.V, b.O, b.params], groups: [rows, H] })
  }
}
