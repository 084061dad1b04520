import { f16BitsToF32, pipeline, readBuffer, runDispatches, storageBuffer, toF16, uniformBuffer, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { range } from "./codegen.ts"
import { attentionBindings } from "./fused.ts"
import { gpuMsEach } from "./profile.ts"
import { DEFAULT_FLASH_ATTENTION, flashAttention, flashAttentionName, flashAttentionOneHead, parseFlashAttentionName, type FlashAttentionVariant } from "./attention-flash.ts"

/**
 * Causal attention with GQA and a KV cache on the tensor cores (subgroup matrices, f16 operands,
 * f32 accumulation). Q [B,S,H,D], K/V [B,T,KV,D] and O [B,S,H,D] are f16 in storage; queries sit
 * at positions T−S … T−1; query head h reads kv head h / (H / KV). No S×T matrix in memory.
 *
 * One subgroup a workgroup takes 16 (or 32) queries of one (batch, head); its Q fragments stay
 * in registers. K and V fragments are loaded straight from storage (f16, row stride KV·D), so no
 * K/V tile goes through workgroup memory and a key block needs no barrier for loading. Softmax
 * in two passes over the keys the block may see, 32 keys at a time: the first finds each row's
 * max and sum from S = Q·Kᵀ, the second recomputes S, turns it into P = exp(S − max) / sum and
 * accumulates O += P·V in result fragments. Recomputing Q·Kᵀ costs half the flops again on the
 * tensor cores and spares the per-row rescaling of O that a one-pass online softmax needs
 * (result fragments are opaque: rescaling means a round trip through workgroup memory).
 * (Dawn needs workgroup-uniform offsets for subgroup-matrix loads and stores, hence one subgroup
 * a workgroup: every offset here depends only on the workgroup and the loop.)
 *
 * Rounding: Q, K, V, P and O are f16; scores, max, sums and the accumulation are f32.
 * Compiled `withLse`, it also writes LSE [B,S,H] = log Σ exp(scale·q·k) over the visible keys
 * (binding 5), which the backward needs to recompute P.
 */
const F = 16

/** Tuning of the kernel: query fragments a subgroup (16 queries each) and keys a block. */
export interface AttentionTcVariant {
  readonly queryFragments: 1 | 2
  readonly keyBlock: 32 | 64
  /** extra f32 (f16: twice as many) a row of the score and probability tiles, against bank conflicts */
  readonly pad?: 0 | 4
  /**
   * One pass over the keys instead of two (S = Q·Kᵀ once, not twice: 2/3 of the tensor-core work):
   * P = exp(scale·S − m) against a running row max m that is raised only when a block's max
   * exceeds it by more than ONE_PASS_SLACK (P then stays under e^8 ≈ 2981, safe in f16), and then
   * O and the running sums are rescaled through workgroup memory (the result fragments are
   * opaque) — a workgroup-uniform decision, so that the fragment code stays uniform. Causal rows
   * see their largest scores early, so rescales are rare after the first block. O is divided by
   * the row sums at the end.
   */
  readonly onePass?: boolean
}
/** How far (natural log) a block's row max may exceed the running max before O is rescaled. */
const ONE_PASS_SLACK = 8
// the fastest two-pass form on the H100 (bench/gpu/kernels.ts --profile: 1.31 ms at 16 × 512 × 16 heads; 64-key blocks 5×, 32 queries 1.3× slower)
export const TWO_PASS_ATTENTION_TC: AttentionTcVariant = { queryFragments: 1, keyBlock: 32, pad: 4 }
export const DEFAULT_ATTENTION_TC: AttentionTcVariant = TWO_PASS_ATTENTION_TC
// The one-pass form: right with emulated fragments on SwiftShader, wrong on the H100 in sessions 5 and 6
// — because of the order its workgroup arrays were declared in (session 7's attention probe: the same
// WGSL with the lanes' arrays declared first was right in every case on the card; see the declarations).
// Not the default: it has not been timed against the two-pass kernel yet.
export const ONE_PASS_ATTENTION_TC: AttentionTcVariant = { ...TWO_PASS_ATTENTION_TC, onePass: true }

export const attentionTcWgsl = (D: number, variant: AttentionTcVariant = DEFAULT_ATTENTION_TC, withLse = false): string => {
  if (variant.onePass) return attentionTcOnePassWgsl(D, variant, withLse)
  const { queryFragments: QF, keyBlock: KB } = variant
  const SS = KB + (variant.pad ?? 0) // row stride of the f32 score tile
  const PS = KB + 2 * (variant.pad ?? 0) // row stride of the f16 probability tile
  const R = QF * F // queries a workgroup
  const dc = D / F // fragments along the head dimension
  const kf = KB / F // fragments along a key block
  // lanes per query row: 2 (each half of the block's keys) for 16 rows, 1 for 32
  const lanesPerRow = 32 / R
  const span = KB / lanesPerRow // keys a lane scans
  const scores = range(kf).map((f) => `    if (k0 + ${f * F}u < p.T) {
      let kAt = ((b * p.T + k0 + ${f * F}u) * p.KV + kvh) * ${D}u;
${range(dc).map((c) => `      let k${c} = subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&K, kAt + ${c * F}u, true, kvStride);`).join("\n")}
${range(QF).map((r) => `      {
        var s = subgroup_matrix_result<f32, ${F}, ${F}>();
${range(dc).map((c) => `        s = subgroupMatrixMultiplyAccumulate(q${r}_${c}, k${c}, s);`).join("\n")}
        subgroupMatrixStore(&Ss, ${r * F * SS + f * F}u, s, false, ${SS}u);
      }`).join("\n")}
    }`).join("\n")
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
${attentionBindings("f16")}${withLse ? "\n@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;" : ""}
var<workgroup> Ss: array<f32, ${R * SS}>;
var<workgroup> Ps: array<f16, ${R * PS}>;
var<workgroup> Os: array<f32, ${R * D}>;

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let b = wg.y / p.H;
  let h = wg.y % p.H;
  let kvh = h / (p.H / p.KV);
  let s0 = wg.x * ${R}u;
  let past = p.T - p.S;
  let kvStride = p.KV * ${D}u;
  // this lane's row of the block and its share of the ${KB} key columns
  let row = lane / ${lanesPerRow}u;
  let first = (lane % ${lanesPerRow}u) * ${span}u;
  let pos = past + s0 + row;
  let rowValid = s0 + row < p.S;
  let qAt = ((b * p.S + s0) * p.H + h) * ${D}u;
${range(QF).flatMap((r) => range(dc).map((c) => `  let q${r}_${c} = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&Q, qAt + ${r * F}u * p.H * ${D}u + ${c * F}u, false, p.H * ${D}u);`)).join("\n")}
  let last = min(p.T, past + s0 + ${R}u); // keys any query of this block may see
  var m = -3.0e38;
  var l = 0.0;
  for (var k0 = 0u; k0 < last; k0 += ${KB}u) {
${scores}
    workgroupBarrier();
    var mb = m;
    for (var j = 0u; j < ${span}u; j++) {
      let key = k0 + first + j;
      if (key <= pos && key < p.T) { mb = max(mb, Ss[row * ${SS}u + first + j] * p.scale); }
    }
    var sum = 0.0;
    for (var j = 0u; j < ${span}u; j++) {
      let key = k0 + first + j;
      if (key <= pos && key < p.T) { sum += exp(Ss[row * ${SS}u + first + j] * p.scale - mb); }
    }
    l = l * exp(m - mb) + sum;
    m = mb;
    workgroupBarrier();
  }
${lanesPerRow === 2 ? `  // the two lanes of a row hold the stats of its two halves
  let mo = subgroupShuffleXor(m, 1u);
  let lo = subgroupShuffleXor(l, 1u);
  let mr = max(m, mo);
  let lr = max(l * exp(m - mr) + lo * exp(mo - mr), 1e-30);` : `  let mr = m;
  let lr = max(l, 1e-30);`}${withLse ? `
  // for the backward: P = exp(scale·q·k − LSE)
  if (rowValid && lane % ${lanesPerRow}u == 0u) { LSE[(b * p.S + s0 + row) * p.H + h] = mr + log(lr); }` : ""}
${range(QF).flatMap((r) => range(dc).map((c) => `  var o${r}_${c} = subgroup_matrix_result<f32, ${F}, ${F}>();`)).join("\n")}
  for (var k0 = 0u; k0 < last; k0 += ${KB}u) {
${scores}
    workgroupBarrier();
    for (var j = 0u; j < ${span}u; j++) {
      let key = k0 + first + j;
      let keep = key <= pos && key < p.T && rowValid;
      Ps[row * ${PS}u + first + j] = f16(select(0.0, exp(Ss[row * ${SS}u + first + j] * p.scale - mr) / lr, keep));
    }
    workgroupBarrier();
${range(kf).map((f) => `    if (k0 + ${f * F}u < p.T) {
      let vAt = ((b * p.T + k0 + ${f * F}u) * p.KV + kvh) * ${D}u;
${range(dc).map((c) => `      let v${c} = subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&V, vAt + ${c * F}u, false, kvStride);`).join("\n")}
${range(QF).map((r) => `      {
        let pm = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&Ps, ${r * F * PS + f * F}u, false, ${PS}u);
${range(dc).map((c) => `        o${r}_${c} = subgroupMatrixMultiplyAccumulate(pm, v${c}, o${r}_${c});`).join("\n")}
      }`).join("\n")}
    }`).join("\n")}
  }
