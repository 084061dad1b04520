import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import { range } from "./codegen.ts"
import { type Gpu, maxWorkgroupThreads } from "./device.ts"
import { decodeAttendGqaWgsl, GQA_WARPS, gqaChunkKeys, gqaKeysFit, gqaSharedBytes, gqaSubgroupWidth, gqaTeamLanes, type GqaAttendSpec } from "./decode-attend-gqa.ts"
import { decodeGemvTcWgsl, isTcShape, TC_COLUMNS, TC_WARPS, type TcGemvShape, tcGemvSharedBytes } from "./decode-gemv-tc.ts"
import { type BlockedGemvShape, blockedColumnsPerGroup, blockedSharedBytes, BLOCKED_ROWS, DEFAULT_BLOCKED_SHAPE, decodeGemvBlockedWgsl, isBlockedShape } from "./decode-gemv-blocked.ts"
import type { DecodeGemvSpec, DecodeStorage, GemvShape } from "./decode-gemv-spec.ts"
import { subgroupsOf32 } from "./matmul.ts"
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
 * the norm weight g scales the weight vector once for all rows, and each column group sums the
 * squares of the activations it reads for its products anyway (one more reduction, no second pass
 * over them: round 2 on the H100 had a separate pass, and at 16 rows the qkv GEMV moved only
 * ~160 GB/s), so no normalised copy of the activations is written or read. The normalised activations stay f32 (the unfused path
 * rounded them to f16 before the matmul): the two paths agree up to rounding, not bit for bit.
 *
 * GEMV layout as model/wgsl/kernels/gemv.ts (32 threads a column, each walking the column's row
 * of B 4 values at a time, partial sums meeting in workgroup memory), but each thread keeps
 * GemvShape.columns columns (or the gate and up columns of one index), so one read of the
 * activations serves two weight reads (with one column a thread, the activations' loads, 16 rows
 * for each weight vec4, outnumbered the weights' eight to one), a column's K can be split over
 * more threads (GemvShape.slices), and the kernels are written for the decoder's rows (rounded
 * up to a power of two) rather than always 16.
 *
 * `storage` f16 is the decoder's (weights, the attention output, the SwiGLU output and the
 * caches); f32 is the same kernels for adapters without shader-f16 (tests on SwiftShader).
 */
export const DECODE_ROWS = 16

/** The fused GEMVs whose layout (GemvShape) is chosen apart: "oCombined" is the o GEMV folding the split attention's chunks (defaults to "accumulate"'s). */
export type GemvKind = "qkv" | "gateUp" | "accumulate" | "head" | "oCombined"

export type { DecodeGemvSpec, DecodeStorage, GemvShape } from "./decode-gemv-spec.ts"
export type { BlockedGemvShape } from "./decode-gemv-blocked.ts"

export const DEFAULT_GEMV_SHAPE: GemvShape = { columns: 2, slices: 1 }

/** Columns of N one workgroup computes. */
export const gemvColumnsPerGroup = (shape: GemvShape): number => (8 / shape.slices) * shape.columns

