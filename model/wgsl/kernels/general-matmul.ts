/**
 * A general matmul for training (LoRA and backward passes): for z < batch,
 *   C_z[M,N] (= or +=) alpha · op(A_z) · op(B_z)
 * op(A) = A stored [M,K] row-major, or Aᵀ when `transposeA` (A stored [K,M]); op(B) = B stored
 * [K,N], or Bᵀ when `transposeB` (B stored [N,K]); C f32 row-major. Any M, N, K (every load and
 * store is bounds-checked, so no padding), batch strides in elements (0 broadcasts an operand).
 * A and B may be stored f32 or f16 (converted on load); all arithmetic is f32.
 *
 * Shared-memory tiled kernels of 256 threads, each thread 4×4 outputs in registers, in two shapes
 * picked per call from the problem size:
 * - "tile64": a 64×64 tile of C a workgroup, K in steps of 16. For the big products
 *   (dX += du·A with K = r: 16384 × in, and anything with enough tiles to fill the GPU).
 * - "splitk32": a 32×32 tile a workgroup whose 4 groups of 64 threads each take a quarter of every
 *   64-deep K slab, their partial tiles summed in workgroup memory at the end. For the skinny
 *   LoRA products with a long reduction (dB = s·dYᵀ·u and dA = duᵀ·x: M×N = out × 16 or 16 × in,
 *   K = 16384 tokens; u = x·Aᵀ with N = 16): 4× as many workgroups as a 64-tile and a quarter of
 *   the padding waste, with each workgroup's K loop still reading coalesced slabs.
 * `dispatches` goes further for a long reduction onto few tiles (dB, dA at 16384 tokens: K = 16384
 * onto 1024 × 16 outputs, 32 tiles): 8 K-chunks across workgroups into a partials buffer, then a
 * pass summing them onto C (WGSL has no float atomics to do it in one).
 * Loads walk along each operand's contiguous dimension, so global reads coalesce whatever the
 * transposes; workgroup tiles are k-major with one float of padding a row so that transposing
 * stores do not all hit one bank.
 */

import { type Binding, type Dispatch, pipeline, storageBuffer, uniformBuffer } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { range } from "./codegen.ts"

export type StorageType = "f32" | "f16"
export type GeneralMatmulVariant = "tile64" | "splitk32"

export interface GeneralMatmulOptions {
  readonly aType: StorageType
  readonly bType: StorageType
  readonly transposeA: boolean
  readonly transposeB: boolean
  readonly accumulate: boolean
  /** force one kernel shape (tests, benchmarks); default: picked per dispatch by `pickVariant` */
  readonly variant?: GeneralMatmulVariant
}

export interface GeneralMatmulShape {
  readonly M: number
  readonly N: number
  readonly K: number
  readonly batch?: number
}

/** Batch strides in elements; default: the dense sizes M·K, K·N, M·N. 0 broadcasts one operand to every batch. */
export interface GeneralMatmulStrides {
  readonly A?: number
  readonly B?: number
  readonly C?: number
}

export interface GeneralMatmul {
  readonly options: GeneralMatmulOptions
  /** bindings: A, B, C (f32, read_write), params (uniform from `generalMatmulParams`) */
  dispatch(b: GeneralMatmulBuffers, shape: GeneralMatmulShape): Dispatch
  /**
   * The same product as one dispatch, or, for a long reduction onto few output tiles (batch 1,
   * K ≥ 2048, under 132 tiles of 32×32: dB = s·dYᵀ·u, dA = duᵀ·x), as two: SPLIT_K workgroups a
   * tile each take a K-chunk into a partials buffer that this object owns (grown as needed,
   * reused: dispatches in a pass run in order), then one pass sums them onto C. With a forced
   * `variant`, always the one dispatch.
   */
  dispatches(b: GeneralMatmulBuffers, shape: GeneralMatmulShape): Array<Dispatch>
}

export interface GeneralMatmulBuffers {
  readonly A: Binding
  readonly B: Binding
  readonly C: Binding
  readonly params: GPUBuffer
}

/** K-chunks of the split path (`dispatches`): 32-tiles × 8 fills an H100 for out or in ≥ 1024. */
export const SPLIT_K = 8