${range(QF).flatMap((r) => range(dc).map((c) => `  subgroupMatrixStore(&Os, ${r * F * D + c * F}u, o${r}_${c}, false, ${D}u);`)).join("\n")}
  workgroupBarrier();
  for (var i = 0u; i < ${(R * D) / 32}u; i++) {
    let e = lane + i * 32u;
    let qs = s0 + e / ${D}u;
    if (qs < p.S) { O[((b * p.S + qs) * p.H + h) * ${D}u + e % ${D}u] = f16(Os[e]); }
  }
}
`
}

/** The one-pass form (variant.onePass): same bindings, layout and outputs as attentionTcWgsl. */
const attentionTcOnePassWgsl = (D: number, variant: AttentionTcVariant, withLse: boolean): string => {
  const { queryFragments: QF, keyBlock: KB } = variant
  const SS = KB + (variant.pad ?? 0)
  const PS = KB + 2 * (variant.pad ?? 0)
  const R = QF * F
  const dc = D / F
  const kf = KB / F
  const lanesPerRow = 32 / R
  const span = KB / lanesPerRow
  const scores = range(kf).map((f) => `    if (k0 + ${f * F}u < p.T) {
      let kAt = ((b * p.T + k0 + ${f * F}u) * p.KV + kvh) * ${D}u;
${range(dc).map((c) => `      let k${c} = subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&K, kAt + ${c * F}u, true, kvStride);`).join("\n")}
${range(QF).map((r) => `      {
        var s = subgroup_matrix_result<f32, ${F}, ${F}>();
${range(dc).map((c) => `        s = subgroupMatrixMultiplyAccumulate(q${r}_${c}, k${c}, s);`).join("\n")}
        subgroupMatrixStore(&Ss, ${r * F * SS + f * F}u, s, false, ${SS}u);
      }`).join("\n")}
    }`).join("\n")
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
${attentionBindings("f16")}${withLse ? "\n@group(0) @binding(5) var<storage, read_write> LSE: array<f32>;" : ""}
// Declared in this order on purpose: with the arrays the fragments load and store (Ss, Ps,
// Os) first and the lanes' own (Al, Hx, grow) after them, the H100 (driver 580.159.04, Dawn of npm
// webgpu 0.6.2) gave deterministic wrong outputs — the fragments' loads and stores and the lanes'
// plain accesses disagreed about where the arrays are (session 7's bench/gpu/attention-probe.ts:
// the order below, and only it, made every case right, with Dawn's robustness on and off).
var<workgroup> Al: array<f32, ${R}>; // each row's rescale factor, then its sum
var<workgroup> Hx: array<f32, 32>; // each lane's half-row max, then its half sum (the two lanes of a row meet here)
var<workgroup> grow: u32; // a row's max rose past the slack in this block
var<workgroup> Os: array<f32, ${R * D}>;
var<workgroup> Ps: array<f16, ${R * PS}>;
var<workgroup> Ss: array<f32, ${R * SS}>;

@compute @workgroup_size(32)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let b = wg.y / p.H;
  let h = wg.y % p.H;
  let kvh = h / (p.H / p.KV);
  let s0 = wg.x * ${R}u;
  let past = p.T - p.S;
  let kvStride = p.KV * ${D}u;
  let row = lane / ${lanesPerRow}u;
  let first = (lane % ${lanesPerRow}u) * ${span}u;
  let pos = past + s0 + row;
  let qAt = ((b * p.S + s0) * p.H + h) * ${D}u;
${range(QF).flatMap((r) => range(dc).map((c) => `  let q${r}_${c} = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&Q, qAt + ${r * F}u * p.H * ${D}u + ${c * F}u, false, p.H * ${D}u);`)).join("\n")}
  let last = min(p.T, past + s0 + ${R}u); // keys any query of this block may see
  if (lane == 0u) { grow = 0u; }
  // the loop's state declared right before it, as in the two-pass form (tried in session 6's round 2: the H100's outputs did not change)
  var m = -3.0e38; // the row's running max (the same in both lanes of a row)
  var l = 0.0; // this lane's share of the row's Σ exp(scale·s − m)
${range(QF).flatMap((r) => range(dc).map((c) => `  var o${r}_${c} = subgroup_matrix_result<f32, ${F}, ${F}>();`)).join("\n")}
  for (var k0 = 0u; k0 < last; k0 += ${KB}u) {
${scores}
    workgroupBarrier();
    var mb = -3.0e38;
    for (var j = 0u; j < ${span}u; j++) {
      let key = k0 + first + j;
      if (key <= pos && key < p.T) { mb = max(mb, Ss[row * ${SS}u + first + j] * p.scale); }
    }
${lanesPerRow === 2 ? `    Hx[lane] = mb;
    workgroupBarrier();
    mb = max(mb, Hx[lane ^ 1u]);