export const decodeGemvWgsl = (s: DecodeGemvSpec): string => {
  const R = s.rows ?? DECODE_ROWS
  const S = s.storage
  const aType = s.norm ? "f32" : S
  const pair = s.weights === "gate-up"
  const shape = s.shape ?? DEFAULT_GEMV_SHAPE
  const cols = shape.columns // columns a thread (gate-up: both weights' columns at each of these indices)
  const GS = 32 * shape.slices // threads a column group
  const perGroup = gemvColumnsPerGroup(shape)
  const nB = s.weights === "qkv" ? 3 : pair ? 2 : 1
  const c = s.combine
  if (c && (s.norm || s.weights !== "one" || c.headDim % 4 !== 0)) throw new Error("decode GEMV: the split attention's chunks fold only into a GEMV of one weight without a norm (the o projection), head_dim a multiple of 4")
  const bindings = [
    c ? "@group(0) @binding(0) var<storage, read> Part: array<vec4<f32>>;" : `@group(0) @binding(0) var<storage, read> A: array<vec4<${aType}>>;`,
    ...range(nB).map((i) => `@group(0) @binding(${1 + i}) var<storage, read> B${i}: array<vec4<${S}>>;`),
    pair ? `@group(0) @binding(${1 + nB}) var<storage, read_write> Y: array<${S}>;` : `@group(0) @binding(${1 + nB}) var<storage, read_write> C: array<f32>;`,
    `@group(0) @binding(${2 + nB}) var<uniform> p: P;`,
    ...(s.norm ? [`@group(0) @binding(${3 + nB}) var<storage, read> G: array<vec4<f32>>;`] : []),
    ...(c ? [`struct PA { rows: u32, pos: u32, H: u32, KV: u32, scale: f32, eps: f32, theta: f32, _p0: f32 }\n@group(0) @binding(${3 + nB}) var<uniform> pa: PA;`, `var<workgroup> As: array<vec4<${S}>, ${R * c.heads * (c.headDim / 4)}>;`] : [])
  ]
  // the weights of U steps of K from kb on (the combine variant's software pipeline: one weight, no norm)
  const weightLoads = (kb: string, lead: string) =>
    range(U).flatMap((u) => range(cols).map((j) => `${lead}w${j}_${u} = select(vec4<f32>(0.0), ${load(`n${j}`, 0, `min(${kb} + ${u * GS}u, K4 - 1u)`)}, ${kb} + ${u * GS}u < K4);`)).join("\n")
  // an activation vec4: from storage, or from the chunks combined into workgroup memory
  const aLoad = (i: string) => (c ? `vec4<f32>(As[${i}])` : `vec4<f32>(A[${i}])`)
  // a weight vec4 of column n (qkv: from the weight whose columns hold n; the boundaries are
  // multiples of the workgroup's columns, so the branch is uniform across a workgroup)
  const load = (n: string, which: number, k: string) => (s.weights === "qkv" ? `weightQkv(${n}, ${k}, K4)` : `vec4<f32>(B${which}[${n} * K4 + ${k}])`)
  const acc = (j: number, r: number) => `acc${j}_${r}`
  // accumulators a row: one a column; gate-up: gate of column j is 2j, up 2j + 1
  const nAcc = pair ? 2 * cols : cols
  // steps of K unrolled: 4, fewer where the weights in registers would crowd the accumulators
  const U = Math.max(1, Math.min(4, Math.floor(8 / nAcc)))
  const sg = s.subgroupReduce === true
  if (sg && GS !== 32) throw new Error(`decode GEMV: subgroup reductions need one warp a column (slices 1), not ${shape.slices}`)
  return `${S === "f16" ? "enable f16;\n" : ""}${sg ? "enable subgroups;\n" : ""}struct P { M: u32, N: u32, K: u32, n1: u32, n2: u32, _p0: u32, _p1: u32, _p2: u32, eps: f32 }
${bindings.join("\n")}
${sg ? "" : `var<workgroup> partial: array<f32, ${Math.max(256 * R, 256 + R)}>;`}
${s.weights === "qkv" ? `fn weightQkv(n: u32, k: u32, K4: u32) -> vec4<f32> {
  if (n < p.n1) { return vec4<f32>(B0[n * K4 + k]); }
  if (n < p.n2) { return vec4<f32>(B1[(n - p.n1) * K4 + k]); }
  return vec4<f32>(B2[(n - p.n2) * K4 + k]);
}
` : ""}@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = lid / ${GS}u; // column group
  let t = lid % ${GS}u; // thread in the group: walks K from t by ${GS}
  let K4 = p.K / 4u;
  let first = (wg.x + wg.y * 65535u) * ${perGroup}u + g * ${cols}u;
${s.norm ? `  // each row's sum of squares, from the activations the products read (no second pass over them)
${range(R).map((r) => `  var ss_${r} = 0.0;`).join("\n")}
` : ""}${range(cols).map((j) => `  let n${j} = min(first + ${j}u, p.N - 1u);`).join("\n")}
${range(nAcc).flatMap((j) => range(R).map((r) => `  var ${acc(j, r)} = 0.0;`)).join("\n")}
${c ? `  // the first ${U} steps of K's weights loaded before the prologue (their latency overlaps it), each
  // next ${U} at the end of the ones before
  var kb = t;
${weightLoads("kb", "  var ")}
${combineIntoWorkgroup(c, S)}  for (; kb < K4; kb += ${U * GS}u) {
${range(U).map((u) => `    let k${u} = min(kb + ${u * GS}u, K4 - 1u);`).join("\n")}` : `  // ${U} steps of K at a time: their weight loads are issued together (in flight at once), then used
  for (var kb = t; kb < K4; kb += ${U * GS}u) {
${range(U).map((u) => `    let k${u} = min(kb + ${u * GS}u, K4 - 1u);
    let on${u} = kb + ${u * GS}u < K4; // past K: a weight of 0 (the load reads a valid, clamped index)
${pair
    ? range(cols).map((j) => `    var w${2 * j}_${u} = select(vec4<f32>(0.0), ${load(`n${j}`, 0, `k${u}`)}, on${u});\n    var w${2 * j + 1}_${u} = select(vec4<f32>(0.0), ${load(`n${j}`, 1, `k${u}`)}, on${u});`).join("\n")
    : range(cols).map((j) => `    var w${j}_${u} = select(vec4<f32>(0.0), ${load(`n${j}`, 0, `k${u}`)}, on${u});`).join("\n")}`).join("\n")}`}
${s.norm ? range(U).map((u) => `    let gn${u} = G[k${u}];\n${range(nAcc).map((j) => `    w${j}_${u} = w${j}_${u} * gn${u};`).join("\n")}`).join("\n") : ""}
${range(R).map((r) => `    if (${r}u < p.M) {
${range(U).map((u) => `      let a${u} = ${aLoad(`${r}u * K4 + k${u}`)};`).join("\n")}
${range(nAcc).map((j) => `      ${acc(j, r)} += ${range(U).map((u) => `dot(w${j}_${u}, a${u})`).join(" + ")};`).join("\n")}
${s.norm ? `      ss_${r} += ${range(U).map((u) => `select(0.0, dot(a${u}, a${u}), on${u})`).join(" + ")};` : ""}
    }`).join("\n")}${c ? `
    let nb = kb + ${U * GS}u;
${weightLoads("nb", "    ")}` : ""}
  }
${[...(s.norm ? [["ss", (r: number) => `ss_${r}`] as const] : []), ...range(nAcc).map((j) => [`s${j}`, (r: number) => acc(j, r)] as const)].map(([name, of]) => sg ? `  // ${name}: the warp's 32 partial sums of each row by subgroupAdd; lane t keeps row t's
  var ${name} = 0.0;
${range(R).map((r) => `  {
    let v = subgroupAdd(${of(r)});
    if (t == ${r}u && t < p.M) { ${name} = v${name !== "ss" && s.norm ? " * inv" : ""}; }
  }`).join("\n")}${name === "ss" ? `
  let inv = inverseSqrt(ss / f32(p.K) + p.eps); // row t's 1/rms` : ""}` : `  // ${name}: the group's ${GS} partial sums of each row. Thread t adds row t % ${R} over every
  // ${GS / R}th lane from t / ${R} (${R} values), then the ${GS / R} sums of a row meet by halves.
  // Row r's values lie at r · 256 + (lid ^ r): a warp's stores hit 32 banks (thread-major, lid · ${R} + r,
  // put all 32 lanes' stores of a row on ${Math.min(32, Math.max(1, 32 / R))} bank(s)) and the reads of a row's lanes stay ~conflict-free
  workgroupBarrier();
${range(R).map((r) => `  partial[${r * 256}u + (lid ^ ${r}u)] = ${of(r)};`).join("\n")}
  workgroupBarrier();
  {
    var v = 0.0;
    for (var i = 0u; i < ${R}u; i++) { v += partial[(t % ${R}u) * 256u + ((g * ${GS}u + t / ${R}u + i * ${GS / R}u) ^ (t % ${R}u))]; }
    workgroupBarrier();
    partial[g * ${GS * R}u + t] = v;
  }
  for (var w = ${GS / R / 2}u; w > 0u; w = w / 2u) {
    workgroupBarrier();
    if (t / ${R}u < w) { partial[g * ${GS * R}u + t] += partial[g * ${GS * R}u + t + w * ${R}u]; }
  }
  workgroupBarrier();
  var ${name} = 0.0;
  if (t < p.M) {
    ${name} = partial[g * ${GS * R}u + t]${name !== "ss" && s.norm ? " * inv" : ""};
  }${name === "ss" ? `
  let inv = inverseSqrt(ss / f32(p.K) + p.eps); // row t's 1/rms` : ""}`).join("\n")}
${pair
    ? range(cols).map((j) => `  if (t < p.M && first + ${j}u < p.N) {
    Y[t * p.N + first + ${j}u] = ${S}(s${2 * j} / (1.0 + exp(-s${2 * j})) * s${2 * j + 1});
  }`).join("\n")
    : range(cols).map((j) => `  if (t < p.M && first + ${j}u < p.N) {
    ${s.out === "accumulate" ? `C[t * p.N + first + ${j}u] += s${j};` : `C[t * p.N + first + ${j}u] = s${j};`}
  }`).join("\n")}
}
`
}

/**
 * The o GEMV's prologue where it folds the split attention's chunks (DecodeGemvSpec.combine): the
 * workgroup's 256 threads write A [M, heads · headDim] into workgroup memory, each vec4 of it
 * as decodeAttendCombineWgsl computes it (the chunks' max, then their weights exp(m_s − m) summed
 * in chunk order: the same values). Every workgroup of the GEMV repeats this (reads of a few tens
 * of KB from L2, a couple of µs) instead of the combine's own dispatch and barrier (~12 µs a layer
 * at one row on the H100, session 7). The chunks' loads go 4 at a time (indices clamped, the extra
 * ones unused), so their latencies overlap.
 */
const combineIntoWorkgroup = (c: NonNullable<DecodeGemvSpec["combine"]>, S: DecodeStorage): string => {
  const D4 = c.headDim / 4
  const K4 = c.heads * D4
  const rec4 = (c.headDim + 4) / 4 // a (chunk, row, head) record: D sums, then the max and the sum of weights
  return `  // the split attention's chunks folded into A (workgroup memory), as the combine pass would write it
  {
    let chunks = (pa.pos + ${SPLIT_KEYS}u) / ${SPLIT_KEYS}u;
    let each4 = pa.rows * ${c.heads * rec4}u; // one chunk's records, in vec4s
    for (var e = lid; e < p.M * ${K4}u; e += 256u) {
      let base = ((e / ${K4}u) * ${c.heads}u + (e % ${K4}u) / ${D4}u) * ${rec4}u; // the (row, head) record
      let at = base + e % ${D4}u;
      let stats = base + ${D4}u;
      var m = -3.0e38;
      for (var s = 0u; s < chunks; s += 4u) {
${range(4).map((u) => `        let m${u} = Part[min(s + ${u}u, chunks - 1u) * each4 + stats].x;`).join("\n")}
        m = max(m, max(max(m0, m1), max(m2, m3)));
      }
      var l = 0.0;
      var o = vec4<f32>(0.0);
      for (var s = 0u; s < chunks; s += 4u) {
${range(4).map((u) => `        let st${u} = Part[min(s + ${u}u, chunks - 1u) * each4 + stats];
        let v${u} = Part[min(s + ${u}u, chunks - 1u) * each4 + at];`).join("\n")}
${range(4).map((u) => `        if (s + ${u}u < chunks) {
          let w = exp(st${u}.x - m);
          l += w * st${u}.y;
          o += w * v${u};
        }`).join("\n")}
      }
      As[e] = vec4<${S}>(o / l);
    }
  }
  workgroupBarrier();
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

/**
 * decodeAttendWgsl with the key and value loops written for memory latency ("unrolled"): keys read
 * 4 values a load (the cache bound as vec4s; the new key written by D / 4 threads of the first
 * query head), the softmax weights of a block exponentiated by all threads at once into workgroup
 * memory, and the values summed four keys an iteration (four independent loads in flight a thread).
 * The new key and value at position pos still come from workgroup memory; same results up to the
 * order of the sums.
 */
export const decodeAttendUnrolledWgsl = (D: number, storage: DecodeStorage): string => {
  const S = storage
  const half = D / 2
  const D4 = D / 4
  return `${S === "f16" ? "enable f16;\n" : ""}struct P { rows: u32, pos: u32, H: u32, KV: u32, scale: f32, eps: f32, theta: f32, _p0: f32 }
@group(0) @binding(0) var<storage, read> QKV: array<f32>;
@group(0) @binding(1) var<storage, read> QN: array<f32>;
@group(0) @binding(2) var<storage, read> KN: array<f32>;
@group(0) @binding(3) var<storage, read_write> K: array<vec4<${S}>>;
@group(0) @binding(4) var<storage, read_write> V: array<${S}>;
@group(0) @binding(5) var<storage, read_write> O: array<${S}>;
@group(0) @binding(6) var<uniform> p: P;
var<workgroup> q4: array<vec4<f32>, ${D4}>;
var<workgroup> k4: array<vec4<f32>, ${D4}>;
var<workgroup> vs: array<f32, ${D}>;
var<workgroup> scores: array<f32, ${D}>;
var<workgroup> wts: array<f32, ${D}>;
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
  scores[lid] = qv * qv;
  wts[lid] = kv * kv;
  workgroupBarrier();
  var sq = 0.0;
  var sk = 0.0;
  for (var d = 0u; d < ${D}u; d++) { sq += scores[d]; sk += wts[d]; }
  let qn = qv * inverseSqrt(sq / ${D}.0 + p.eps) * QN[lid];
  let kn = kv * inverseSqrt(sk / ${D}.0 + p.eps) * KN[lid];
  q4[lid / 4u][lid % 4u] = qn;
  k4[lid / 4u][lid % 4u] = kn;
  workgroupBarrier();
  let i = lid % ${half}u;
  let angle = f32(p.pos) / pow(p.theta, f32(2u * i) / ${D}.0);
  let c = cos(angle);
  let s = sin(angle);
  let other = select(i, lid + ${half}u, lid < ${half}u) % ${D}u; // the partner of the rotation
  let qo = q4[other / 4u][other % 4u];
  let ko = k4[other / 4u][other % 4u];
  let qr = select(qn * c + qo * s, qn * c - qo * s, lid < ${half}u);
  let kr = select(kn * c + ko * s, kn * c - ko * s, lid < ${half}u);
  workgroupBarrier();
  q4[lid / 4u][lid % 4u] = f32(${S}(qr));
  k4[lid / 4u][lid % 4u] = f32(${S}(kr));
  let vNew = ${S}(vv);
  vs[lid] = f32(vNew);
  let stride = p.rows * p.KV * ${D}u; // one position of the cache
  let kvBase = (row * p.KV + kvh) * ${D}u;
  workgroupBarrier();
  if (h % group == 0u) {
    V[p.pos * stride + kvBase + lid] = vNew;
    if (lid < ${D4}u) { K[(p.pos * stride + kvBase) / 4u + lid] = vec4<${S}>(k4[lid]); }
  }
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
        for (var d = 0u; d < ${D4}u; d++) { sc += dot(q4[d], k4[d]); }
      } else {
        let kb = (key * stride + kvBase) / 4u;
        for (var d = 0u; d < ${D4}u; d++) { sc += dot(q4[d], vec4<f32>(K[kb + d])); }
      }
      scores[lid] = sc * p.scale;
    }
    workgroupBarrier();
    var bm = m;
    for (var j = 0u; j < n; j++) { bm = max(bm, scores[j]); }
    if (lid < n) { wts[lid] = exp(scores[lid] - bm); }
    workgroupBarrier();
    let correction = exp(m - bm);
    l = l * correction;
    acc = acc * correction;
    // the keys of this block before pos, four at a time; pos itself (the last key) from workgroup memory
    let cached = select(n, n - 1u, b0 + n == len);
    var j = 0u;
    for (; j + 4u <= cached; j += 4u) {
      let base = (b0 + j) * stride + kvBase + lid;
      let v0 = f32(V[base]);
      let v1 = f32(V[base + stride]);
      let v2 = f32(V[base + 2u * stride]);
      let v3 = f32(V[base + 3u * stride]);
      l += wts[j] + wts[j + 1u] + wts[j + 2u] + wts[j + 3u];
      acc = fma(wts[j], v0, acc);
      acc = fma(wts[j + 1u], v1, acc);
      acc = fma(wts[j + 2u], v2, acc);
      acc = fma(wts[j + 3u], v3, acc);
    }
    for (; j < cached; j++) {
      l += wts[j];
      acc = fma(wts[j], f32(V[(b0 + j) * stride + kvBase + lid]), acc);
    }
    if (cached < n) {
      l += wts[n - 1u];
      acc = fma(wts[n - 1u], vs[lid], acc);
    }
    m = bm;
    workgroupBarrier(); // the next block overwrites the scores and weights
  }
  O[(row * p.H + h) * ${D}u + lid] = ${S}(acc / l);
}
`
}

/**
 * The 256-thread attention kernels' opening (coalesced and split): this (row, head)'s q, k and v
 * read from QKV, q and k RMS-normed per head (squares summed by halves in `sums`), rotated by RoPE
 * at p.pos, and left rounded to the cache's type in workgroup memory (q4, k4, v4) for the key loops.
 * Expects `row`, `h`, `kvh` and `lid` in scope; declares `d` and `mine`.
 */
const qkNormRopeToWorkgroup = (D: number, S: DecodeStorage): string => {
  const half = D / 2
  return `  let width = (p.H + 2u * p.KV) * ${D}u;
  let d = min(lid, ${D - 1}u); // threads past D repeat the last dimension's work and write nothing
  let mine = lid < ${D}u;
  let qv = QKV[row * width + h * ${D}u + d];
  let kv = QKV[row * width + (p.H + kvh) * ${D}u + d];
  let vv = QKV[row * width + (p.H + p.KV + kvh) * ${D}u + d];
  if (mine) { sums[d] = qv * qv; sums[${D}u + d] = kv * kv; }
  // the squares summed by halves: every thread walking all ${D} of them queued 256 threads' reads on
  // the SM's shared memory (at 16 rows the split variant's 2 048 workgroups all pay it)
  for (var w = ${2 ** Math.ceil(Math.log2(D)) / 2}u; w > 0u; w = w / 2u) {
    workgroupBarrier();
    if (lid < w && lid + w < ${D}u) { sums[lid] += sums[lid + w]; sums[${D}u + lid] += sums[${D}u + lid + w]; }
  }
  workgroupBarrier();
  let sq = sums[0];
  let sk = sums[${D}u];
  let qn = qv * inverseSqrt(sq / ${D}.0 + p.eps) * QN[d];
  let kn = kv * inverseSqrt(sk / ${D}.0 + p.eps) * KN[d];
  workgroupBarrier();
  if (mine) { sums[d] = qn; sums[${D}u + d] = kn; }
  workgroupBarrier();
  let i = d % ${half}u;
  let angle = f32(p.pos) / pow(p.theta, f32(2u * i) / ${D}.0);
  let c = cos(angle);
  let sn = sin(angle);
  let other = select(i, d + ${half}u, d < ${half}u) % ${D}u; // the partner of the rotation
  let qr = select(qn * c + sums[other] * sn, qn * c - sums[other] * sn, d < ${half}u);
  let kr = select(kn * c + sums[${D}u + other] * sn, kn * c - sums[${D}u + other] * sn, d < ${half}u);
  if (mine) {
    q4[d / 4u][d % 4u] = f32(${S}(qr));
    k4[d / 4u][d % 4u] = f32(${S}(kr));
    v4[d / 4u][d % 4u] = f32(${S}(vv));
  }`
}

/**
 * decodeAttendWgsl laid out for coalesced loads ("coalesced"): 256 threads a (row, head); a key's
 * D values are read by D / 4 consecutive threads, 4 values each (one 8-byte load at f16, a key row
 * in one go), 256 / (D / 4) keys at a time, so the cache is read in whole rows and many loads are
 * in flight, where the other variants had one thread walk a key's row value by value (the round-1
 * profile on the H100: ~150 µs a dispatch at 256 positions). Keys go by blocks of 64: the lanes'
 * partial dot products meet in workgroup memory (one thread a key adds them), the block's softmax
 * weights are exponentiated in parallel, and the values are summed the same way, each thread
 * keeping 4 output dimensions for its share of the keys; the shares meet at the end. The new key
 * and value at pos come from workgroup memory; the first query head of each kv head appends them.
 */
export const decodeAttendCoalescedWgsl = (D: number, storage: DecodeStorage): string => {
  const S = storage
  const L = D / 4 // threads a key
  const KPS = 256 / L // keys a sweep
  const B = 64 // keys a block
  return `${S === "f16" ? "enable f16;\n" : ""}struct P { rows: u32, pos: u32, H: u32, KV: u32, scale: f32, eps: f32, theta: f32, _p0: f32 }
