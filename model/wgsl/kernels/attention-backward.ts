import { pipeline, storageBuffer, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { range } from "./codegen.ts"
import { grid } from "./fused.ts"

/**
 * Backward of the causal GQA attention (fused.ts attentionWgsl, attention-tc.ts), FlashAttention-2
 * style: no S×T matrix in memory, P recomputed from the forward's LSE (P = exp(scale·q·k − LSE)).
 * Q [B,S,H,D], K/V [B,T,KV,D] and O in `inputType`; dO f32 [B,S,H,D], LSE f32 [B,S,H]; dQ f32
 * [B,S,H,D], dK/dV f32 [B,T,KV,D] (written, not accumulated). Three dispatches:
 *  1. Dlt[b,s,h] = Σ_d dO·O (f32 [B,S,H]), eight rows a workgroup of 256;
 *  2. dK/dV: a workgroup per (b, kv head, 32 keys), looping over the H/KV query heads of the kv
 *     head and the query chunks that see those keys;
 *  3. dQ: a workgroup per (b, head, 32 queries), looping over the keys they see.
 * All math f32, CUDA-core (no tensor cores).
 *
 * Thread layout of kernels 2 and 3: 256 threads = 32 rows (keys, resp. queries) × 8 slices of the
 * head dimension; a thread owns the vec4 columns slice + 8·i of its row (consecutive threads:
 * consecutive vec4s, so reads of workgroup memory are conflict-free and global reads coalesce).
 * The row's K and V slices (kernel 2) or Q and dO slices (kernel 3) stay in registers with the
 * gradient accumulators, so only the chunk of the other side (8 rows) goes through workgroup
 * memory: 27 KB at D = 128, under SwiftShader's 32 KB limit (fused.ts's forward takes 37 KB on the H100). Each step: every
 * thread takes its slice's partial dot products (scores and dP) against the chunk's 8 rows, the
 * partials meet in workgroup memory, one thread per (query, key) pair sums them and takes the
 * pair's single exp, then every thread accumulates its slice of dK/dV (resp. dQ). Reductions go
 * through workgroup memory, never subgroups (their width varies: SwiftShader's is not 32).
 * Not yet measured on a GPU; per (query, key, head) pair it does 4·D FMAs (dK/dV) + 3·D (dQ).
 */

const ROWS = 32 // keys (dK/dV) or queries (dQ) a workgroup owns
const SLICES = 8 // threads sharing a row's head dimension
const CHUNK = 8 // queries (dK/dV) or keys (dQ) a loop step brings into workgroup memory
const PSTRIDE = CHUNK * ROWS + 4 // a slice's partials; +4: the 8 slices × 4 rows of a warp's writes hit distinct banks

export type AttentionInputType = "f32" | "f16"

const header = (inputType: AttentionInputType) => `${inputType === "f16" ? "enable f16;\n" : ""}struct P { B: u32, S: u32, T: u32, H: u32, KV: u32, _p0: u32, _p1: u32, _p2: u32, scale: f32 }`

/** Dlt[row] = Σ_d dO·O over rows = B·S·H. */
export const attentionBackwardDeltaWgsl = (D: number, inputType: AttentionInputType): string => `${header(inputType)}
@group(0) @binding(0) var<storage, read> dO: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> O: array<vec4<${inputType}>>;
@group(0) @binding(2) var<storage, read_write> Dlt: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> partials: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rows = p.B * p.S * p.H;
  let wanted = (wg.x + wg.y * 65535u) * 8u + lid / 32u;
  let lane = lid % 32u;
  let row = min(wanted, rows - 1u); // no early return: every thread reaches the barrier
  var acc = 0.0;
  for (var i = lane; i < ${D / 4}u; i += 32u) { acc += dot(dO[row * ${D / 4}u + i], vec4<f32>(O[row * ${D / 4}u + i])); }
  partials[lid] = acc;
  workgroupBarrier();
  if (lane == 0u && wanted < rows) {
    var total = 0.0;
    for (var k = 0u; k < 32u; k++) { total += partials[lid + k]; }
    Dlt[row] = total;
  }
}
`

const gradBindings = (inputType: AttentionInputType, outputs: string) => `${header(inputType)}
@group(0) @binding(0) var<storage, read> Q: array<vec4<${inputType}>>;
@group(0) @binding(1) var<storage, read> K: array<vec4<${inputType}>>;
@group(0) @binding(2) var<storage, read> V: array<vec4<${inputType}>>;
@group(0) @binding(3) var<storage, read> dO: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> LSE: array<f32>;
@group(0) @binding(5) var<storage, read> Dlt: array<f32>;
${outputs}
var<workgroup> Sp: array<f32, ${SLICES * PSTRIDE}>; // partial scores [slice][chunk row][own row]
var<workgroup> Dp: array<f32, ${SLICES * PSTRIDE}>; // partial dP, same layout`

/** Sums the 8 slices' partials of pair (c, r) (chunk row c, own row r). */
const sumPartials = (c: string, r: string) => `    var s = 0.0;
    var dp = 0.0;
    for (var sl = 0u; sl < ${SLICES}u; sl++) {
      s += Sp[sl * ${PSTRIDE}u + ${c} * ${ROWS}u + ${r}];
      dp += Dp[sl * ${PSTRIDE}u + ${c} * ${ROWS}u + ${r}];
    }`

/**
 * Tuning: rows (keys, resp. queries) a thread owns. 2 halves the workgroup to 128 threads and
 * feeds every vec4 read of workgroup memory into twice the FMAs, at twice the registers
 * (K/V or Q/dO slices and accumulators: 64 floats a thread at D = 128, 128 at 2 rows).
 */
export interface AttentionBackwardVariant {
  readonly rowsPerThread: 1 | 2
}
export const DEFAULT_ATTENTION_BACKWARD: AttentionBackwardVariant = { rowsPerThread: 1 }

/** dK, dV: workgroup (key block, b·KV + kv head). */
export const attentionBackwardKvWgsl = (D: number, inputType: AttentionInputType, variant: AttentionBackwardVariant = DEFAULT_ATTENTION_BACKWARD): string => {
  const D4 = D / 4
  const per = D4 / SLICES
  const R = variant.rowsPerThread
  const threads = (ROWS * SLICES) / R
  const js = range(R)
  const is = range(per)
  return `${gradBindings(inputType, `@group(0) @binding(6) var<storage, read_write> dK: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dV: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> p: P;`)}
var<workgroup> Qs: array<vec4<f32>, ${CHUNK * D4}>;
var<workgroup> dOs: array<vec4<f32>, ${CHUNK * D4}>;
var<workgroup> Ls: array<f32, ${CHUNK}>;
var<workgroup> Ds: array<f32, ${CHUNK}>;
var<workgroup> Ps: array<f32, ${CHUNK * ROWS}>; // P [query][key]
var<workgroup> dSs: array<f32, ${CHUNK * ROWS}>; // dS [query][key]

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.y / p.KV;
  let kvh = wg.y % p.KV;
  let k0 = wg.x * ${ROWS}u; // block 0 is seen by every query: the heaviest blocks start first
  let slice = lid % ${SLICES}u;
${js.map((j) => `  let row${j} = lid / ${SLICES}u + ${j * (ROWS / R)}u;
  let keyOk${j} = k0 + row${j} < p.T;
  let kvAt${j} = ((b * p.T + min(k0 + row${j}, p.T - 1u)) * p.KV + kvh) * ${D4}u + slice;
${is.map((i) => `  let kr${j}_${i} = select(vec4<f32>(0.0), vec4<f32>(K[kvAt${j} + ${i * SLICES}u]), keyOk${j});
  let vr${j}_${i} = select(vec4<f32>(0.0), vec4<f32>(V[kvAt${j} + ${i * SLICES}u]), keyOk${j});
  var dk${j}_${i} = vec4<f32>(0.0);
  var dv${j}_${i} = vec4<f32>(0.0);`).join("\n")}`).join("\n")}
  let past = p.T - p.S;
  let G = p.H / p.KV;
  // queries s see key k0 once past + s >= k0
  let sFirst = select(0u, k0 - past, k0 > past);
  for (var g = 0u; g < G; g++) {
    let h = kvh * G + g;
    for (var s0 = (sFirst / ${CHUNK}u) * ${CHUNK}u; s0 < p.S; s0 += ${CHUNK}u) {
      workgroupBarrier();
      for (var i = lid; i < ${CHUNK * D4}u; i += ${threads}u) {
        let at = ((b * p.S + min(s0 + i / ${D4}u, p.S - 1u)) * p.H + h) * ${D4}u + i % ${D4}u;
        Qs[i] = vec4<f32>(Q[at]);
        dOs[i] = dO[at];
      }
      if (lid < ${CHUNK}u) {
        let r = (b * p.S + min(s0 + lid, p.S - 1u)) * p.H + h;
        Ls[lid] = LSE[r];
        Ds[lid] = Dlt[r];
      }
      workgroupBarrier();
      for (var c = 0u; c < ${CHUNK}u; c++) {
${js.map((j) => `        var sv${j} = vec4<f32>(0.0);
        var dpv${j} = vec4<f32>(0.0);`).join("\n")}
${is.map((i) => `        {
          let qv = Qs[c * ${D4}u + slice + ${i * SLICES}u];
          let ov = dOs[c * ${D4}u + slice + ${i * SLICES}u];
${js.map((j) => `          sv${j} = fma(qv, kr${j}_${i}, sv${j});
          dpv${j} = fma(ov, vr${j}_${i}, dpv${j});`).join("\n")}
        }`).join("\n")}
${js.map((j) => `        Sp[slice * ${PSTRIDE}u + c * ${ROWS}u + row${j}] = sv${j}.x + sv${j}.y + sv${j}.z + sv${j}.w;
        Dp[slice * ${PSTRIDE}u + c * ${ROWS}u + row${j}] = dpv${j}.x + dpv${j}.y + dpv${j}.z + dpv${j}.w;`).join("\n")}
      }
      workgroupBarrier();
      for (var pair = lid; pair < ${CHUNK * ROWS}u; pair += ${threads}u) {
        let rq = pair / ${ROWS}u; // (query, key) of the chunk
        let rk = pair % ${ROWS}u;
${sumPartials("rq", "rk")}
        let qs = s0 + rq;
        let kk = k0 + rk;
        let ok = qs < p.S && kk < p.T && kk <= past + qs;
        let pr = select(0.0, exp(s * p.scale - Ls[rq]), ok);
        Ps[pair] = pr;
        dSs[pair] = pr * (dp - Ds[rq]);
      }
      workgroupBarrier();
      for (var c = 0u; c < ${CHUNK}u; c++) {
${js.map((j) => `        let pr${j} = vec4<f32>(Ps[c * ${ROWS}u + row${j}]);
        let ds${j} = vec4<f32>(dSs[c * ${ROWS}u + row${j}]);`).join("\n")}
${is.map((i) => `        {
          let qv = Qs[c * ${D4}u + slice + ${i * SLICES}u];
          let ov = dOs[c * ${D4}u + slice + ${i * SLICES}u];
${js.map((j) => `          dv${j}_${i} = fma(pr${j}, ov, dv${j}_${i});
          dk${j}_${i} = fma(ds${j}, qv, dk${j}_${i});`).join("\n")}
        }`).join("\n")}
      }
    }
  }
${js.map((j) => `  if (keyOk${j}) {
${is.map((i) => `    dK[kvAt${j} + ${i * SLICES}u] = dk${j}_${i} * p.scale;
    dV[kvAt${j} + ${i * SLICES}u] = dv${j}_${i};`).join("\n")}
  }`).join("\n")}
}
`
}

/** dQ: workgroup (query block, b·H + head). */
export const attentionBackwardQWgsl = (D: number, inputType: AttentionInputType, variant: AttentionBackwardVariant = DEFAULT_ATTENTION_BACKWARD): string => {
  const D4 = D / 4
  const per = D4 / SLICES
  const R = variant.rowsPerThread
  const threads = (ROWS * SLICES) / R
  const js = range(R)
  const is = range(per)
  return `${gradBindings(inputType, `@group(0) @binding(6) var<storage, read_write> dQ: array<vec4<f32>>;
@group(0) @binding(7) var<uniform> p: P;`)}
var<workgroup> Ks: array<vec4<f32>, ${CHUNK * D4}>;
var<workgroup> Vs: array<vec4<f32>, ${CHUNK * D4}>;
var<workgroup> Ls: array<f32, ${ROWS}>;
var<workgroup> Ds: array<f32, ${ROWS}>;
var<workgroup> dSs: array<f32, ${CHUNK * ROWS}>; // dS [key][query]

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let b = wg.y / p.H;
  let h = wg.y % p.H;
  let kvh = h / (p.H / p.KV);
  let blocks = (p.S + ${ROWS - 1}u) / ${ROWS}u;
  let s0 = (blocks - 1u - wg.x) * ${ROWS}u; // the last queries see the most keys: they start first
  let slice = lid % ${SLICES}u;
${js.map((j) => `  let row${j} = lid / ${SLICES}u + ${j * (ROWS / R)}u;
  let qAt${j} = ((b * p.S + min(s0 + row${j}, p.S - 1u)) * p.H + h) * ${D4}u + slice;
${is.map((i) => `  let qr${j}_${i} = vec4<f32>(Q[qAt${j} + ${i * SLICES}u]);
  let or${j}_${i} = dO[qAt${j} + ${i * SLICES}u];
  var dq${j}_${i} = vec4<f32>(0.0);`).join("\n")}`).join("\n")}
  if (lid < ${ROWS}u) {
    let r = (b * p.S + min(s0 + lid, p.S - 1u)) * p.H + h;
    Ls[lid] = LSE[r];
    Ds[lid] = Dlt[r];
  }
  let past = p.T - p.S;
  let last = min(p.T, past + s0 + ${ROWS}u); // keys any query of this block sees
  for (var c0 = 0u; c0 < last; c0 += ${CHUNK}u) {
    workgroupBarrier();
    for (var i = lid; i < ${CHUNK * D4}u; i += ${threads}u) {
      let kk = c0 + i / ${D4}u;
      let at = ((b * p.T + min(kk, p.T - 1u)) * p.KV + kvh) * ${D4}u + i % ${D4}u;
      Ks[i] = select(vec4<f32>(0.0), vec4<f32>(K[at]), kk < p.T);
      Vs[i] = select(vec4<f32>(0.0), vec4<f32>(V[at]), kk < p.T);
    }
    workgroupBarrier();
    for (var c = 0u; c < ${CHUNK}u; c++) {
${js.map((j) => `      var sv${j} = vec4<f32>(0.0);
      var dpv${j} = vec4<f32>(0.0);`).join("\n")}
${is.map((i) => `      {
        let kv = Ks[c * ${D4}u + slice + ${i * SLICES}u];
        let vv = Vs[c * ${D4}u + slice + ${i * SLICES}u];
${js.map((j) => `        sv${j} = fma(kv, qr${j}_${i}, sv${j});
        dpv${j} = fma(vv, or${j}_${i}, dpv${j});`).join("\n")}
      }`).join("\n")}
${js.map((j) => `      Sp[slice * ${PSTRIDE}u + c * ${ROWS}u + row${j}] = sv${j}.x + sv${j}.y + sv${j}.z + sv${j}.w;
      Dp[slice * ${PSTRIDE}u + c * ${ROWS}u + row${j}] = dpv${j}.x + dpv${j}.y + dpv${j}.z + dpv${j}.w;`).join("\n")}
    }
    workgroupBarrier();
    for (var pair = lid; pair < ${CHUNK * ROWS}u; pair += ${threads}u) {
      let rk = pair / ${ROWS}u; // (key, query) of the chunk
      let rq = pair % ${ROWS}u;
${sumPartials("rk", "rq")}
      let qq = s0 + rq;
      let kk = c0 + rk;
      let ok = qq < p.S && kk < p.T && kk <= past + qq;
      let pr = select(0.0, exp(s * p.scale - Ls[rq]), ok);
      dSs[pair] = pr * (dp - Ds[rq]);
    }
    workgroupBarrier();
    for (var c = 0u; c < ${CHUNK}u; c++) {
${js.map((j) => `      let ds${j} = vec4<f32>(dSs[c * ${ROWS}u + row${j}]);`).join("\n")}
${is.map((i) => `      {
        let kv = Ks[c * ${D4}u + slice + ${i * SLICES}u];
${js.map((j) => `        dq${j}_${i} = fma(ds${j}, kv, dq${j}_${i});`).join("\n")}
      }`).join("\n")}
    }
  }
${js.map((j) => `  if (s0 + row${j} < p.S) {
${is.map((i) => `    dQ[qAt${j} + ${i * SLICES}u] = dq${j}_${i} * p.scale;`).join("\n")}
  }`).join("\n")}
}
`
}

/** The buffers of one backward call; Dlt (f32 [B,S,H], scratch) is allocated per size when not given. */
export interface AttentionBackwardBuffers {
  readonly Q: Binding
  readonly K: Binding
  readonly V: Binding
  readonly O: Binding
  readonly dO: Binding
  readonly LSE: Binding
  readonly dQ: Binding
  readonly dK: Binding
  readonly dV: Binding
  /** the forward's uniform: words [B, S, T, H, KV, 0, 0, 0], floats [scale] */
  readonly params: Binding
  /** optional scratch for Dlt = rowsum(dO∘O), f32 [B,S,H] */
  readonly Dlt?: Binding
  /** optional scratch for dO in f16 [B,S,H,D] (the tensor-core kernels' operand; unused here) */
  readonly dOh?: Binding
}

export class AttentionBackwardShapeError extends Error {}

/**
 * Compiles the three kernels for head_dim D (a multiple of 32) and Q/K/V/O stored as `inputType`
 * (f16 needs shader-f16), in `variant`'s shape (default: one row a thread); the result records the backward's dispatches for one shape.
 */
export const attentionBackward = async (gpu: Gpu, D: number, inputType: AttentionInputType, variant: AttentionBackwardVariant = DEFAULT_ATTENTION_BACKWARD): Promise<(b: AttentionBackwardBuffers, B: number, S: number, H: number, KV: number, T: number) => Array<Dispatch>> => {
  if (D % (4 * SLICES) !== 0) throw new AttentionBackwardShapeError(`attention backward: head_dim ${D} must be a multiple of ${4 * SLICES}`)
  if (inputType === "f16" && !gpu.hasF16) throw new Error("attention backward (f16 inputs): this adapter has no shader-f16")
  const tag = `d${D}-${inputType}-r${variant.rowsPerThread}`
  const [delta, kv, q] = await Promise.all([
    pipeline(gpu.device, attentionBackwardDeltaWgsl(D, inputType), `attention-backward-delta-${tag}`),
    pipeline(gpu.device, attentionBackwardKvWgsl(D, inputType, variant), `attention-backward-dkdv-${tag}`),
    pipeline(gpu.device, attentionBackwardQWgsl(D, inputType, variant), `attention-backward-dq-${tag}`)
  ])
  // one scratch buffer, replaced by a larger one when a call needs more (dispatches already
  // recorded keep the buffer they were given)
  let scratch: { buffer: GPUBuffer; bytes: number } | undefined
  const scratchFor = (bytes: number): GPUBuffer => {
    if (!scratch || scratch.bytes < bytes) scratch = { buffer: storageBuffer(gpu.device, bytes), bytes }
    return scratch.buffer
  }
  return (b, B, S, H, KV, T) => {
    if (H % KV !== 0) throw new AttentionBackwardShapeError(`attention backward: H (${H}) must be a multiple of KV (${KV})`)
    if (S > T) throw new AttentionBackwardShapeError(`attention backward: S (${S}) must not exceed T (${T})`)
    const rows = B * S * H
    const Dlt = b.Dlt ?? scratchFor(rows * 4)
    return [
      { pipeline: delta, buffers: [b.dO, b.O, Dlt, b.params], groups: grid(Math.ceil(rows / 8)) },
      { pipeline: kv, buffers: [b.Q, b.K, b.V, b.dO, b.LSE, Dlt, b.dK, b.dV, b.params], groups: [Math.ceil(T / ROWS), B * KV] },
      { pipeline: q, buffers: [b.Q, b.K, b.V, b.dO, b.LSE, Dlt, b.dQ, b.params], groups: [Math.ceil(S / ROWS), B * H] }
    ]
  }
}
