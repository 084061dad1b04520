import { pipeline, type Binding, type Dispatch } from "./buffers.ts"
import { type Gpu, pickMatrixConfig } from "./device.ts"
import { fragmentAccumulators, fragmentProducts, storeFragments } from "./subgroup-matrix.ts"
import { NF4_CODE } from "../../formats/nf4.ts"
import { range } from "./codegen.ts"

/**
 * Matmul kernels for linear layers: C[M,N] (f32) = A[M,K] (f16, row-major) · Bᵀ, with B the
 * weight in its checkpoint layout [N,K] (row-major), either f16 or NF4 (4-bit indices packed two
 * a byte, first in the high nibble, f32 absmax per block of 64 along the row — bitsandbytes'
 * layout, see model/formats/nf4.ts). Accumulation is f32.
 *
 * Two implementations, chosen from what the adapter offers:
 * - "subgroup-matrix": tensor cores through `chromium-experimental-subgroup-matrix`; a workgroup
 *   of one subgroup computes a 64×64 tile as F×F fragments (F = 16 or 8). (A workgroup of 8
 *   subgroups sharing a 128×128 tile does not compile: subgroupMatrixStore needs a
 *   workgroup-uniform offset, and a subgroup's index is not one — seen on the H100 with Dawn.)
 * - "tiled": shared-memory tiles of 128×128×16, each of 256 threads computing 8×8 outputs in
 *   registers (fully unrolled here, so the driver compiler keeps them in registers).
 * NF4 weights are dequantised while the B tile is loaded into shared memory, so the
 * full-precision weight never exists in GPU memory.
 *
 * With `weightLayout: "kn"` the weight is read as stored [K,N] instead (C = A·B: the backward
 * dX = dY·W of y = x·Wᵀ, W [out, in] in its checkpoint layout, K = out, N = in; NF4 blocks of 64
 * then run along N); only the B-tile load differs.
 *
 * Shapes: M, N multiples of 128 and K a multiple of 64 (fleuve pads the token dimension).
 */

export type WeightFormat = "f16" | "nf4"
export type MatmulImpl = "subgroup-matrix" | "tiled"
/** How the weight B is stored: "nk" = [N,K] (C = A·Bᵀ, default), "kn" = [K,N] (C = A·B). */
export type WeightLayout = "nk" | "kn"

const BM = 128
const BN = 128

// The code book lives in workgroup memory: a runtime index into a constant array can spill to local memory.
const nf4Const = `const NF4_CODE = array<f32, 16>(${[...NF4_CODE].map((v) => v.toFixed(10)).join(", ")});
var<workgroup> NF4: array<f32, 16>;`
const nf4Init = (format: WeightFormat) => (format === "nf4" ? "  if (lid < 16u) { NF4[lid] = NF4_CODE[lid]; }\n  workgroupBarrier();\n" : "")


/**
 * Loads the B tile (TN n-values × BK k-values starting at n0, k0) into shared memory `Bs`, as
 * [n][k] (`tile` "nk", the tensor-core kernel) or [k][n] ("kn", the tiled kernel). `weight` is how
 * B sits in memory: "nk" = [N,K] (C = A·Bᵀ, the forward), "kn" = [K,N] (C = A·B, the backward dX =
 * dY·W of a weight W [out, in]); either way lanes walk along the stored row, so reads coalesce.
 */