@group(0) @binding(0) var<storage, read> QKV: array<f32>;
@group(0) @binding(1) var<storage, read> QN: array<f32>;
@group(0) @binding(2) var<storage, read> KN: array<f32>;
@group(0) @binding(3) var<storage, read_write> K: array<vec4<${S}>>;
@group(0) @binding(4) var<storage, read_write> V: array<vec4<${S}>>;
@group(0) @binding(5) var<storage, read_write> O: array<${S}>;
@group(0) @binding(6) var<uniform> p: P;
var<workgroup> q4: array<vec4<f32>, ${L}>;
var<workgroup> k4: array<vec4<f32>, ${L}>;
var<workgroup> v4: array<vec4<f32>, ${L}>;
var<workgroup> sums: array<f32, ${2 * D}>;
var<workgroup> part: array<f32, ${B * L}>;
var<workgroup> scores: array<f32, ${B}>;
var<workgroup> outs: array<vec4<f32>, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let h = wg.y;
  let group = p.H / p.KV;
  let kvh = h / group;
${qkNormRopeToWorkgroup(D, S)}
  let stride4 = p.rows * p.KV * ${L}u; // one position of the cache, in vec4s
  let base4 = (row * p.KV + kvh) * ${L}u;
  workgroupBarrier();
  if (h % group == 0u && lid < ${L}u) {
    K[p.pos * stride4 + base4 + lid] = vec4<${S}>(k4[lid]);
    V[p.pos * stride4 + base4 + lid] = vec4<${S}>(v4[lid]);
  }
  let sub = lid / ${L}u; // the key of a sweep this thread reads
  let lane = lid % ${L}u; // its 4 dimensions
  let qmine = q4[lane];
  let len = p.pos + 1u;
  var m = -3.0e38;
  var l = 0.0;
  var acc = vec4<f32>(0.0);
  for (var b0 = 0u; b0 < len; b0 += ${B}u) {
    let n = min(${B}u, len - b0);
    // partial dot products: key b0 + j, lanes' 4 dimensions each; 4 keys a thread at a time, their
    // loads issued together (a key past the block reads a valid clamped row and writes nothing)
    for (var j = sub; j < n; j += ${4 * KPS}u) {
${range(4).map((u) => `      let j${u} = j + ${u * KPS}u;
      let key${u} = b0 + min(j${u}, n - 1u);
      let c${u} = vec4<f32>(K[key${u} * stride4 + base4 + lane]);`).join("\n")}
${range(4).map((u) => `      if (j${u} < n) { part[j${u} * ${L}u + lane] = dot(qmine, select(c${u}, k4[lane], key${u} == p.pos)); }`).join("\n")}
    }
    workgroupBarrier();
    if (lid < n) {
      var sc = 0.0;
      for (var t = 0u; t < ${L}u; t++) { sc += part[lid * ${L}u + t]; }
      scores[lid] = sc * p.scale;
    }
    workgroupBarrier();
    var bm = m;
    for (var j = 0u; j < n; j++) { bm = max(bm, scores[j]); }
    workgroupBarrier();
    if (lid < n) { scores[lid] = exp(scores[lid] - bm); }
    workgroupBarrier();
    let correction = exp(m - bm);
    var bl = 0.0;
    for (var j = 0u; j < n; j++) { bl += scores[j]; }
    l = l * correction + bl;
    acc = acc * correction;
    for (var j = sub; j < n; j += ${4 * KPS}u) {
${range(4).map((u) => `      let j${u} = j + ${u * KPS}u;
      let key${u} = b0 + min(j${u}, n - 1u);
      let c${u} = vec4<f32>(V[key${u} * stride4 + base4 + lane]);`).join("\n")}
${range(4).map((u) => `      if (j${u} < n) { acc += scores[j${u}] * select(c${u}, v4[lane], key${u} == p.pos); }`).join("\n")}
    }
    m = bm;
    workgroupBarrier(); // the next block overwrites part and scores
  }
  outs[lid] = acc;
  workgroupBarrier();
  if (mine) {
    var o = 0.0;
    for (var s = 0u; s < ${KPS}u; s++) { o += outs[s * ${L}u + d / 4u][d % 4u]; }
    O[(row * p.H + h) * ${D}u + d] = ${S}(o / l);
  }
}
`
}

/** Keys one workgroup of the split attention takes (decodeAttendSplitWgsl): a cache of P positions is split P / SPLIT_KEYS ways. */
export const SPLIT_KEYS = 32

/** Workgroups along the positions the split attention dispatches for a cache of `positions`. */
export const attendSplits = (positions: number): number => Math.max(1, Math.ceil(positions / SPLIT_KEYS))

/** Bytes of the split attention's partial results: a (split, row, head) record of D sums, the max and the sum of weights (padded to D + 4 f32). */
export const attendPartialBytes = (rows: number, H: number, D: number, positions: number): number => attendSplits(positions) * rows * H * (D + 4) * 4

/**
 * The attention as flash-decoding ("split"): where the other variants give a (row, head) one
 * workgroup that walks every cached position (16 workgroups at one row: the H100's 132 SMs idle,
 * the step bound by one workgroup's chain of loads and barriers), here each workgroup takes one
 * chunk of SPLIT_KEYS positions of a (row, head), grid [rows, H, splits], and writes its partial
 * softmax (the chunk's max m, sum of weights l and the weighted sum of values, unnormalised) to
 * Part; decodeAttendCombineWgsl then folds the chunks of each (row, head) together. Chunks past
 * pos exit at once. The prologue (q/k norm, RoPE) is the coalesced variant's, recomputed by every
 * chunk (a few hundred flops against a chunk's loads); the chunk holding pos uses the new key and
 * value from workgroup memory, and its first query head of each kv head appends them to the caches.
 * In a chunk a key's D values are read by D / 4 consecutive threads (4 values each), all the
 * chunk's keys' loads issued before any is used.
 */
export const decodeAttendSplitWgsl = (D: number, storage: DecodeStorage): string => {
  const S = storage
  const L = D / 4 // threads a key
  const KPS = 256 / L // keys a sweep
  const C = SPLIT_KEYS
  const sweeps = Math.max(1, C / KPS)
  const T = 256 / C // threads a key's score sum
  const per = L / T // partials each of them adds
  return `${S === "f16" ? "enable f16;\n" : ""}struct P { rows: u32, pos: u32, H: u32, KV: u32, scale: f32, eps: f32, theta: f32, _p0: f32 }
