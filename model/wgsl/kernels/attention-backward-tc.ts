import { pipeline, storageBuffer, type Binding, type Dispatch } from "./buffers.ts"
import { pickMatrixConfig, type Gpu } from "./device.ts"
import { range } from "./codegen.ts"
import { grid } from "./fused.ts"
import { attentionBackward, AttentionBackwardShapeError, type AttentionBackwardBuffers } from "./attention-backward.ts"

/**
 * Backward of the causal GQA attention on the tensor cores (subgroup matrices, f16 operands, f32
 * accumulation), FlashAttention-2 style, the same contract as attention-backward.ts: Q [B,S,H,D],
 * K/V [B,T,KV,D], O f16; dO f32 [B,S,H,D], LSE f32 [B,S,H]; dQ f32 [B,S,H,D], dK/dV f32
 * [B,T,KV,D], written. Queries sit at positions T−S … T−1. Three dispatches:
 *  1. prep: Dlt = rowsum(dO∘O) (f32 [B,S,H]) and dO rounded to f16 into a scratch (dOh): the
 *     tensor cores take f16 operands and this pass reads all of dO anyway;
 *  2. dK/dV: a workgroup (one subgroup) per (b, kv head, 16 keys), over the H/KV query heads of
 *     the kv head and the 32-query steps that see those keys:
 *       Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ (result fragments, through workgroup memory to the lanes),
 *       Pᵀ = exp(scale·Sᵀ − LSE), dSᵀ = scale·Pᵀ∘(dPᵀ − Dlt) (f16 in workgroup memory),
 *       dV += Pᵀ·dO, dK += dSᵀ·Q (result fragments held across the whole loop);
 *  3. dQ: a workgroup per (b, head, 16 queries), over 32-key steps up to the causal limit:
 *       S = Q·Kᵀ, dP = dO·Vᵀ, dS = scale·P∘(dP − Dlt), dQ += dS·K.
 * scale is folded into dS before its f16 rounding, so no fragment needs scaling afterwards.
 * Operand fragments (K, V, Q, dO tiles) are loaded straight from storage as the forward
 * (attention-tc.ts) does; one subgroup a workgroup keeps every subgroup-matrix offset
 * workgroup-uniform. Rounding: Q, K, V, dO, P and dS are f16; S, dP, LSE, Dlt and every
 * accumulation are f32.
 *
 * `matrices: "emulated"` writes each fragment as a private array<f32, 256> that every lane holds
 * whole (loads, products and stores as plain loops) and takes f32 storage: the same kernel
 * text otherwise, so that its indexing, masking and staging are checked on adapters without
 * subgroup matrices or shader-f16 (SwiftShader in CI). It is a test tool, slow by design. (The
 * matmul tests' WGSL rewrite, test/helpers/kernels/subgroup-matrix-emulation.ts, passes fragments
 * through functions by value: on these kernels SwiftShader took 37 s to compile the dK/dV one and
 * then crashed; statements inline compile in about a second.)
 */
const F = 16
/** row stride of the f32 score tiles of `cols` columns (+4: off one bank, as the forward) */
const scoreStride = (cols: number) => cols + 4
/** row stride of the f16 tiles (+8: rows stay 16-byte aligned) */
const halfStride = (cols: number) => cols + 8

/**
 * Tuning: queries a dK/dV step brings in and keys a dQ step, 16 or 32 (one or two fragments);
 * whether the dQ kernel holds its Q and dO fragments in registers for the whole loop (true) or
 * reloads them every step (fewer registers a lane, so more subgroups resident).
 */
export interface AttentionBackwardTcVariant {
  readonly kvStep: 16 | 32
  readonly qStep: 16 | 32
  readonly holdQ?: boolean
  /**
   * subgroups a workgroup (1 or 2), each owning D/splitD of the head dimension: its share of the
   * gradient fragments (half the registers a lane) and of the score contraction, whose partial
   * tiles meet in workgroup memory. With 2 the subgroup-matrix offsets depend on the subgroup
   * index, uniform only across a subgroup: the module turns off chromium.subgroup_matrix_uniformity
   * as matmul-tiles.ts does (and assumes 32-lane subgroups).
   */
  readonly splitD?: 1 | 2
}
export const DEFAULT_ATTENTION_BACKWARD_TC: AttentionBackwardTcVariant = { kvStep: 32, qStep: 32, holdQ: true }
export const attentionBackwardTcName = (v: AttentionBackwardTcVariant): string => `q${v.kvStep}-k${v.qStep}${v.holdQ === false ? "-reload" : ""}${(v.splitD ?? 1) > 1 ? `-d${v.splitD}` : ""}`

