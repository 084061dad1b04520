import { pipeline, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { ATTENTION_BINDINGS } from "./fused.ts"
import { range } from "./codegen.ts"

/**
 * Causal attention with GQA and a KV cache on the tensor cores (subgroup matrices, f16 operands,
 * f32 accumulation): the same contract as `attentionWgsl` in fused.ts — Q [B,S,H,D], K/V
 * [B,T,KV,D] f32, queries at positions T−S … T−1, O [B,S,H,D] — and still no S×T matrix in memory.
 *
 * One subgroup a workgroup takes 16 queries of one (batch, head). Softmax in two passes over the
 * keys it may see, 16 keys at a time: the first finds each row's max and sum from S = Q·Kᵀ, the
 * second recomputes S, turns it into P = exp(S − max) / sum, and accumulates O += P·V in result
 * fragments. Recomputing Q·Kᵀ costs half the flops again on the tensor cores, and spares the
 * per-row rescaling of O that a one-pass online softmax needs (result fragments are opaque, so that
 * would mean a round trip of O through workgroup memory every block).
 *
 * Rounding: Q (pre-scaled), K, V and P are f16 in the products; sums, max and softmax are f32.
 */
const F = 16
const QB = 16 // queries a workgroup
const KB = 16 // keys a block


export const attentionTcWgsl = (D: number): string => {
  const dc = D / F // fragments along the head dimension
  const perLane = (KB * D) / 32 // elements of a K or V block each lane loads
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
${ATTENTION_BINDINGS}
var<workgroup> Qs: array<f16, ${QB * D}>;
var<workgroup> Ks: array<f16, ${KB * D}>;
var<workgroup> Vs: array<f16, ${KB * D}>;
var<workgroup> Ss: array<f32, ${QB * KB}>;
var<workgroup> Ps: array<f16, ${QB * KB}>;
var<workgroup> Os: array<f32, ${QB * D}>;

fn loadKeys(b: u32, kvh: u32, k0: u32, lane: u32, withValues: bool) {
  for (var i = 0u; i < ${perLane}u; i++) {
    let e = lane + i * 32u;
    let key = k0 + e / ${D}u;
    let src = ((b * p.T + min(key, p.T - 1u)) * p.KV + kvh) * ${D}u + e % ${D}u;
    Ks[e] = f16(select(0.0, K[src], key < p.T));
    if (withValues) { Vs[e] = f16(select(0.0, V[src], key < p.T)); }
  }
}

fn scores() {
  var s = subgroup_matrix_result<f32, ${F}, ${F}>();
  for (var c = 0u; c < ${D}u; c += ${F}u) {
    let q = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&Qs, c, false, ${D}u);
    let k = subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&Ks, c, true, ${D}u);
    s = subgroupMatrixMultiplyAccumulate(q, k, s);
  }
  subgroupMatrixStore(&Ss, 0u, s, false, ${KB}u);
}

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let b = wg.y / p.H;
  let h = wg.y % p.H;
  let kvh = h / (p.H / p.KV);
  let s0 = wg.x * ${QB}u;
  let past = p.T - p.S;
  // this lane's row of the block and its half of the ${KB} key columns
  let row = lane / 2u;
  let half = (lane % 2u) * ${KB / 2}u;
  let pos = past + s0 + row;
  let rowValid = s0 + row < p.S;
  for (var i = 0u; i < ${(QB * D) / 32}u; i++) {
    let e = lane + i * 32u;
    let qs = s0 + e / ${D}u;
    Qs[e] = f16(select(0.0, Q[((b * p.S + min(qs, p.S - 1u)) * p.H + h) * ${D}u + e % ${D}u] * p.scale, qs < p.S));
  }
  let last = min(p.T, past + s0 + ${QB}u); // keys any query of this block may see
  var m = -3.0e38;
  var l = 0.0;
  for (var k0 = 0u; k0 < last; k0 += ${KB}u) {
    workgroupBarrier();
    loadKeys(b, kvh, k0, lane, false);
    workgroupBarrier();
    scores();
    workgroupBarrier();
    var mb = m;
    for (var j = 0u; j < ${KB / 2}u; j++) {
      let key = k0 + half + j;
      if (key <= pos && key < p.T) { mb = max(mb, Ss[row * ${KB}u + half + j]); }
    }
    var sum = 0.0;
    for (var j = 0u; j < ${KB / 2}u; j++) {
      let key = k0 + half + j;
      if (key <= pos && key < p.T) { sum += exp(Ss[row * ${KB}u + half + j] - mb); }
    }
    l = l * exp(m - mb) + sum;
    m = mb;
  }
  // the two lanes of a row hold the stats of its two halves
  let mo = subgroupShuffleXor(m, 1u);
  let lo = subgroupShuffleXor(l, 1u);
  let mr = max(m, mo);
  let lr = max(l * exp(m - mr) + lo * exp(mo - mr), 1e-30);
${range(dc).map((c) => `  var o${c} = subgroup_matrix_result<f32, ${F}, ${F}>();`).join("\n")}
  for (var k0 = 0u; k0 < last; k0 += ${KB}u) {
    workgroupBarrier();
    loadKeys(b, kvh, k0, lane, true);
    workgroupBarrier();
    scores();
    workgroupBarrier();
    for (var j = 0u; j < ${KB / 2}u; j++) {
      let key = k0 + half + j;
      let keep = key <= pos && key < p.T && rowValid;
      Ps[row * ${KB}u + half + j] = f16(select(0.0, exp(Ss[row * ${KB}u + half + j] - mr) / lr, keep));
    }
    workgroupBarrier();
    let pm = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&Ps, 0u, false, ${KB}u);
${range(dc).map((c) => `    o${c} = subgroupMatrixMultiplyAccumulate(pm, subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&Vs, ${c * F}u, false, ${D}u), o${c});`).join("\n")}
  }
${range(dc).map((c) => `  subgroupMatrixStore(&Os, ${c * F}u, o${c}, false, ${D}u);`).join("\n")}
  workgroupBarrier();
  for (var i = 0u; i < ${(QB * D) / 32}u; i++) {
    let e = lane + i * 32u;
    let qs = s0 + e / ${D}u;
    if (qs < p.S) { O[((b * p.S + qs) * p.H + h) * ${D}u + e % ${D}u] = Os[e]; }
  }
}
`
}

/** Compiles the tensor-core attention for head_dim `D` (a multiple of 16). */
export const tensorCoreAttention = async (gpu: Gpu, D: number) => {
  if (D % F !== 0) throw new Error(`tensor-core attention: head_dim ${D} must be a multiple of ${F}`)
  const p = await pipeline(gpu.device, attentionTcWgsl(D), `attention-tc-d${D}`)
  return (b: { Q: GPUBuffer; K: GPUBuffer; V: GPUBuffer; O: GPUBuffer; params: GPUBuffer }, B: number, S: number, H: number): Dispatch =>
    ({ pipeline: p, buffers: [b.Q, b.K, b.V, b.O, b.params], groups: [Math.ceil(S / QB), B * H] })
}