const loadB = (format: WeightFormat, BK: number, threads: number, target: "f16" | "f32", tile: "nk" | "kn", weight: WeightLayout = "nk", TN = BN) => {
  const store = (n: string, k: string, v: string) => (tile === "nk" ? `Bs[(${n}) * ${BK}u + (${k})] = ${target}(${v});` : `Bs[(${k}) * ${TN}u + (${n})] = ${target}(${v});`)
  if (format === "f16") {
    const per = (TN * BK) / 4 / threads
    if (weight === "kn") {
      return range(per).map((i) => `
    {
      let idx = lid + ${i * threads}u;
      let kr = idx / ${TN / 4}u;
      let c = (idx % ${TN / 4}u) * 4u;
      let v = B[((k0 + kr) * p.N + n0 + c) / 4u];
      ${range(4).map((j) => store(`c + ${j}u`, "kr", `v[${j}]`)).join("\n      ")}
    }`).join("")
    }
    return range(per).map((i) => `
    {
      let idx = lid + ${i * threads}u;
      let r = idx / ${BK / 4}u;
      let c = (idx % ${BK / 4}u) * 4u;
      let v = B[((n0 + r) * p.K + k0 + c) / 4u];
      ${range(4).map((j) => store("r", `c + ${j}u`, `v[${j}]`)).join("\n      ")}
    }`).join("")
  }
  // NF4: one u32 word = 8 consecutive elements of a stored row, all in the same absmax block of 64.
  const words = (TN * BK) / 8
  const per = Math.max(1, words / threads)
  // "nk": the word holds k-values c … c+7 of row n = r; "kn": n-values c … c+7 of stored row k = r.
  const rowsPer = weight === "nk" ? BK / 8 : TN / 8
  const element = weight === "nk" ? "(n0 + r) * p.K + k0 + c" : "(k0 + r) * p.N + n0 + c"
  const at = (j: number): readonly [string, string] => (weight === "nk" ? ["r", `c + ${j}u`] : [`c + ${j}u`, "r"])
  return range(per).map((i) => `
    {
      let idx = lid + ${i * threads}u;
      ${words < threads ? `if (idx < ${words}u) {` : "{"}
      let r = idx / ${rowsPer}u;
      let c = (idx % ${rowsPer}u) * 8u;
      let e = ${element};
      let w = Bq[e / 8u];
      let s = absmax[e / 64u];
      ${range(4).map((b) => `${store(...at(2 * b), `NF4[(w >> ${8 * b + 4}u) & 15u] * s`)}
      ${store(...at(2 * b + 1), `NF4[(w >> ${8 * b}u) & 15u] * s`)}`).join("\n      ")}
      }
    }`).join("")
}

const bBindings = (format: WeightFormat) =>
  format === "f16"
    ? "@group(0) @binding(1) var<storage, read> B: array<vec4<f16>>;"
    : "@group(0) @binding(1) var<storage, read> Bq: array<u32>;\n@group(0) @binding(4) var<storage, read> absmax: array<f32>;"

/** Parameters, A (f16), B (f16 or NF4 words + absmax), C (f32): what both matmul kernels bind. */
const matmulBindings = (format: WeightFormat) => `struct P { M: u32, N: u32, K: u32, _pad: u32 }
@group(0) @binding(0) var<storage, read> A: array<vec4<f16>>;
${bBindings(format)}
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
${format === "nf4" ? nf4Const : ""}`

/**
 * fragmentProducts for a B tile kept [k][n] (row stride T), as the "kn" weight layout loads it:
 * lanes then store consecutive n to consecutive addresses (the [n][k] tile would put a row of
 * lanes 4·BK values apart, all in one bank), and the right fragments load row-major.
 */
const fragmentProductsKn = (fr: number, F: number, BK: number, T: number): string => `    for (var kk = 0u; kk < ${BK}u; kk += ${F}u) {
${range(fr).map((j) => `      let b${j} = subgroupMatrixLoad<subgroup_matrix_right<f16, ${F}, ${F}>>(&Bs, kk * ${T}u + ${j * F}u, false, ${T}u);`).join("\n")}
${range(fr).map((i) => `      {
        let a = subgroupMatrixLoad<subgroup_matrix_left<f16, ${F}, ${F}>>(&As, ${i * F * BK}u + kk, false, ${BK}u);
${range(fr).map((j) => `        acc_${i}_${j} = subgroupMatrixMultiplyAccumulate(a, b${j}, acc_${i}_${j});`).join("\n")}
      }`).join("\n")}
    }`

/**
 * WGSL for the tensor-core kernel: one subgroup computes a 64×64 tile as F×F fragments, BK 32.
 * The B tile sits in workgroup memory as [n][k] for "nk" weights, [k][n] for "kn" ones.
 */
export const subgroupMatrixWgsl = (format: WeightFormat, F: number, accumulate = false, weight: WeightLayout = "nk"): string => {
  const BK = 32
  const threads = 32
  const T = 64
  const fr = T / F
  return `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
${matmulBindings(format)}
var<workgroup> As: array<f16, ${T * BK}>;
var<workgroup> Bs: array<f16, ${T * BK}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m0 = wg.y * ${T}u;
  let n0 = wg.x * ${T}u;
  let base = m0 * p.N + n0;
${nf4Init(format)}${fragmentAccumulators(fr, F, accumulate ? "base" : undefined)}
  for (var k0 = 0u; k0 < p.K; k0 += ${BK}u) {
${range((T * BK) / 4 / threads).map((i) => `    {
      let idx = lid + ${i * threads}u;
      let r = idx / ${BK / 4}u;
      let c = (idx % ${BK / 4}u) * 4u;
      let v = A[((m0 + r) * p.K + k0 + c) / 4u];
      As[r * ${BK}u + c] = v.x; As[r * ${BK}u + c + 1u] = v.y; As[r * ${BK}u + c + 2u] = v.z; As[r * ${BK}u + c + 3u] = v.w;
    }`).join("\n")}
${loadB(format, BK, threads, "f16", weight, weight, T)}
    workgroupBarrier();
${weight === "nk" ? fragmentProducts(fr, F, BK) : fragmentProductsKn(fr, F, BK, T)}
    workgroupBarrier();
  }
${storeFragments(fr, F, "base")}
}
`
}

/** WGSL for the shared-memory kernel: 128×128 tile, BK 16, 8×8 outputs a thread. */
export const tiledWgsl = (format: WeightFormat, accumulate = false, weight: WeightLayout = "nk"): string => {
  const BK = 16
  const threads = 256
  const T = 8
  return `enable f16;
${matmulBindings(format)}
var<workgroup> As: array<f32, ${BK * BM}>;
var<workgroup> Bs: array<f32, ${BK * BN}>;

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m0 = wg.y * ${BM}u;
  let n0 = wg.x * ${BN}u;
  let tx = lid % 16u;
  let ty = lid / 16u;
${nf4Init(format)}${range(T).flatMap((i) => range(T).map((j) => `  var c${i * T + j} = ${accumulate ? `C[(m0 + ty + ${16 * i}u) * p.N + n0 + tx + ${16 * j}u]` : "0.0"};`)).join("\n")}
  for (var k0 = 0u; k0 < p.K; k0 += ${BK}u) {
${range((BM * BK) / 4 / threads).map((i) => `    {
      let idx = lid + ${i * threads}u;
      let r = idx / ${BK / 4}u;
      let c = (idx % ${BK / 4}u) * 4u;
      let v = vec4<f32>(A[((m0 + r) * p.K + k0 + c) / 4u]);
      As[c * ${BM}u + r] = v.x; As[(c + 1u) * ${BM}u + r] = v.y; As[(c + 2u) * ${BM}u + r] = v.z; As[(c + 3u) * ${BM}u + r] = v.w;
    }`).join("\n")}
${loadB(format, BK, threads, "f32", "kn", weight)}
    workgroupBarrier();
    for (var k = 0u; k < ${BK}u; k++) {
${range(T).map((i) => `      let a${i} = As[k * ${BM}u + ty + ${16 * i}u];`).join("\n")}
${range(T).map((j) => `      let b${j} = Bs[k * ${BN}u + tx + ${16 * j}u];`).join("\n")}
${range(T).flatMap((i) => range(T).map((j) => `      c${i * T + j} = fma(a${i}, b${j}, c${i * T + j});`)).join("\n")}
    }
    workgroupBarrier();
  }
${range(T).flatMap((i) => range(T).map((j) => `  C[(m0 + ty + ${16 * i}u) * p.N + n0 + tx + ${16 * j}u] = c${i * T + j};`)).join("\n")}
}
`
}

export interface MatmulPlan {
  readonly impl: MatmulImpl
  /** which kernel compiled: "sm16x1" (1 subgroup, 64×64 tile, 16×16 fragments), "tiled" (128×128) */
  readonly variant: string
  readonly fragment?: number
  readonly pipeline: GPUComputePipeline
  /** buffers: A (f16), B (f16 or packed NF4 words), C (f32), params (uniform), [absmax (f32) for NF4] */
  dispatch(buffers: { A: Binding; B: Binding; C: Binding; params: GPUBuffer; absmax?: Binding }, M: number, N: number): Dispatch
}

export const checkMatmulShape = (M: number, N: number, K: number) => {
  if (M % BM !== 0 || N % BN !== 0 || K % 64 !== 0) throw new Error(`matmul ${M}×${K} · ${N}×${K}ᵀ: M and N must be multiples of 128 and K of 64`)
}

export interface MatmulOptions {
  /** C += A·op(B) instead of C = A·op(B) */
  readonly accumulate?: boolean
  /** "nk" (default): B stored [N,K], C = A·Bᵀ. "kn": B stored [K,N] (a weight [out, in] for dX = dY·W: K = out, N = in), C = A·B. */
  readonly weightLayout?: WeightLayout
}

/**
 * Compiles the best matmul for this adapter (or the implementation asked for). Tensor-core
 * variants are tried in order of speed; one the WGSL compiler refuses falls to the next.
 */
export const matmulPlan = async (gpu: Gpu, format: WeightFormat, prefer?: MatmulImpl, options: MatmulOptions = {}): Promise<MatmulPlan> => {
  const accumulate = options.accumulate ?? false
  const weight = options.weightLayout ?? "nk"
  const cfg = pickMatrixConfig(gpu)
  const impl: MatmulImpl = prefer ?? (cfg ? "subgroup-matrix" : "tiled")
  if (impl === "subgroup-matrix" && !cfg) throw new Error("this adapter offers no f16 subgroup-matrix configuration")
  const candidates: Array<{ variant: string; code: string; tile: number }> = impl === "subgroup-matrix"
    ? [{ variant: `sm${cfg!.M}x1`, code: subgroupMatrixWgsl(format, cfg!.M, accumulate, weight), tile: 64 }]
    : [{ variant: "tiled", code: tiledWgsl(format, accumulate, weight), tile: 128 }]
  const failures: Array<string> = []
  for (const c of candidates) {
    try {
      const p = await pipeline(gpu.device, c.code, `matmul-${c.variant}-${format}${weight === "kn" ? "-kn" : ""}${accumulate ? "-acc" : ""}`)
      return {
        impl,
        variant: c.variant,
        ...(impl === "subgroup-matrix" ? { fragment: cfg!.M } : {}),
        pipeline: p,
        dispatch: (b, M, N) => ({
          pipeline: p,
          buffers: format === "nf4" ? [b.A, b.B, b.C, b.params, b.absmax!] : [b.A, b.B, b.C, b.params],
          groups: [N / c.tile, M / c.tile]
        })
      }
    } catch (e) {
      failures.push(e instanceof Error ? e.message.split("\n")[0]! : String(e))
    }
  }
  throw new Error(`no ${impl} matmul compiled: ${failures.join(" | ")}`)
}