` : ""}    if (mb > m + ${ONE_PASS_SLACK}.0) { grow = 1u; }
    // uniform across the workgroup: whether any row's max is raised in this block
    let raise = workgroupUniformLoad(&grow) != 0u;
    if (raise) {
      let mn = max(m, mb);
      let alpha = exp(m - mn);
      l = l * alpha;
      m = mn;
      if (lane % ${lanesPerRow}u == 0u) { Al[row] = alpha; }
      workgroupBarrier(); // every lane has read the flag before it is cleared
      if (lane == 0u) { grow = 0u; }
      if (k0 > 0u) { // before the first block O is all zeros
${range(QF).flatMap((r) => range(dc).map((c) => `        subgroupMatrixStore(&Os, ${r * F * D + c * F}u, o${r}_${c}, false, ${D}u);`)).join("\n")}
        workgroupBarrier();
        for (var i = 0u; i < ${(R * D) / 32}u; i++) {
          let e = lane + i * 32u;
          Os[e] = Os[e] * Al[e / ${D}u];
        }
        workgroupBarrier();
${range(QF).flatMap((r) => range(dc).map((c) => `        o${r}_${c} = subgroupMatrixLoad<subgroup_matrix_result<f32, ${F}, ${F}>>(&Os, ${r * F * D + c * F}u, false, ${D}u);`)).join("\n")}
      }
    }
    for (var j = 0u; j < ${span}u; j++) {
      let key = k0 + first + j;
      let pr = select(0.0, exp(Ss[row * ${SS}u + first + j] * p.scale - m), key <= pos && key < p.T);
      l += pr;
      Ps[row * ${PS}u + first + j] = f16(pr);
    }
    workgroupBarrier();
${range(kf).map((f) => `    if (k0 + ${f * F}u < p.T) {
      let vAt = ((b * p.T + k0 + ${f * F}u) * p.KV + kvh) * ${D}u;
${range(dc).map((c) => `      let v${c} = subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&V, vAt + ${c * F}u, false, kvStride);`).join("\n")}
${range(QF).map((r) => `      {
        let pm = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&Ps, ${r * F * PS + f * F}u, false, ${PS}u);
${range(dc).map((c) => `        o${r}_${c} = subgroupMatrixMultiplyAccumulate(pm, v${c}, o${r}_${c});`).join("\n")}
      }`).join("\n")}
    }`).join("\n")}
  }
${lanesPerRow === 2 ? `  Hx[lane] = l;
  workgroupBarrier();
  let lr = max(l + Hx[lane ^ 1u], 1e-30);` : "  let lr = max(l, 1e-30);"}${withLse ? `
  // for the backward: P = exp(scale·q·k − LSE)
  if (lane % ${lanesPerRow}u == 0u) { LSE[(b * p.S + s0 + row) * p.H + h] = m + log(lr); }` : ""}
  if (lane % ${lanesPerRow}u == 0u) { Al[row] = lr; }
${range(QF).flatMap((r) => range(dc).map((c) => `  subgroupMatrixStore(&Os, ${r * F * D + c * F}u, o${r}_${c}, false, ${D}u);`)).join("\n")}
  workgroupBarrier();
  for (var i = 0u; i < ${(R * D) / 32}u; i++) {
    let e = lane + i * 32u;
    let qs = s0 + e / ${D}u;
    if (qs < p.S) { O[((b * p.S + qs) * p.H + h) * ${D}u + e % ${D}u] = f16(Os[e] / Al[e / ${D}u]); }
  }
}
`
}