@group(0) @binding(0) var<storage, read> QKV: array<f32>;
@group(0) @binding(1) var<storage, read> QN: array<f32>;
@group(0) @binding(2) var<storage, read> KN: array<f32>;
@group(0) @binding(3) var<storage, read_write> K: array<vec4<${S}>>;
@group(0) @binding(4) var<storage, read_write> V: array<vec4<${S}>>;
@group(0) @binding(5) var<storage, read_write> Part: array<f32>;
@group(0) @binding(6) var<uniform> p: P;
var<workgroup> q4: array<vec4<f32>, ${L}>;
var<workgroup> k4: array<vec4<f32>, ${L}>;
var<workgroup> v4: array<vec4<f32>, ${L}>;
var<workgroup> sums: array<f32, ${2 * D}>;
var<workgroup> part: array<f32, ${C * L}>;
var<workgroup> part2: array<f32, 256>;
var<workgroup> scores: array<f32, ${C}>;
var<workgroup> outs: array<vec4<f32>, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let h = wg.y;
  let b0 = wg.z * ${C}u; // this chunk's first position
  let len = p.pos + 1u;
  if (b0 >= len) { return; } // uniform across the workgroup: nothing cached here yet
  let n = min(${C}u, len - b0);
  let group = p.H / p.KV;
  let kvh = h / group;
  let stride4 = p.rows * p.KV * ${L}u; // one position of the cache, in vec4s
  let base4 = (row * p.KV + kvh) * ${L}u;
  let sub = lid / ${L}u; // the key of a sweep this thread reads
  let lane = lid % ${L}u; // its 4 dimensions
  // the chunk's keys and values, loaded before anything else (they depend on no other value, so
  // their latency overlaps the q/k norm and RoPE); a key past the chunk reads a valid clamped row
  // and is never used; the key at pos is replaced by the new one from workgroup memory