/**
 * The elementwise part of a step on a 16 × cols tile, `lanes` lanes: lane owns column lane % cols
 * and 16·cols/lanes of the rows from `i0`.
 */
const lanePart = (cols: number, lanes: number) => ({ col: `lane % ${cols}u`, i0: `(lane / ${cols}u) * ${(F * cols) / lanes}u`, rows: (F * cols) / lanes })
/** Σ over the subgroups' partial score tiles (each F × stride) at element `at`. */
const partialSum = (tile: string, at: string, stride: number, split: number) => range(split).map((z) => `${tile}[${z ? `${z * F * stride}u + ` : ""}${at}]`).join(" + ")

export type MatrixMode = "subgroup" | "emulated"

/** WGSL of the fragment operations in one mode: statements, each declaring or updating a fragment. */
const fragments = (mode: MatrixMode) => {
  const E = mode === "subgroup" ? "f16" : "f32"
  if (mode === "subgroup") {
    return {
      E,
      load: (name: string, kind: "left" | "right", buf: string, offset: string, colMajor: boolean, stride: string) =>
        `let ${name} = subgroupMatrixLoad<subgroup_matrix_${kind}<f16, ${F}, ${F}>>(&${buf}, ${offset}, ${colMajor}, ${stride});`,
      zero: (name: string) => `var ${name} = subgroup_matrix_result<f32, ${F}, ${F}>();`,
      mma: (acc: string, a: string, b: string) => `${acc} = subgroupMatrixMultiplyAccumulate(${a}, ${b}, ${acc});`,
      store: (buf: string, offset: string, acc: string, stride: string) => `subgroupMatrixStore(&${buf}, ${offset}, ${acc}, false, ${stride});`,
      header: "enable f16;\nenable subgroups;\nenable chromium_experimental_subgroup_matrix;\n",
      perSubgroup: "diagnostic(off, chromium.subgroup_matrix_uniformity);\n"
    }
  }
  // element (i, j) of a fragment at [i * 16 + j]; row-major source: offset + i·stride + j, column-major: offset + j·stride + i
  return {
    E,
    load: (name: string, _kind: "left" | "right", buf: string, offset: string, colMajor: boolean, stride: string) =>
      `var ${name}: array<f32, 256>;
      for (var e_ = 0u; e_ < 256u; e_++) { let i_ = e_ / 16u; let j_ = e_ % 16u; ${name}[e_] = f32(${buf}[(${offset}) + ${colMajor ? `j_ * (${stride}) + i_` : `i_ * (${stride}) + j_`}]); }`,
    // an explicit zero value: a declaration without one is zeroed once, not on every loop iteration (seen on SwiftShader)
    zero: (name: string) => `var ${name} = array<f32, 256>();`,
    mma: (acc: string, a: string, b: string) =>
      `for (var e_ = 0u; e_ < 256u; e_++) { let i_ = e_ / 16u; let j_ = e_ % 16u; var t_ = ${acc}[e_]; for (var k_ = 0u; k_ < 16u; k_++) { t_ += ${a}[i_ * 16u + k_] * ${b}[k_ * 16u + j_]; } ${acc}[e_] = t_; }`,
    // one lane a subgroup writes (its lanes hold the same values); readers come after a barrier or the kernel's end
    store: (buf: string, offset: string, acc: string, stride: string) =>
      `if (lane % 32u == 0u) { for (var e_ = 0u; e_ < 256u; e_++) { ${buf}[(${offset}) + (e_ / 16u) * (${stride}) + e_ % 16u] = ${acc}[e_]; } }`,
    header: "",
    perSubgroup: ""
  }
}

const params = "struct P { B: u32, S: u32, T: u32, H: u32, KV: u32, _p0: u32, _p1: u32, _p2: u32, scale: f32 }"