export class AttentionShapeError extends Error {}

/** A form of the forward attention: this file's one-subgroup kernels, or attention-flash.ts' one-pass multi-subgroup kernel. */
export type AttentionForm = AttentionTcVariant | FlashAttentionVariant

export const attentionFormName = (f: AttentionForm): string =>
  "form" in f ? flashAttentionName(f) : `attention-tc-q${f.queryFragments * F}-k${f.keyBlock}-p${f.pad ?? 0}${f.onePass ? "-1pass" : ""}`

/**
 * The default form as FLEUVE_ATTENTION_FORWARD says: unset or `auto`, the fastest on this device of
 * the two-pass kernel and those of AUTO_ATTENTION_CANDIDATES (the flash kernels) that reproduce it
 * there (pickAttentionForm); `two-pass`, the two-pass kernel; `flash`,
 * attention-flash.ts' default variant unchecked; `flash:<name>` (e.g. flash:q32-h2-k32-ri-la) that
 * variant. Any other value is an error naming the ones it takes. `auto` became the default once the
 * flash kernel had passed every GPU test that runs attention on the H100 (session 8: trainer,
 * train-engine-gpu, engine-generate, engine-scorer, attention-flash): scoring 79,443 against
 * 68,732 tokens/s two-pass, LoRA training 18,381 against 17,190, same call.
 */