/** Whether `dispatches` splits K across workgroups for this shape. */
export const splitsK = (s: GeneralMatmulShape): boolean => (s.batch ?? 1) === 1 && s.K >= 2048 && Math.ceil(s.M / 32) * Math.ceil(s.N / 32) < 132

/** Second pass of the split path: C (= or +=) alpha · Σ_z partials[z]. Bindings: partials, C, params (the product's). */
export const splitReduceWgsl = (accumulate: boolean, splitK: number): string => `struct P { M: u32, N: u32, K: u32, batch: u32, strideA: u32, strideB: u32, strideC: u32, _pad: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> C: array<f32>;
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = (wg.y * nwg.x + wg.x) * 256u + lid;
  let mn = p.M * p.N;
  if (i >= mn) { return; }
  let sum = ${range(splitK).map((z) => `partials[${z === 0 ? "" : `${z}u * mn + `}i]`).join(" + ")};
  C[i] = ${accumulate ? "C[i] + " : ""}p.alpha * sum;
}
`

interface Config {
  readonly BM: number
  readonly BN: number
  /** outputs a thread along M and N */
  readonly TM: number
  readonly TN: number
  /** thread groups splitting each K slab (their partial tiles are summed at the end) */
  readonly KS: number
  /** K values a group takes from each slab */
  readonly BK: number
}

const THREADS = 256

const CONFIGS: Record<GeneralMatmulVariant, Config> = {
  tile64: { BM: 64, BN: 64, TM: 4, TN: 4, KS: 1, BK: 16 },
  splitk32: { BM: 32, BN: 32, TM: 4, TN: 4, KS: 4, BK: 16 }
}

/** Workgroups needed to fill an H100 (132 SMs) about twice. */
const ENOUGH_TILES = 264

/**
 * tile64 when its 64×64 tiles alone fill the GPU and neither M nor N is skinny, or when K is too
 * short to split (splitk32 takes K in slabs of 64: with K = r = 16 three of its four groups would
 * multiply zeros); splitk32 for the skinny or long-reduction products (the LoRA ones), where
 * 64-tiles would leave SMs idle.
 */
export const pickVariant = (s: GeneralMatmulShape): GeneralMatmulVariant => {
  if (s.K < 128) return "tile64"
  const tiles = Math.ceil(s.M / 64) * Math.ceil(s.N / 64) * (s.batch ?? 1)
  return tiles >= ENOUGH_TILES && Math.min(s.M, s.N) > 32 ? "tile64" : "splitk32"
}