/** Dlt[row] = Σ_d dO·O and dOh = f16(dO), over rows = B·S·H; eight rows a workgroup of 256. */
export const attentionBackwardPrepWgsl = (D: number, mode: MatrixMode): string => {
  const { E } = fragments(mode)
  return `${E === "f16" ? "enable f16;\n" : ""}${params}
@group(0) @binding(0) var<storage, read> dO: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> O: array<vec4<${E}>>;
@group(0) @binding(2) var<storage, read_write> Dlt: array<f32>;
@group(0) @binding(3) var<storage, read_write> dOh: array<vec4<${E}>>;
@group(0) @binding(4) var<uniform> p: P;
var<workgroup> partials: array<f32, 256>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let rows = p.B * p.S * p.H;
  let wanted = (wg.x + wg.y * 65535u) * 8u + lid / 32u;
  let lane = lid % 32u;
  let row = min(wanted, rows - 1u); // no early return: every thread reaches the barrier
  var acc = 0.0;
  for (var i = lane; i < ${D / 4}u; i += 32u) {
    let g = dO[row * ${D / 4}u + i];
    acc += dot(g, vec4<f32>(O[row * ${D / 4}u + i]));
    if (wanted < rows) { dOh[row * ${D / 4}u + i] = vec4<${E}>(g); }
  }
  partials[lid] = acc;
  workgroupBarrier();
  if (lane == 0u && wanted < rows) {
    var total = 0.0;
    for (var k = 0u; k < 32u; k++) { total += partials[lid + k]; }
    Dlt[row] = total;
  }
}
`
}

const gradBindings = (E: string) => `@group(0) @binding(0) var<storage, read> Q: array<${E}>;
@group(0) @binding(1) var<storage, read> K: array<${E}>;
@group(0) @binding(2) var<storage, read> V: array<${E}>;
@group(0) @binding(3) var<storage, read> dOh: array<${E}>;
@group(0) @binding(4) var<storage, read> LSE: array<f32>;
@group(0) @binding(5) var<storage, read> Dlt: array<f32>;`