export const defaultAttentionForm = (): AttentionForm | "auto" => {
  const env = process.env.FLEUVE_ATTENTION_FORWARD
  if (env === undefined || env === "" || env === "auto") return "auto"
  if (env === "two-pass") return DEFAULT_ATTENTION_TC
  if (env === "flash") return DEFAULT_FLASH_ATTENTION
  const named = env.startsWith("flash:") ? parseFlashAttentionName(env.slice(6)) : undefined
  if (named) return named
  throw new AttentionShapeError(`FLEUVE_ATTENTION_FORWARD=${env}: expected "two-pass", "flash", "flash:<variant>" (e.g. flash:q32-h2-k32-ri) or "auto"`)
}

/**
 * (session 9) The default flash variant with its lanes' loops unrolled (`-u`: the softmax, 1.5× on
 * the H200 in session 8; `-uo`: the rescale and output), the next K/V tile prefetched and the
 * block's score fragments computed together: session 8's fastest variant less `-ws`, which relies
 * on a subgroup's lanes running in step (WGSL does not promise it, nor do NVIDIA's cards since
 * Volta without a warp barrier), so that `auto` never depends on it.
 */
export const UNROLLED_SAFE_FLASH_ATTENTION: FlashAttentionVariant = { ...DEFAULT_FLASH_ATTENTION, prefetch: true, unroll: true, unrollOutput: true, interleave: true }

/**
 * The flash variants "auto" tries; each is used only where it reproduces the two-pass kernel on the
 * device, and of those the fastest there (pickAttentionForm). None relies on lanes running in step.
 */