${range(sweeps).map((u) => `  let j${u} = sub + ${u * KPS}u;
  let key${u} = b0 + min(j${u}, n - 1u);
  let c${u} = vec4<f32>(K[key${u} * stride4 + base4 + lane]);
  let e${u} = vec4<f32>(V[key${u} * stride4 + base4 + lane]);`).join("\n")}
${qkNormRopeToWorkgroup(D, S)}
  workgroupBarrier();
  if (h % group == 0u && lid < ${L}u && b0 + n == len) {
    K[p.pos * stride4 + base4 + lid] = vec4<${S}>(k4[lid]);
    V[p.pos * stride4 + base4 + lid] = vec4<${S}>(v4[lid]);
  }
  let qmine = q4[lane];
  // partial dot products of the chunk's keys
${range(sweeps).map((u) => `  if (j${u} < n) { part[j${u} * ${L}u + lane] = dot(qmine, select(c${u}, k4[lane], key${u} == p.pos)); }`).join("\n")}
  workgroupBarrier();
  // a key's ${L} partials: ${T} threads add ${per} each, then one adds their ${T}
  {
    let key = lid / ${T}u;
    var v = 0.0;
    if (key < n) { for (var t = 0u; t < ${per}u; t++) { v += part[key * ${L}u + (lid % ${T}u) * ${per}u + t]; } }
    part2[lid] = v;
  }
  workgroupBarrier();
  if (lid < n) {
    var sc = 0.0;
    for (var t = 0u; t < ${T}u; t++) { sc += part2[lid * ${T}u + t]; }
    scores[lid] = sc * p.scale;
  }
  workgroupBarrier();
  // the chunk's max: only the threads that exponentiate (lid < n ≤ ${C}) and thread 0 (which writes it) need it
  var m = -3.0e38;
  if (lid < ${C}u) { for (var j = 0u; j < n; j++) { m = max(m, scores[j]); } }
  workgroupBarrier();
  if (lid < n) { scores[lid] = exp(scores[lid] - m); }
  workgroupBarrier();
  var acc = vec4<f32>(0.0);