/** dK, dV: workgroup (16-key block, b·KV + kv head), 32 lanes; a step is variant.kvStep queries. */
export const attentionBackwardKvTcWgsl = (D: number, mode: MatrixMode, variant: AttentionBackwardTcVariant = DEFAULT_ATTENTION_BACKWARD_TC): string => {
  const fr = fragments(mode)
  const { E } = fr
  const split = variant.splitD ?? 1
  const dc = D / F / split // fragments of the head dimension a subgroup owns, from dAt
  const QB = variant.kvStep
  const qf = QB / F
  const SS = scoreStride(QB)
  const PS = halfStride(QB)
  const lp = lanePart(QB, 32 * split)
  // Sᵀ[key][query] and dPᵀ for query fragment r of the step: the d loop outside, so that only one K and one V fragment live at a time
  const scores = `${range(qf).map((r) => `    ${fr.zero(`st${r}`)}\n    ${fr.zero(`dpt${r}`)}`).join("\n")}
${range(dc).map((c) => `    {
      ${fr.load("kc", "left", "K", `kvAt + dAt + ${c * F}u`, false, "kvStride")}
      ${fr.load("vc", "left", "V", `kvAt + dAt + ${c * F}u`, false, "kvStride")}
${range(qf).map((r) => `      if (s0 + ${r * F}u < p.S) {
        ${fr.load("qt", "right", "Q", `qAt + ${r * F}u * qStride + dAt + ${c * F}u`, true, "qStride")}
        ${fr.mma(`st${r}`, "kc", "qt")}
        ${fr.load("ot", "right", "dOh", `qAt + ${r * F}u * qStride + dAt + ${c * F}u`, true, "qStride")}
        ${fr.mma(`dpt${r}`, "vc", "ot")}
      }`).join("\n")}
    }`).join("\n")}
${range(qf).map((r) => `    if (s0 + ${r * F}u < p.S) {
      ${fr.store("Ss", `part + ${r * F}u`, `st${r}`, `${SS}u`)}
      ${fr.store("Dps", `part + ${r * F}u`, `dpt${r}`, `${SS}u`)}
    }`).join("\n")}`
  const products = range(qf).map((r) => `    if (s0 + ${r * F}u < p.S) {
      ${fr.load("pt", "left", "Pt", `${r * F}u`, false, `${PS}u`)}
      ${fr.load("dst", "left", "dSt", `${r * F}u`, false, `${PS}u`)}
${range(dc).map((c) => `      {
        ${fr.load("oc", "right", "dOh", `qAt + ${r * F}u * qStride + dAt + ${c * F}u`, false, "qStride")}
        ${fr.mma(`dv${c}`, "pt", "oc")}
        ${fr.load("qc", "right", "Q", `qAt + ${r * F}u * qStride + dAt + ${c * F}u`, false, "qStride")}
        ${fr.mma(`dk${c}`, "dst", "qc")}
      }`).join("\n")}
    }`).join("\n")
  return `${fr.header}${split > 1 ? fr.perSubgroup : ""}${params}
${gradBindings(E)}
@group(0) @binding(6) var<storage, read_write> dK: array<f32>;
@group(0) @binding(7) var<storage, read_write> dV: array<f32>;
@group(0) @binding(8) var<uniform> p: P;
var<workgroup> Ss: array<f32, ${split * F * SS}>; // Sᵀ [key][query], a partial tile per subgroup
var<workgroup> Dps: array<f32, ${split * F * SS}>; // dPᵀ
var<workgroup> Pt: array<${E}, ${F * PS}>; // Pᵀ
var<workgroup> dSt: array<${E}, ${F * PS}>; // scale·dSᵀ

@compute @workgroup_size(${32 * split})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let dAt = ${split > 1 ? `(lane / 32u) * ${D / split}u` : "0u"}; // this subgroup's share of the head dimension
  let part = ${split > 1 ? `(lane / 32u) * ${F * SS}u` : "0u"}; // and its partial score tiles
  let b = wg.y / p.KV;
  let kvh = wg.y % p.KV;
  let k0 = wg.x * ${F}u; // block 0 is seen by every query: the heaviest blocks start first
  let kvStride = p.KV * ${D}u;
  let qStride = p.H * ${D}u;
  let kvAt = ((b * p.T + k0) * p.KV + kvh) * ${D}u;
  let past = p.T - p.S;
  let G = p.H / p.KV;
${range(dc).map((c) => `  ${fr.zero(`dk${c}`)}\n  ${fr.zero(`dv${c}`)}`).join("\n")}
  // queries s see key k0 once past + s >= k0
  let sFirst = select(0u, k0 - past, k0 > past);
  for (var g = 0u; g < G; g++) {
    let h = kvh * G + g;
    for (var s0 = (sFirst / ${F}u) * ${F}u; s0 < p.S; s0 += ${QB}u) {
      let qAt = ((b * p.S + s0) * p.H + h) * ${D}u;
${scores}
      workgroupBarrier();
      {
        let col = ${lp.col};
        let q = s0 + col;
        let valid = q < p.S;
        let r = (b * p.S + min(q, p.S - 1u)) * p.H + h;
        let lse = LSE[r];
        let dl = Dlt[r];
        for (var ii = 0u; ii < ${lp.rows}u; ii++) { // constant bounds: the fragment code after stays uniform
          let i = ${lp.i0} + ii;
          let keep = valid && k0 + i <= past + q;
          let pr = select(0.0, exp((${partialSum("Ss", `i * ${SS}u + col`, SS, split)}) * p.scale - lse), keep);
          Pt[i * ${PS}u + col] = ${E}(pr);
          dSt[i * ${PS}u + col] = ${E}(select(0.0, pr * (${partialSum("Dps", `i * ${SS}u + col`, SS, split)} - dl) * p.scale, keep));
        }
      }
      workgroupBarrier();
${products}
    }
  }
${range(dc).map((c) => `  ${fr.store("dK", `kvAt + dAt + ${c * F}u`, `dk${c}`, "kvStride")}\n  ${fr.store("dV", `kvAt + dAt + ${c * F}u`, `dv${c}`, "kvStride")}`).join("\n")}
}
`
}