export const AUTO_ATTENTION_CANDIDATES: ReadonlyArray<FlashAttentionVariant> = [
  UNROLLED_SAFE_FLASH_ATTENTION, { ...DEFAULT_FLASH_ATTENTION, unroll: true, unrollOutput: true, interleave: true }, DEFAULT_FLASH_ATTENTION, { ...DEFAULT_FLASH_ATTENTION, accumulate: "lanes" }
]

const picks = new WeakMap<GPUDevice, Map<string, Promise<AttentionForm>>>()

/**
 * Of the candidates whose output on a probe (B 1, S 64 after a cache of 32, GQA with `headsPerKv`
 * query heads a kv head, keys growing along the sequence so that the running max rises mid-row)
 * is within 5e-3 (of the largest value) of the two-pass kernel's on this device, the one that runs
 * fastest on this device, or the two-pass form where it is faster than all of them (`fastest`; where
 * the timing fails, the first that reproduces). Kernels that are right under emulation have been
 * wrong on a card (session 5's one-pass form): this keeps a wrong one from being used; and the
 * cards may rank the forms differently (session 8 saw the default flash kernel beat the two-pass
 * one on an H100 and, by wall time, which session 9 found misleading, lose to it on an H200): this
 * keeps a slower one from being used. Once per device,
 * head_dim and group.
 */
export const pickAttentionForm = (gpu: Gpu, D: number, headsPerKv = 1, candidates: ReadonlyArray<FlashAttentionVariant> = AUTO_ATTENTION_CANDIDATES): Promise<AttentionForm> => {
  const perDevice = picks.get(gpu.device) ?? new Map<string, Promise<AttentionForm>>()
  picks.set(gpu.device, perDevice)
  const key = `${D}/${headsPerKv}/${candidates.map(flashAttentionName).join(",")}`
  const hit = perDevice.get(key)
  if (hit) return hit
  const run = probe(gpu, D, headsPerKv, candidates).catch((): AttentionForm => DEFAULT_ATTENTION_TC)
  perDevice.set(key, run)
  return run
}

const probe = async (gpu: Gpu, D: number, headsPerKv: number, candidates: ReadonlyArray<FlashAttentionVariant>): Promise<AttentionForm> => {
  const device = gpu.device
  const [B, S, T, KV] = [1, 64, 96, 2]
  const H = KV * headsPerKv
  let x = 12345
  const rand = (n: number, scale: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => {
    x = (x * 1103515245 + 12345) >>> 0
    return ((x / 2 ** 32) * 2 - 1) * scale(i)
  })
  const Q = toF16(rand(B * S * H * D, () => 1))
  const K = toF16(rand(B * T * KV * D, (i) => 1 + (Math.floor(i / (KV * D)) % T) / 8))
  const V = toF16(rand(B * T * KV * D, () => 1))
  const made: Array<GPUBuffer> = []
  const buf = (b: GPUBuffer) => (made.push(b), b)
  const inputs = { Q: buf(storageBuffer(device, Q)), K: buf(storageBuffer(device, K)), V: buf(storageBuffer(device, V)), params: buf(uniformBuffer(device, [B, S, T, H, KV, 0, 0, 0], [1 / Math.sqrt(D)])) }
  const out = async (form: AttentionForm) => {
    const O = buf(storageBuffer(device, Q.byteLength))
    await runDispatches(device, [(await tensorCoreAttention(gpu, D, form, false, headsPerKv))({ ...inputs, O }, B, S, H, T)])
    return Float32Array.from(new Uint16Array(await readBuffer(device, O, Q.byteLength)), f16BitsToF32)
  }
  try {
    const want = await out(DEFAULT_ATTENTION_TC)
    const top = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0)
    const right: Array<FlashAttentionVariant> = []
    for (const c of candidates) {
      const got = await out(c).catch(() => undefined)
      if (!got) continue
      let err = 0
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!))
      if (err <= 5e-3 * top) right.push(c)
    }
    if (right.length === 0) return DEFAULT_ATTENTION_TC
    return await fastest(gpu, D, headsPerKv, [DEFAULT_ATTENTION_TC, ...right]).catch(() => right[0]!)
  } finally {
    for (const b of made) b.destroy()
  }
}