/** WGSL of one variant. Bindings: A, B, C, params {M, N, K, batch, strideA, strideB, strideC, _, alpha}. */
export const generalMatmulWgsl = (o: GeneralMatmulOptions, variant: GeneralMatmulVariant, splitK = 1): string => {
  // splitK > 1: the first pass of `dispatches`: workgroup z takes K-chunk z (batch 1) and writes
  // its unscaled partial product to slice z of C (here the partials buffer), for splitReduceWgsl to sum.
  const split = splitK > 1
  const { BM, BN, TM, TN, KS, BK } = CONFIGS[variant]
  const groupThreads = (BM / TM) * (BN / TN)
  if (groupThreads * KS !== THREADS) throw new Error(`general matmul ${variant}: ${groupThreads} × ${KS} threads is not ${THREADS}`)
  const SLAB = KS * BK
  const AS = BM + 1 // row stride of the k-major A tile (padded)
  const BS = BN + 1
  const B_BASE = SLAB * AS
  const shared = Math.max(SLAB * (AS + BS), KS > 1 ? KS * BM * BN : 0)
  const sm = BM / TM // row step between a thread's outputs
  const sn = BN / TN
  const f16 = o.aType === "f16" || o.bType === "f16"

  // One slab of an operand into workgroup memory, k-major: lanes walk the stored row.
  const loadA = range((BM * SLAB) / THREADS).map((i) => {
    const [kk, r] = o.transposeA ? [`idx / ${BM}u`, `idx % ${BM}u`] : [`idx % ${SLAB}u`, `idx / ${SLAB}u`]
    const at = o.transposeA ? "k * p.M + m" : "m * p.K + k"
    return `    {
      let idx = lid + ${i * THREADS}u;
      let kk = ${kk};
      let r = ${r};
      let m = m0 + r;
      let k = k0 + kk;
      var v = 0.0;
      if (m < p.M && k < kEnd) { v = f32(A[offA + ${at}]); }
      Sh[kk * ${AS}u + r] = v;
    }`
  }).join("\n")
  const loadB = range((BN * SLAB) / THREADS).map((i) => {
    const [kk, c] = o.transposeB ? [`idx % ${SLAB}u`, `idx / ${SLAB}u`] : [`idx / ${BN}u`, `idx % ${BN}u`]
    const at = o.transposeB ? "n * p.K + k" : "k * p.N + n"
    return `    {
      let idx = lid + ${i * THREADS}u;
      let kk = ${kk};
      let c = ${c};
      let n = n0 + c;
      let k = k0 + kk;
      var v = 0.0;
      if (n < p.N && k < kEnd) { v = f32(B[offB + ${at}]); }
      Sh[${B_BASE}u + kk * ${BS}u + c] = v;
    }`
  }).join("\n")

  const outputs = range(TM).flatMap((i) => range(TN).map((j) => ({ i, j, name: `c${i}_${j}` })))
  const write = (m: string, n: string, v: string) => `{
    let m = ${m};
    let n = ${n};
    if (m < p.M && n < p.N) {
      let o = offC + m * p.N + n;
      C[o] = ${split ? v : `${o.accumulate ? "C[o] + " : ""}p.alpha * ${v}`};
    }
  }`
  const epilogue = KS === 1
    ? outputs.map(({ i, j, name }) => `  ${write(`m0 + ty + ${i * sm}u`, `n0 + tx + ${j * sn}u`, name)}`).join("\n")
    : `  // each group's partial tile into workgroup memory, then every thread sums ${(BM * BN) / THREADS} outputs over the groups
${outputs.map(({ i, j, name }) => `  Sh[g * ${BM * BN}u + (ty + ${i * sm}u) * ${BN}u + tx + ${j * sn}u] = ${name};`).join("\n")}
  workgroupBarrier();
${range((BM * BN) / THREADS).map((e) => `  {
    let idx = lid + ${e * THREADS}u;
    let sum = ${range(KS).map((g) => `Sh[${g * BM * BN}u + idx]`).join(" + ")};
    ${write(`m0 + idx / ${BN}u`, `n0 + idx % ${BN}u`, "sum")}
  }`).join("\n")}`

  return `${f16 ? "enable f16;\n" : ""}struct P { M: u32, N: u32, K: u32, batch: u32, strideA: u32, strideB: u32, strideC: u32, _pad: u32, alpha: f32 }
@group(0) @binding(0) var<storage, read> A: array<${o.aType}>;
@group(0) @binding(1) var<storage, read> B: array<${o.bType}>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> Sh: array<f32, ${shared}>;

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let m0 = wg.y * ${BM}u;
  let n0 = wg.x * ${BN}u;
${split ? `  let offA = 0u;
  let offB = 0u;
  let offC = wg.z * p.M * p.N;
  // chunks of whole slabs, so that no slab straddles two of them
  let chunk = (p.K + ${splitK * SLAB - 1}u) / ${splitK * SLAB}u * ${SLAB}u;
  let kBegin = min(p.K, wg.z * chunk);
  let kEnd = min(p.K, kBegin + chunk);` : `  let offA = wg.z * p.strideA;
  let offB = wg.z * p.strideB;
  let offC = wg.z * p.strideC;
  let kBegin = 0u;
  let kEnd = p.K;`}
  let g = lid / ${groupThreads}u;
  let t = lid % ${groupThreads}u;
  let tx = t % ${BN / TN}u;
  let ty = t / ${BN / TN}u;
${outputs.map(({ name }) => `  var ${name} = 0.0;`).join("\n")}
  for (var k0 = kBegin; k0 < kEnd; k0 += ${SLAB}u) {
${loadA}
${loadB}
    workgroupBarrier();
    for (var k = 0u; k < ${BK}u; k++) {
      let kk = g * ${BK}u + k;
${range(TM).map((i) => `      let a${i} = Sh[kk * ${AS}u + ty + ${i * sm}u];`).join("\n")}
${range(TN).map((j) => `      let b${j} = Sh[${B_BASE}u + kk * ${BS}u + tx + ${j * sn}u];`).join("\n")}
${outputs.map(({ i, j, name }) => `      ${name} = fma(a${i}, b${j}, ${name});`).join("\n")}
    }
    workgroupBarrier();
  }
${epilogue}
}
`
}