/** dQ: workgroup (16-query block, b·H + head), 32 lanes; a step is variant.qStep keys. */
export const attentionBackwardQTcWgsl = (D: number, mode: MatrixMode, variant: AttentionBackwardTcVariant = DEFAULT_ATTENTION_BACKWARD_TC): string => {
  const fr = fragments(mode)
  const { E } = fr
  const split = variant.splitD ?? 1
  const dc = D / F / split // fragments of the head dimension a subgroup owns, from dAt
  const KB = variant.qStep
  const kf = KB / F
  const SS = scoreStride(KB)
  const PS = halfStride(KB)
  const lp = lanePart(KB, 32 * split)
  const hold = variant.holdQ ?? true
  return `${fr.header}${split > 1 ? fr.perSubgroup : ""}${params}
${gradBindings(E)}
@group(0) @binding(6) var<storage, read_write> dQ: array<f32>;
@group(0) @binding(7) var<uniform> p: P;
var<workgroup> Ss: array<f32, ${split * F * SS}>; // S [query][key], a partial tile per subgroup
var<workgroup> Dps: array<f32, ${split * F * SS}>; // dP
var<workgroup> dSs: array<${E}, ${F * PS}>; // scale·dS
var<workgroup> Ls: array<f32, ${F}>;
var<workgroup> Ds: array<f32, ${F}>;

@compute @workgroup_size(${32 * split})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
  let dAt = ${split > 1 ? `(lane / 32u) * ${D / split}u` : "0u"}; // this subgroup's share of the head dimension
  let part = ${split > 1 ? `(lane / 32u) * ${F * SS}u` : "0u"}; // and its partial score tiles
  let b = wg.y / p.H;
  let h = wg.y % p.H;
  let kvh = h / (p.H / p.KV);
  let s0 = (p.S / ${F}u - 1u - wg.x) * ${F}u; // the last queries see the most keys: they start first
  let kvStride = p.KV * ${D}u;
  let qStride = p.H * ${D}u;
  let qAt = ((b * p.S + s0) * p.H + h) * ${D}u;
  let past = p.T - p.S;
  if (lane < ${F}u) {
    let r = (b * p.S + s0 + lane) * p.H + h;
    Ls[lane] = LSE[r];
    Ds[lane] = Dlt[r];
  }
${range(dc).map((c) => `${hold ? `  ${fr.load(`q${c}`, "left", "Q", `qAt + dAt + ${c * F}u`, false, "qStride")}
  ${fr.load(`o${c}`, "left", "dOh", `qAt + dAt + ${c * F}u`, false, "qStride")}
` : ""}  ${fr.zero(`dq${c}`)}`).join("\n")}
  let last = min(p.T, past + s0 + ${F}u); // keys any query of this block sees
  for (var k0 = 0u; k0 < last; k0 += ${KB}u) {
${range(kf).map((f) => `    if (k0 + ${f * F}u < p.T) {
      let kAt = ((b * p.T + k0 + ${f * F}u) * p.KV + kvh) * ${D}u;
      ${fr.zero("s")}
      ${fr.zero("dp")}
${range(dc).map((c) => `      {${hold ? "" : `
        ${fr.load(`q${c}`, "left", "Q", `qAt + dAt + ${c * F}u`, false, "qStride")}
        ${fr.load(`o${c}`, "left", "dOh", `qAt + dAt + ${c * F}u`, false, "qStride")}`}
        ${fr.load("kt", "right", "K", `kAt + dAt + ${c * F}u`, true, "kvStride")}
        ${fr.mma("s", `q${c}`, "kt")}
        ${fr.load("vt", "right", "V", `kAt + dAt + ${c * F}u`, true, "kvStride")}
        ${fr.mma("dp", `o${c}`, "vt")}
      }`).join("\n")}
      ${fr.store("Ss", `part + ${f * F}u`, "s", `${SS}u`)}
      ${fr.store("Dps", `part + ${f * F}u`, "dp", `${SS}u`)}
    }`).join("\n")}
    workgroupBarrier();
    {
      let col = ${lp.col};
      let key = k0 + col;
      for (var ii = 0u; ii < ${lp.rows}u; ii++) { // constant bounds: the fragment code after stays uniform
        let i = ${lp.i0} + ii;
        let keep = key < p.T && key <= past + s0 + i;
        let pr = select(0.0, exp((${partialSum("Ss", `i * ${SS}u + col`, SS, split)}) * p.scale - Ls[i]), keep);
        dSs[i * ${PS}u + col] = ${E}(select(0.0, pr * (${partialSum("Dps", `i * ${SS}u + col`, SS, split)} - Ds[i]) * p.scale, keep));
      }
    }
    workgroupBarrier();
${range(kf).map((f) => `    if (k0 + ${f * F}u < p.T) {
      let kAt = ((b * p.T + k0 + ${f * F}u) * p.KV + kvh) * ${D}u;
      ${fr.load("ds", "left", "dSs", `${f * F}u`, false, `${PS}u`)}
${range(dc).map((c) => `      {
        ${fr.load("kc", "right", "K", `kAt + dAt + ${c * F}u`, false, "kvStride")}
        ${fr.mma(`dq${c}`, "ds", "kc")}
      }`).join("\n")}
    }`).join("\n")}
  }
${range(dc).map((c) => `  ${fr.store("dQ", `qAt + dAt + ${c * F}u`, `dq${c}`, "qStride")}`).join("\n")}
}
`
}

/**
 * Compiles the tensor-core backward for head_dim D (a multiple of 16). S and T must be multiples
 * of 16 (fragments are loaded and stored whole; callers pad, as for the forward); steps of 32
 * queries or keys (`variant`) take a last half step. The result records the three dispatches for one shape;
 * Dlt and the f16 copy of dO use scratch buffers when the caller binds none.
 */