/**
 * The form that runs fastest on this device at a scoring shape (4 × 512 queries over 512 keys, 8
 * kv heads): the cards disagree. On the H100 the flash kernel took 21.4 ms of a scoring forward
 * where the two-pass one took 34.2 (session 8); on an H200 the attention-alone bench timed the
 * flash kernels at 1.6–3.6 ms against the two-pass kernel's 1.26 (gpu-flash8's round 1, wall time,
 * which session 9 found misleading: gpuMsEach). The forms take turns over 3 rounds, 10 dispatches each,
 * timed by the GPU's timestamps where it has them. Random operands; their values do not change the work.
 */
export const fastest = async (gpu: Gpu, D: number, headsPerKv: number, forms: ReadonlyArray<AttentionForm>): Promise<AttentionForm> => {
  const device = gpu.device
  const [B, S, KV] = [4, 512, 8]
  const H = KV * headsPerKv
  const made: Array<GPUBuffer> = []
  const buf = (b: GPUBuffer) => (made.push(b), b)
  try {
    const bytes = (heads: number) => B * S * heads * D * 2
    const b = {
      Q: buf(storageBuffer(device, bytes(H))), K: buf(storageBuffer(device, bytes(KV))), V: buf(storageBuffer(device, bytes(KV))), O: buf(storageBuffer(device, bytes(H))),
      params: buf(uniformBuffer(device, [B, S, S, H, KV, 0, 0, 0], [1 / Math.sqrt(D)]))
    }
    const lists = await Promise.all(forms.map(async (form) => Array<Dispatch>(10).fill((await tensorCoreAttention(gpu, D, form, false, headsPerKv))(b, B, S, H, S))))
    const ms = await gpuMsEach(gpu, lists, 3)
    return forms[ms.indexOf(Math.min(...ms))]!
  } finally {
    for (const x of made) x.destroy()
  }
}

/**
 * Compiles the tensor-core attention for head_dim `D` (a multiple of 16) in the given form.
 * The one-subgroup forms need S a multiple of the queries a workgroup (16 or 32) and T of 16
 * (callers pad): fragments are loaded whole, and a load past the end of a binding does not read
 * zeros (seen on the H100). The flash form takes any S and T; where `headsPerKv` (H / KV) is odd
 * it takes one query head a workgroup. "auto": pickAttentionForm's choice for this device.
 */
export const tensorCoreAttention = async (gpu: Gpu, D: number, form: AttentionForm | "auto" = defaultAttentionForm(), withLse = false, headsPerKv?: number) => {
  if (D % F !== 0) throw new AttentionShapeError(`tensor-core attention: head_dim ${D} must be a multiple of ${F}`)
  const variant = form === "auto" ? await pickAttentionForm(gpu, D, headsPerKv ?? 1) : form
  if ("form" in variant) {
    const v = headsPerKv !== undefined && headsPerKv % variant.heads !== 0 ? flashAttentionOneHead(variant, D) : variant
    const flash = await flashAttention(gpu, D, v, withLse)
    return (b: { Q: Binding; K: Binding; V: Binding; O: Binding; params: GPUBuffer; LSE?: Binding }, B: number, S: number, H: number, T = S): Dispatch => flash(b, B, S, H, T)
  }
  const R = variant.queryFragments * F
  const p = await pipeline(gpu.device, attentionTcWgsl(D, variant, withLse), `attention-tc-d${D}-q${R}-k${variant.keyBlock}-p${variant.pad ?? 0}${variant.onePass ? "-1pass" : ""}${withLse ? "-lse" : ""}`)
  return (b: { Q: Binding; K: Binding; V: Binding; O: Binding; params: GPUBuffer; LSE?: Binding }, B: number, S: number, H: number, T = S): Dispatch => {
    if (S % R !== 0 || T % F !== 0) throw new AttentionShapeError(`tensor-core attention: S (${S}) must be a multiple of ${R} and T (${T}) of ${F}; pad the sequence`)
    if (withLse && !b.LSE) throw new AttentionShapeError("tensor-core attention compiled with LSE output: bind LSE [B, S, H] f32")
    return { pipeline: p, buffers: [b.Q, b.K, b.V, b.O, b.params, ...(withLse ? [b.LSE!] : [])], groups: [Math.ceil(S / R), B * H] }
  }
}