${range(sweeps).map((u) => `  if (j${u} < n) { acc += scores[j${u}] * select(e${u}, v4[lane], key${u} == p.pos); }`).join("\n")}
  outs[lid] = acc;
  workgroupBarrier();
  let rec = ((wg.z * p.rows + row) * p.H + h) * ${D + 4}u;
  if (mine) {
    var o = 0.0;
    for (var s = 0u; s < ${Math.min(KPS, C)}u; s++) { o += outs[s * ${L}u + d / 4u][d % 4u]; }
    Part[rec + d] = o;
  }
  if (lid == 0u) {
    var l = 0.0;
    for (var j = 0u; j < n; j++) { l += scores[j]; }
    Part[rec + ${D}u] = m;
    Part[rec + ${D + 1}u] = l;
  }
}
`
}

/**
 * The second pass of the split attention: per (row, head) one workgroup of D threads folds the
 * chunks that hold positions (⌈(pos + 1) / SPLIT_KEYS⌉ of them) into the output, each chunk's
 * sums rescaled by exp(m_chunk − m) as an online softmax does between blocks.
 */
export const decodeAttendCombineWgsl = (D: number, storage: DecodeStorage, chunkKeys = SPLIT_KEYS): string => `${storage === "f16" ? "enable f16;\n" : ""}struct P { rows: u32, pos: u32, H: u32, KV: u32, scale: f32, eps: f32, theta: f32, _p0: f32 }
@group(0) @binding(0) var<storage, read> Part: array<f32>;
@group(0) @binding(1) var<storage, read_write> O: array<${storage}>;
@group(0) @binding(2) var<uniform> p: P;
@compute @workgroup_size(${D})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x;
  let h = wg.y;
  let chunks = (p.pos + ${chunkKeys}u) / ${chunkKeys}u;
  let each = p.rows * p.H * ${D + 4}u; // one chunk's records
  let base = (row * p.H + h) * ${D + 4}u;
  var m = -3.0e38;
  for (var s = 0u; s < chunks; s++) { m = max(m, Part[s * each + base + ${D}u]); }
  var l = 0.0;
  var o = 0.0;
  for (var s = 0u; s < chunks; s++) {
    let r = s * each + base;
    let w = exp(Part[r + ${D}u] - m);
    l += w * Part[r + ${D + 1}u];
    o += w * Part[r + lid];
  }
  O[(row * p.H + h) * ${D}u + lid] = ${storage}(o / l);
}
`

export interface DecodeLayerKernels {
  readonly storage: DecodeStorage
  /** the most rows (M) its GEMVs take */
  readonly rows: number
  /**
   * C [M, n1 + 2·(n2 − n1)] = RMSNorm(A)·[B0; B1; B2]ᵀ; params: decodeGemvParams(M, N, K, n1, n2, eps).
   * `Pend` (the norm kinds, where made with tcSplit): the residual is A plus the partials a split
   * accumulate left there (f32 [tcSplit − 1, M, K])
   */
  qkv(b: { A: Binding; B0: Binding; B1: Binding; B2: Binding; C: Binding; G: Binding; params: GPUBuffer; Pend?: Binding }, N: number): Dispatch
  /** Y [M, N] = SiLU(RMSNorm(A)·B0ᵀ) · (RMSNorm(A)·B1ᵀ), in `storage`; params: decodeGemvParams(M, N, K, 0, 0, eps) */
  gateUp(b: { A: Binding; B0: Binding; B1: Binding; Y: Binding; G: Binding; params: GPUBuffer; Pend?: Binding }, N: number): Dispatch
  /**
   * C [M, N] += A·Bᵀ (A in `storage`); params: decodeGemvParams(M, N, K). Where made with tcSplit and
   * given `Part` (f32 [tcSplit − 1, M, N]): K over tcSplit workgroups, the first part's products (and
   * `Pend`'s partials, the kind before's) added onto C, the others' left pending in Part
   */
  accumulate(b: { A: Binding; B: Binding; C: Binding; params: GPUBuffer; Pend?: Binding; Part?: Binding }, N: number): Dispatch
  /** C [M, N] = RMSNorm(A)·Bᵀ (the final norm and the lm_head); params: decodeGemvParams(M, N, K, 0, 0, eps) */
  head(b: { A: Binding; B: Binding; C: Binding; G: Binding; params: GPUBuffer; Pend?: Binding }, N: number): Dispatch
  /** the parts the tensor-core accumulating GEMVs split K into where given Part (DecodeLayerOptions.tcSplit; 1: none) */
  readonly tcSplit: number
  /**
   * params: decodeAttendParams. One dispatch, or two for the split attention (the chunks, then their
   * combination), which also needs `Part` (attendPartialBytes(rows, H, D, positions)) and the
   * cache's positions. Where the combination is folded (`folds`), only the chunks: O is not
   * written, and the o projection is `oCombined`.
   */
  attend(b: { QKV: Binding; QN: Binding; KN: Binding; K: Binding; V: Binding; O: Binding; Part?: Binding; params: GPUBuffer }, rows: number, H: number, positions?: number): ReadonlyArray<Dispatch>
  /** whether the split attention's chunks are combined in oCombined's prologue (DecodeLayerOptions.foldCombine, where it fits workgroup memory) */
  readonly folds: boolean
  /** the attention `attend` runs: the one asked for, or gqa's fallback (coalesced, split) where its layout does not run here */
  readonly attendVariant: DecodeAttend
  /** C [M, N] += combine(Part)·Bᵀ: the o GEMV folding the split attention's chunks (folds only); params: decodeGemvParams(M, N, heads · D), step: the attention's (decodeAttendParams) */
  oCombined(b: { Part: Binding; B: Binding; C: Binding; params: GPUBuffer; step: GPUBuffer }, N: number): Dispatch
}

/** The GEMVs' uniform: M, N, K, the qkv boundaries n1, n2 (u32), eps (f32). */
export const decodeGemvParams = (M: number, N: number, K: number, n1 = 0, n2 = 0, eps = 0): [Array<number>, Array<number>] => [[M, N, K, n1, n2, 0, 0, 0], [eps]]

/** The attention's uniform: rows (of the caches), pos, H, KV (u32), scale, eps, theta (f32). */
export const decodeAttendParams = (rows: number, pos: number, H: number, KV: number, scale: number, eps: number, theta: number): [Array<number>, Array<number>] => [[rows, pos, H, KV], [scale, eps, theta, 0]]

/** Rows a decoder's kernels are written for: the next power of two (1 … DECODE_ROWS). */
export const decodeKernelRows = (rows: number): number => {
  if (rows < 1 || rows > DECODE_ROWS) throw new Error(`decode layer: ${rows} rows, 1 to ${DECODE_ROWS}`)
  return 2 ** Math.ceil(Math.log2(rows))
}

export type DecodeAttend = "simple" | "unrolled" | "coalesced" | "split" | "gqa" | "gqa-split"

/** Where the fused GEMVs run (DecodeLayerOptions.gemv). */
export type DecodeGemv = "cuda-cores" | "tensor-cores" | "blocked"

export interface DecodeLayerOptions {
  readonly storage?: DecodeStorage
  /** the most rows the dispatches will have (default DECODE_ROWS) */
  readonly rows?: number
  /** the attention kernel: decodeAttendWgsl ("simple"), decodeAttendUnrolledWgsl, decodeAttendCoalescedWgsl (default), decodeAttendSplitWgsl + decodeAttendCombineWgsl ("split"), decodeAttendGqaWgsl ("gqa", decode-attend-gqa.ts: coalesced where the device has no fixed subgroup width) or its flash-decoding form + decodeAttendCombineWgsl ("gqa-split": else split) */
  readonly attend?: DecodeAttend
  /** query heads a kv head (H / KV): the gqa attention is written for it (needed with attend "gqa" or "gqa-split") */
  readonly queryGroup?: number
  /** the gqa attention's subgroups a workgroup and keys a team takes a sweep (GqaAttendSpec.warps, .keys; defaults: gqaSpec) */
  readonly gqa?: GqaLayout
  /**
   * each GEMV kind's layout: a GemvShape runs that kind on decodeGemvWgsl (default DEFAULT_GEMV_SHAPE);
   * a BlockedGemvShape runs it blocked where `gemv` is "blocked" (a kind with no layout there:
   * DEFAULT_BLOCKED_SHAPE), so the tuner's per-kind choice between the two families is the layout itself
   */
  readonly shapes?: Partial<Record<GemvKind, GemvShape | BlockedGemvShape | TcGemvShape>>
  /**
   * "tensor-cores": the GEMVs as subgroup-matrix products (decode-gemv-tc.ts; 16-row kernels, N a
   * multiple of 16, K of tcGemvKStep(unroll)); "blocked": decode-gemv-blocked.ts where the kernels
   * are written for 8 or 16 rows (fewer rows keep decodeGemvWgsl; K a multiple of 8); default
   * "cuda-cores" (decodeGemvWgsl)
   */
  readonly gemv?: DecodeGemv
  /** rewrites the tensor-core GEMVs' WGSL before it compiles (tests: emulated fragments on SwiftShader) */
  readonly emulate?: (wgsl: string) => string
  /** true: up to 4 rows, the CUDA-core GEMVs with one warp a column sum by subgroupAdd on 32-lane subgroups (default FLEUVE_DECODER_SUBGROUPS=1) */
  readonly subgroupReduce?: boolean
  /** the tensor-core GEMVs' steps of K run ahead (default tcGemvUnroll(storage)); every K a multiple of tcGemvKStep(it) */
  readonly tcUnroll?: number
  /** true: the tensor-core GEMVs issue each step's loads before the previous step's products (DecodeGemvTcSpec.prefetch; opt-in until timed on a card) */
  readonly tcPrefetch?: boolean
  /**
   * the tensor-core accumulating GEMVs (o, down) walk K in this many workgroups where given a Part
   * buffer, and the norm kinds read the partials they leave pending (DecodeGemvTcSpec.split,
   * .pending): a GEMV of N = 1024 is then 64 · tcSplit workgroups, not 64 on 132 SMs. Opt-in
   * (session 19) until timed on a card; every accumulating K a multiple of tcGemvKStep(unroll, warps, tcSplit)
   */
  readonly tcSplit?: number
  /**
   * the split attention of `heads` query heads: its chunks combined in the o GEMV's prologue
   * (oCombined) instead of a dispatch of their own, where the combined activations (rows × heads ×
   * D in `storage`) fit the workgroup memory beside the GEMV's own; the CUDA-core GEMVs only
   */
  readonly foldCombine?: { readonly heads: number }
}

/** The gqa attention's layout: subgroups a workgroup, keys a team of lanes takes a sweep (decode-attend-gqa.ts). */
export interface GqaLayout {
  readonly warps?: number
  readonly keys?: number
}

/** "<warps>x<keys>" (FLEUVE_DECODER_GQA, the benches' sets: "32x8"), or undefined where absent or not of that form. */
export const parseGqaLayout = (text: string | undefined): GqaLayout | undefined => {
  const m = /^([1-9][0-9]*)x([1-9][0-9]*)$/.exec(text ?? "")
  return m ? { warps: Number(m[1]), keys: Number(m[2]) } : undefined
}

/**
 * The gqa attention's spec on this device, or undefined (said on stderr) where it cannot run there.
 * Whole: GQA_WARPS subgroups a workgroup unless the layout says. Split: 4 subgroups a workgroup
 * unless it says (a chunk of 128 keys on 32 lanes at 32 keys a team), and always enough for a chunk
 * of at least SPLIT_KEYS keys, so that the split attention's partial buffer (attendPartialBytes)
 * holds them.
 */
const gqaSpec = (gpu: Gpu, D: number, storage: DecodeStorage, group: number | undefined, split: boolean, layout: GqaLayout = {}): GqaAttendSpec | undefined => {
  const got = gqaSpecOrWhy(gpu, D, storage, group, split, layout)
  if ("spec" in got) return got.spec
  process.stderr.write(`decode layer: the gqa attention ${got.why}; the ${split ? "split" : "coalesced"} attention instead\n`)
  return undefined
}

/** Whether the gqa attention (whole or `split`) of `layout` runs on this device as written, without a word on stderr (the attention probe's filter: decode-attend-choice.ts). */
export const gqaRunsHere = (gpu: Gpu, D: number, storage: DecodeStorage, group: number, split: boolean, layout: GqaLayout = {}): boolean => "spec" in gqaSpecOrWhy(gpu, D, storage, group, split, layout)

const gqaSpecOrWhy = (gpu: Gpu, D: number, storage: DecodeStorage, group: number | undefined, split: boolean, layout: GqaLayout): { readonly spec: GqaAttendSpec } | { readonly why: string } => {
  if (group === undefined || !Number.isInteger(group) || group < 1) throw new Error("decode layer: the gqa attention needs queryGroup (H / KV)")
  const width = gqaSubgroupWidth(gpu, D)
  const keys = layout.keys === undefined ? {} : { keys: layout.keys }
  const base = width === undefined ? undefined : { D, storage, group, width, ...keys }
  const spec = base && (split ? { ...base, split, warps: Math.max(layout.warps ?? 4, Math.ceil(SPLIT_KEYS / gqaChunkKeys({ ...base, warps: 1 }))) } : { ...base, warps: layout.warps ?? GQA_WARPS })
  const threads = spec ? spec.warps * spec.width : 0
  const maxThreads = maxWorkgroupThreads(gpu)
  // a team's keys: a power of two up to its lanes (gqaKeysFit), else the layout is refused here, not by the generator
  const keysFit = spec === undefined || gqaKeysFit(spec)
  const warpsFit = spec === undefined || (Number.isInteger(spec.warps) && spec.warps >= 1)
  const fits = spec !== undefined && keysFit && warpsFit && gqaSharedBytes(spec) <= gpu.device.limits.maxComputeWorkgroupStorageSize && threads <= maxThreads
  if (fits) return { spec }
  const why = !spec
    ? `needs subgroups of one width whose team divides head_dim ${D} / 4 (decode-attend-gqa.ts)`
    : !keysFit
    ? `takes a power of two up to ${gqaTeamLanes(spec)} keys a team here, not ${layout.keys}`
    : !warpsFit
    ? `takes a whole number of subgroups a workgroup, not ${layout.warps}`
    : `needs ${gqaSharedBytes(spec)} bytes of workgroup memory and ${threads} threads a workgroup (${maxThreads} here)`
  return { why }
}

/** 16-value steps of K the tensor-core GEMVs' loads run ahead: 4 in f16, 1 in f32 (emulated: SwiftShader's 32 KB of workgroup memory). */
export const tcGemvUnroll = (storage: DecodeStorage): number => (storage === "f16" ? 4 : 1)

/** A kind's layout in `options`: its own, or (the o GEMV folding the split attention's chunks) the accumulating kind's. */
const kindLayout = (options: DecodeLayerOptions, k: GemvKind) => options.shapes?.[k] ?? (k === "oCombined" ? options.shapes?.accumulate : undefined)

/**
 * A tensor-core kind's depth, prefetch and warps under `options`: its own layout where tuned or
 * named (the o GEMV folding the chunks: the accumulating kind's), else tcUnroll and tcPrefetch.
 */
export const tcKindShape = (options: DecodeLayerOptions, k: GemvKind): TcGemvShape => {
  const s = kindLayout(options, k)
  return s !== undefined && isTcShape(s) ? s : { unroll: options.tcUnroll ?? tcGemvUnroll(options.storage ?? "f16"), prefetch: options.tcPrefetch === true }
}

export const decodeLayerKernels = async (gpu: Gpu, D: number, options: DecodeLayerOptions = {}): Promise<DecodeLayerKernels> => {
  const storage = options.storage ?? "f16"
  const R = decodeKernelRows(options.rows ?? DECODE_ROWS)
  if (storage === "f16" && !gpu.hasF16) throw new Error("decode layer: this adapter has no shader-f16")
  const shared = Math.max(256 * R, 256 + R) * 4
  if (gpu.device.limits.maxComputeWorkgroupStorageSize < shared) throw new Error(`decode layer: needs ${shared} bytes of workgroup memory`)
  if (D % 2 !== 0 || D > gpu.device.limits.maxComputeInvocationsPerWorkgroup) throw new Error(`decode layer: head_dim ${D} must be even and at most the workgroup size limit`)
  const tc = options.gemv === "tensor-cores"
  if (tc && R > TC_COLUMNS) throw new Error(`decode layer: the tensor-core GEMVs take at most ${TC_COLUMNS} rows`)
  const layout = (k: GemvKind) => kindLayout(options, k)
  const shape = (k: GemvKind): GemvShape => {
    const s = layout(k)
    return s === undefined || isBlockedShape(s) || isTcShape(s) ? DEFAULT_GEMV_SHAPE : s
  }
  const tcShape = (k: GemvKind): TcGemvShape => tcKindShape(options, k)
  const tcKinds = (["qkv", "gateUp", "accumulate", "head"] as const).map(tcShape)
  const tcShared = Math.max(...tcKinds.map((c) => tcGemvSharedBytes(storage, c.unroll, c.warps)))
  if (tc && gpu.device.limits.maxComputeWorkgroupStorageSize < tcShared) throw new Error(`decode layer: the tensor-core GEMVs need ${tcShared} bytes of workgroup memory`)
  const tcThreads = Math.max(...tcKinds.map((c) => 32 * (c.warps ?? TC_WARPS)))
  if (tc && tcThreads > maxWorkgroupThreads(gpu)) throw new Error(`decode layer: the tensor-core GEMVs need workgroups of ${tcThreads} threads (${maxWorkgroupThreads(gpu)} here)`)
  // a column group's sums by subgroupAdd where it is one warp of a 32-lane subgroup, up to 4 rows
  // (more rows: more adds than the workgroup-memory reduction's reads). Opt-in (subgroupReduce: true
  // or FLEUVE_DECODER_SUBGROUPS=1) until it has passed its tests on a card: SwiftShader's subgroups
  // are 4 wide, so CI never runs it
  const sgReduce = (k: GemvKind) =>
    (options.subgroupReduce ?? process.env.FLEUVE_DECODER_SUBGROUPS === "1") && R <= 4 && shape(k).slices === 1 && gpu.device.features.has("subgroups") && subgroupsOf32(gpu)
  // the blocked GEMVs at 8 or 16 rows where asked (the o GEMV folding the chunks keeps decodeGemvWgsl: it folds at ≤ 4 rows)
  const blocked = options.gemv === "blocked" && BLOCKED_ROWS.includes(R)
  if (blocked && gpu.device.limits.maxComputeWorkgroupStorageSize < blockedSharedBytes(R)) throw new Error(`decode layer: the blocked GEMVs need ${blockedSharedBytes(R)} bytes of workgroup memory`)
  const blockedShape = (k: GemvKind): BlockedGemvShape => {
    const s = layout(k)
    return s !== undefined && isBlockedShape(s) ? s : DEFAULT_BLOCKED_SHAPE
  }
  const isBlocked = (k: GemvKind) => blocked && k !== "oCombined" && (layout(k) === undefined || isBlockedShape(layout(k)!))
  const perGroup = (k: GemvKind) => (tc ? TC_COLUMNS : isBlocked(k) ? blockedColumnsPerGroup(blockedShape(k)) : gemvColumnsPerGroup(shape(k)))
  const make = (spec: Omit<DecodeGemvSpec, "storage" | "rows" | "shape"> & { readonly split?: number; readonly pending?: number }, k: GemvKind) =>
    isBlocked(k)
      ? pipeline(gpu.device, decodeGemvBlockedWgsl({ storage, rows: R, shape: blockedShape(k), norm: spec.norm, weights: spec.weights, out: spec.out }), `decode-${k}-${storage}-r${R}-blocked-c${blockedShape(k).columns}-w${blockedShape(k).warpColumns}-u${blockedShape(k).unroll}`)
      : tc
      ? pipeline(gpu.device, (options.emulate ?? ((w: string) => w))(decodeGemvTcWgsl({ storage, ...tcShape(k), ...spec })), `decode-${k}-${storage}-tc-u${tcShape(k).unroll}${tcShape(k).prefetch ? "-p" : ""}${tcShape(k).warps ? `-w${tcShape(k).warps}` : ""}${spec.split ? `-s${spec.split}` : ""}${spec.pending ? `-q${spec.pending}` : ""}`)
      : pipeline(gpu.device, decodeGemvWgsl({ storage, rows: R, shape: shape(k), subgroupReduce: sgReduce(k), ...spec }), `decode-${k}${spec.combine ? "-fold" : ""}-${storage}-r${R}-c${shape(k).columns}-s${shape(k).slices}${sgReduce(k) ? "-sg" : ""}`)
  // one after the other: pipeline() serialises compilations on a device anyway
  const qkv = await make({ norm: true, weights: "qkv", out: "store" }, "qkv")
  const gateUp = await make({ norm: true, weights: "gate-up", out: "store" }, "gateUp")
  const acc = await make({ norm: false, weights: "one", out: "accumulate" }, "accumulate")
  const head = await make({ norm: true, weights: "one", out: "store" }, "head")
  // K split: the accumulating kind in two forms (the step's first, nothing pending yet; the others,
  // folding the kind before's partials) and the norm kinds reading the residual's pending partials
  const split = tc ? options.tcSplit ?? 1 : 1
  if (!Number.isInteger(split) || split < 1) throw new Error(`decode layer: tcSplit ${options.tcSplit}: a whole number of parts`)
  if (options.tcSplit !== undefined && options.tcSplit > 1 && !tc) throw new Error("decode layer: tcSplit splits the tensor-core GEMVs only (gemv: \"tensor-cores\")")
  const pendingForms = split > 1
    ? {
      accFirst: await make({ norm: false, weights: "one", out: "accumulate", split }, "accumulate"),
      accFold: await make({ norm: false, weights: "one", out: "accumulate", split, pending: split - 1 }, "accumulate"),
      qkv: await make({ norm: true, weights: "qkv", out: "store", pending: split - 1 }, "qkv"),
      gateUp: await make({ norm: true, weights: "gate-up", out: "store", pending: split - 1 }, "gateUp"),
      head: await make({ norm: true, weights: "one", out: "store", pending: split - 1 }, "head")
    }
    : undefined
  const pendingForm = <K extends keyof NonNullable<typeof pendingForms>>(kind: K): GPUComputePipeline => {
    if (!pendingForms) throw new Error("decode layer: pending partials (Pend, Part) need kernels made with tcSplit > 1")
    return pendingForms[kind]
  }
  // gqa needs subgroups of one width and its workgroup memory; else the coalesced kernel, said on stderr
  const asked = options.attend ?? "coalesced"
  const gqa = asked === "gqa" || asked === "gqa-split" ? gqaSpec(gpu, D, storage, options.queryGroup, asked === "gqa-split", options.gqa) : undefined
  const plain = asked === "gqa" ? "coalesced" : asked === "gqa-split" ? "split" : asked // the other variants' kernel (gqa's fallback)
  const variant: DecodeAttend = gqa ? asked : plain
  if (variant !== "simple" && D % 4 !== 0) throw new Error(`decode layer: the ${variant} attention needs head_dim a multiple of 4, not ${D}`)
  if (variant === "coalesced" && (128 % D !== 0 || D < 4)) throw new Error(`decode layer: the coalesced attention needs head_dim dividing 128, not ${D}`)
  if (variant === "split" && (D % 32 !== 0 || D > 256)) throw new Error(`decode layer: the split attention needs head_dim a multiple of 32 up to 256, not ${D}`)
  const source = gqa ? decodeAttendGqaWgsl(gqa) : { simple: decodeAttendWgsl, unrolled: decodeAttendUnrolledWgsl, coalesced: decodeAttendCoalescedWgsl, split: decodeAttendSplitWgsl }[plain](D, storage)
  const attend = await pipeline(gpu.device, source, `decode-attend-${variant}-${storage}${gqa ? `-g${gqa.group}-w${gqa.width}-n${gqa.warps}-k${gqa.keys ?? "t"}` : ""}`)
  // the chunks' combination: of SPLIT_KEYS keys (split) or of a gqa workgroup's sweep (gqa-split)
  const chunkKeys = gqa?.split ? gqaChunkKeys(gqa) : SPLIT_KEYS
  const combine = variant === "split" || variant === "gqa-split" ? await pipeline(gpu.device, decodeAttendCombineWgsl(D, storage, chunkKeys), `decode-attend-combine-${storage}-c${chunkKeys}`) : undefined
  // the combination folded into the o GEMV where asked and its workgroup memory fits (the combined
  // activations, plus the reduction's unless the sums are subgroupAdds)
  const foldHeads = options.foldCombine?.heads
  const foldBytes = foldHeads === undefined ? Infinity : R * foldHeads * D * (storage === "f16" ? 2 : 4) + (sgReduce("oCombined") ? 0 : shared)
  const folds = variant === "split" && !tc && foldBytes <= gpu.device.limits.maxComputeWorkgroupStorageSize // the o GEMV's prologue reads SPLIT_KEYS chunks
  const oCombined = folds ? await make({ norm: false, weights: "one", out: "accumulate", combine: { heads: foldHeads!, headDim: D } }, "oCombined") : undefined
  const groups = (N: number, k: GemvKind) => {
    if (tc && N % TC_COLUMNS !== 0) throw new Error(`decode ${k}: ${N} columns, not a multiple of ${TC_COLUMNS} (tensor-core GEMVs)`)
    return grid(Math.ceil(N / perGroup(k)))
  }
  const rowsOk = (M: number) => {
    if (M > R) throw new Error(`decode layer: ${M} rows, the kernels were written for ${R}`)
  }
  return {
    storage,
    rows: R,
    qkv: (b, N) => {
      // the three weights' boundaries must be multiples of a workgroup's columns (the engine's widths are multiples of 128)
      const per = perGroup("qkv")
      if (N % per !== 0) throw new Error(`decode qkv: ${N} columns, not a multiple of ${per}`)
      return b.Pend
        ? { pipeline: pendingForm("qkv"), buffers: [b.A, b.B0, b.B1, b.B2, b.C, b.params, b.G, b.Pend], groups: groups(N, "qkv") }
        : { pipeline: qkv, buffers: [b.A, b.B0, b.B1, b.B2, b.C, b.params, b.G], groups: groups(N, "qkv") }
    },
    gateUp: (b, N) => b.Pend
      ? { pipeline: pendingForm("gateUp"), buffers: [b.A, b.B0, b.B1, b.Y, b.params, b.G, b.Pend], groups: groups(N, "gateUp") }
      : { pipeline: gateUp, buffers: [b.A, b.B0, b.B1, b.Y, b.params, b.G], groups: groups(N, "gateUp") },
    accumulate: (b, N) => {
      if (!b.Part) {
        if (b.Pend) throw new Error("decode layer: an accumulating GEMV folds pending partials only as a split one (Part)")
        return { pipeline: acc, buffers: [b.A, b.B, b.C, b.params], groups: groups(N, "accumulate") }
      }
      const [x, y] = groups(N, "accumulate")
      return b.Pend
        ? { pipeline: pendingForm("accFold"), buffers: [b.A, b.B, b.C, b.params, b.Pend, b.Part], groups: [x, y ?? 1, split] }
        : { pipeline: pendingForm("accFirst"), buffers: [b.A, b.B, b.C, b.params, b.Part], groups: [x, y ?? 1, split] }
    },
    tcSplit: split,
    folds,
    attendVariant: variant,
    oCombined: (b, N) => {
      if (!oCombined) throw new Error("decode layer: the o GEMV folds the split attention's chunks only where the kernels were made with foldCombine and it fits")
      return { pipeline: oCombined, buffers: [b.Part, b.B, b.C, b.params, b.step], groups: groups(N, "oCombined") }
    },
    head: (b, N) => b.Pend
      ? { pipeline: pendingForm("head"), buffers: [b.A, b.B, b.C, b.params, b.G, b.Pend], groups: groups(N, "head") }
      : { pipeline: head, buffers: [b.A, b.B, b.C, b.params, b.G], groups: groups(N, "head") },
    attend: (b, rows, H, positions) => {
      rowsOk(rows)
      if (gqa && H % gqa.group !== 0) throw new Error(`decode layer: the gqa attention was written for ${gqa.group} query heads a kv head; ${H} heads`)
      const across = gqa ? H / gqa.group : H // a workgroup a (row, kv head), or a (row, head)
      if (!combine) return [{ pipeline: attend, buffers: [b.QKV, b.QN, b.KN, b.K, b.V, b.O, b.params], groups: [rows, across] }]
      if (!b.Part || positions === undefined) throw new Error("decode layer: the split attention needs its partial buffer and the cache's positions")
      const chunks: Dispatch = { pipeline: attend, buffers: [b.QKV, b.QN, b.KN, b.K, b.V, b.Part, b.params], groups: [rows, across, Math.max(1, Math.ceil(positions / chunkKeys))] }
      return folds ? [chunks] : [chunks, { pipeline: combine, buffers: [b.Part, b.O, b.params], groups: [rows, H] }]
    }
  }
}