export const tensorCoreAttentionBackward = async (gpu: Gpu, D: number, mode: MatrixMode = "subgroup", variant: AttentionBackwardTcVariant = DEFAULT_ATTENTION_BACKWARD_TC): Promise<(b: AttentionBackwardBuffers, B: number, S: number, H: number, KV: number, T: number) => Array<Dispatch>> => {
  if (D % (F * (variant.splitD ?? 1)) !== 0) throw new AttentionBackwardShapeError(`tensor-core attention backward: head_dim ${D} must be a multiple of ${F * (variant.splitD ?? 1)}`)
  if (mode === "subgroup" && (!gpu.hasF16 || pickMatrixConfig(gpu)?.M !== F)) throw new Error(`tensor-core attention backward: this adapter has no f16 ${F}×${F} subgroup matrices`)
  const tag = `d${D}${mode === "emulated" ? "-emulated" : ""}`
  const [prep, kv, q] = await Promise.all([
    pipeline(gpu.device, attentionBackwardPrepWgsl(D, mode), `attention-backward-tc-prep-${tag}`),
    pipeline(gpu.device, attentionBackwardKvTcWgsl(D, mode, variant), `attention-backward-tc-dkdv-${tag}-q${variant.kvStep}${(variant.splitD ?? 1) > 1 ? `-d${variant.splitD}` : ""}`),
    pipeline(gpu.device, attentionBackwardQTcWgsl(D, mode, variant), `attention-backward-tc-dq-${tag}-k${variant.qStep}${variant.holdQ === false ? "-reload" : ""}${(variant.splitD ?? 1) > 1 ? `-d${variant.splitD}` : ""}`)
  ])
  const scratch = new Map<string, { buffer: GPUBuffer; bytes: number }>()
  const scratchFor = (name: string, bytes: number): GPUBuffer => {
    const s = scratch.get(name)
    if (s && s.bytes >= bytes) return s.buffer
    const made = { buffer: storageBuffer(gpu.device, bytes), bytes }
    scratch.set(name, made)
    return made.buffer
  }
  const element = mode === "subgroup" ? 2 : 4
  return (b, B, S, H, KV, T) => {
    if (H % KV !== 0) throw new AttentionBackwardShapeError(`attention backward: H (${H}) must be a multiple of KV (${KV})`)
    if (S > T) throw new AttentionBackwardShapeError(`attention backward: S (${S}) must not exceed T (${T})`)
    if (S % F !== 0 || T % F !== 0) throw new AttentionBackwardShapeError(`tensor-core attention backward: S (${S}) and T (${T}) must be multiples of ${F}; pad the sequence`)
    const rows = B * S * H
    const Dlt = b.Dlt ?? scratchFor("Dlt", rows * 4)
    const dOh = b.dOh ?? scratchFor("dOh", rows * D * element)
    return [
      { pipeline: prep, buffers: [b.dO, b.O, Dlt, dOh, b.params], groups: grid(Math.ceil(rows / 8)) },
      { pipeline: kv, buffers: [b.Q, b.K, b.V, dOh, b.LSE, Dlt, b.dK, b.dV, b.params], groups: [T / F, B * KV] },
      { pipeline: q, buffers: [b.Q, b.K, b.V, dOh, b.LSE, Dlt, b.dQ, b.params], groups: [S / F, B * H] }
    ]
  }
}

/**
 * The attention backward for f16 Q/K/V/O an adapter runs best: the tensor-core kernels where it has
 * f16 16×16 subgroup matrices (and D is a multiple of 16), else the f32 CUDA-core kernels of
 * attention-backward.ts — the same choice by features as the forward. The tensor-core kernels
 * need S and T multiples of 16 (the trainer's sequences are). `only` "f32" forces the fallback
 * (benchmarks compare the two).
 */
export const attentionBackwardFor = async (gpu: Gpu, D: number, only?: "f32"): Promise<{ readonly kind: "tensor-core" | "f32"; readonly record: (b: AttentionBackwardBuffers, B: number, S: number, H: number, KV: number, T: number) => Array<Dispatch> }> =>
  only !== "f32" && gpu.hasF16 && pickMatrixConfig(gpu)?.M === F && D % F === 0
    ? { kind: "tensor-core", record: await tensorCoreAttentionBackward(gpu, D) }
    : { kind: "f32", record: await attentionBackward(gpu, D, "f16") }