/** The uniform the kernel reads: words [M, N, K, batch, strideA, strideB, strideC, 0], floats [alpha]. */
export const generalMatmulParams = (device: GPUDevice, shape: GeneralMatmulShape, strides: GeneralMatmulStrides = {}, alpha = 1): GPUBuffer => {
  const { M, N, K } = shape
  return uniformBuffer(device, [M, N, K, shape.batch ?? 1, strides.A ?? M * K, strides.B ?? K * N, strides.C ?? M * N, 0], [alpha])
}

const MAX_GROUPS = 65535

/** Compiles both kernel shapes (and the split-K pair) for one (types, transposes, accumulate) combination. */
export const generalMatmul = async (gpu: Gpu, o: GeneralMatmulOptions): Promise<GeneralMatmul> => {
  if ((o.aType === "f16" || o.bType === "f16") && !gpu.hasF16) throw new Error("general matmul: f16 storage needs shader-f16, which this adapter lacks")
  const device = gpu.device
  const name = `general-matmul-${o.aType}${o.transposeA ? "T" : ""}-${o.bType}${o.transposeB ? "T" : ""}${o.accumulate ? "-acc" : ""}`
  const variants: Array<GeneralMatmulVariant> = o.variant ? [o.variant] : ["tile64", "splitk32"]
  const compiled = new Map<GeneralMatmulVariant, GPUComputePipeline>()
  for (const v of variants) compiled.set(v, await pipeline(device, generalMatmulWgsl(o, v), `${name}-${v}`))
  // a forced kernel shape (tests, benchmarks) never splits: no need to compile the pair
  const split = o.variant ? undefined : {
    first: await pipeline(device, generalMatmulWgsl(o, "splitk32", SPLIT_K), `${name}-split${SPLIT_K}`),
    reduce: await pipeline(device, splitReduceWgsl(o.accumulate, SPLIT_K), `general-matmul-split${SPLIT_K}-reduce${o.accumulate ? "-acc" : ""}`)
  }
  let partials: GPUBuffer | undefined

  const checked = (shape: GeneralMatmulShape) => {
    const { M, N, K } = shape
    const batch = shape.batch ?? 1
    if (![M, N, K, batch].every((x) => Number.isInteger(x) && x >= 0)) throw new Error(`general matmul: bad shape ${JSON.stringify(shape)}`)
    return { M, N, K, batch }
  }
  const groupsOf = (M: number, N: number, K: number, z: number, variant: GeneralMatmulVariant) => {
    const { BM, BN } = CONFIGS[variant]
    const groups = [Math.ceil(N / BN), Math.ceil(M / BM), z] as const
    if (groups.some((g) => g > MAX_GROUPS)) throw new Error(`general matmul ${M}×${N}×${K} (${z} in z): ${groups.join(" × ")} workgroups, over ${MAX_GROUPS} in one dimension`)
    return groups
  }
  const dispatch = (b: GeneralMatmulBuffers, shape: GeneralMatmulShape): Dispatch => {
    const { M, N, K, batch } = checked(shape)
    const variant = o.variant ?? pickVariant(shape)
    return { pipeline: compiled.get(variant)!, buffers: [b.A, b.B, b.C, b.params], groups: groupsOf(M, N, K, batch, variant) }
  }
  return {
    options: o,
    dispatch,
    dispatches: (b, shape) => {
      const { M, N, K } = checked(shape)
      if (!split || !splitsK(shape) || M * N === 0) return [dispatch(b, shape)]
      const bytes = SPLIT_K * M * N * 4
      if (!partials || partials.size < bytes) partials = storageBuffer(device, bytes)
      const window = { buffer: partials, offset: 0, size: bytes }
      const blocks = Math.ceil((M * N) / 256)
      const reduceGroups = blocks <= MAX_GROUPS ? [blocks, 1] as const : [MAX_GROUPS, Math.ceil(blocks / MAX_GROUPS)] as const
      return [
        { pipeline: split.first, buffers: [b.A, b.B, window, b.params], groups: groupsOf(M, N, K, SPLIT_K, "splitk32") },
        { pipeline: split.reduce, buffers: [window, b.C, b.params], groups: reduceGroups }
      ]
    }
  }
}
