import { bestWallMs, pipeline, storageBuffer, uniformBuffer, type Binding, type Dispatch } from "./buffers.ts"
import { type Gpu, maxWorkgroupThreads, pickMatrixConfig } from "./device.ts"
import { fragmentAccumulators, fragmentProducts, storeFragments } from "./subgroup-matrix.ts"
import { NF4_CODE } from "../../formats/nf4.ts"
import { range } from "./codegen.ts"
import type { WeightFormat, WeightLayout } from "./weight-format.ts"
import { gateUpSharedBytes, gateUpValid, pickBlockWidth, pickSharedBytes, tileName, tileSharedBytes, tileSupports, tileThreads, tileValid, tiledTensorCoreWgsl, type MatmulEpilogue, type TileConfig } from "./matmul-tiles.ts"

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

export type { WeightFormat, WeightLayout } from "./weight-format.ts"
export type MatmulImpl = "subgroup-matrix" | "tiled"

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

export interface MatmulShape {
  readonly M: number
  readonly N: number
  readonly K: number
}

export interface MatmulPlan {
  readonly impl: MatmulImpl
  /**
   * the kernel a shape gets when `dispatch` is not told K or no tuning has run: "t128x256x32-…"
   * (a multi-subgroup tile of matmul-tiles.ts), "sm16x1" (one subgroup a 64×64 tile), "tiled"
   */
  readonly variant: string
  readonly fragment?: number
  readonly pipeline: GPUComputePipeline
  /** the kernels this plan chooses among (tile name → pipeline) */
  readonly variants: ReadonlyArray<string>
  /**
   * buffers: A (f16), B (f16 or packed NF4 words), C (f32), params (uniform), [absmax (f32) for NF4],
   * [G (f32) and Y (f16 pairs) for the SwiGLU epilogue; targets (u32 a row) for the pick epilogue,
   * whose C receives the partials]. With K, the shape's tuned kernel (see `tune`), else the heuristic's.
   */
  dispatch(buffers: { A: Binding; B: Binding; C: Binding; params: GPUBuffer; absmax?: Binding; G?: Binding; Y?: Binding; targets?: Binding }, M: number, N: number, K?: number): Dispatch
  /** The pick epilogue's columns a partial (the same for every tile the plan chooses among); undefined for other plans. */
  readonly pickWidth?: number
  /** The kernel `dispatch` picks for a shape. */
  choice(M: number, N: number, K?: number): string
  /**
   * Times every candidate kernel that tiles each shape (scratch operands of random values, freed
   * after) and keeps the fastest for `dispatch`; shapes tuned before on this device, by any plan of
   * the same format, layout and accumulation, are not timed again (the choice is cached per
   * process). Returns each shape's choice and the candidates' milliseconds.
   */
  tune(shapes: ReadonlyArray<MatmulShape>): Promise<ReadonlyArray<TuneResult>>
}

export interface TuneResult extends MatmulShape {
  readonly choice: string
  readonly ms: Readonly<Record<string, number>>
}

export const checkMatmulShape = (M: number, N: number, K: number) => {
  if (M % BM !== 0 || N % BN !== 0 || K % 64 !== 0) throw new Error(`matmul ${M}×${K} · ${N}×${K}ᵀ: M and N must be multiples of 128 and K of 64`)
}

export interface MatmulOptions {
  /** C += A·op(B) instead of C = A·op(B) */
  readonly accumulate?: boolean
  /** "nk" (default): B stored [N,K], C = A·Bᵀ. "kn": B stored [K,N] (a weight [out, in] for dX = dY·W: K = out, N = in), C = A·B. */
  readonly weightLayout?: WeightLayout
  /** only these tile configurations (tests, benchmarks); default: SHORTLIST */
  readonly tiles?: ReadonlyArray<TileConfig>
  /**
   * "swiglu": C = A·op(B) is the up projection, and Y = silu(G) · C is written too (matmul-tiles.ts'
   * MatmulEpilogue). "pick": the lm_head's logits reduced in the tile to log-softmax partials, never
   * stored. "gate-up": B is gate and up interleaved F rows at a time, and C receives silu(gate)·up
   * as f16 pairs [M, N/2] (neither projection stored). Multi-subgroup tensor-core tiles only (a plan that has none throws); the shapes'
   * tile choices are shared with the plain plan of the same format and layout.
   */
  readonly epilogue?: MatmulEpilogue
}

/**
 * The tile configurations a plan compiles and tunes among (matmul-tiles.ts), chosen from the
 * device exploration (bench/gpu/matmul-tune.ts, BENCHMARKS.md): big tiles for big products,
 * smaller ones where big tiles would leave multiprocessors idle (few output tiles).
 */
export const SHORTLIST: ReadonlyArray<TileConfig> = [
  { BM: 128, BN: 256, BK: 32, SGM: 2, SGN: 4, stages: 1, group: 8 },
  { BM: 256, BN: 128, BK: 32, SGM: 4, SGN: 2, stages: 1, group: 8 },
  { BM: 128, BN: 128, BK: 32, SGM: 2, SGN: 2, stages: 1, group: 8 }
]

/** Timed rounds per candidate when a shape is tuned (after one warm-up each). */
const TUNE_ROUNDS = 5

/** Workgroups that fill an H100/H200 (132 multiprocessors) once. */
export const FILL = 132

interface Candidate {
  readonly variant: string
  readonly pipeline: GPUComputePipeline
  readonly BM: number
  readonly BN: number
  readonly BK: number
  /** a subgroup's block width (the pick epilogue's partial) */
  readonly width?: number
}

const tuned = new Map<string, string>()

/** Every shape this process timed (plan `tune`): benches print them beside their profiles. */
export const tuneLog: Array<TuneResult & { readonly format: string }> = []

/**
 * Compiles the matmul kernels for this adapter (or the implementation asked for). With tensor
 * cores: every SHORTLIST tile configuration that compiles and fits the adapter's workgroup memory
 * (multi-subgroup tiles need 32-lane subgroups), plus the one-subgroup 64×64 kernel, which tiles
 * any shape the plan accepts and is the fallback when no multi-subgroup tile compiles
 * ("subgroup-matrix-single" asks for it alone).
 */
export const matmulPlan = async (gpu: Gpu, format: WeightFormat, prefer?: MatmulImpl | "subgroup-matrix-single", options: MatmulOptions = {}): Promise<MatmulPlan> => {
  const accumulate = options.accumulate ?? false
  const weight = options.weightLayout ?? "nk"
  const epilogue = options.epilogue ?? "none"
  if (epilogue !== "none" && (accumulate || prefer === "tiled" || prefer === "subgroup-matrix-single")) throw new Error(`matmul plan: the ${epilogue} epilogue needs the multi-subgroup tensor-core tiles and C = A·op(B)`)
  const cfg = pickMatrixConfig(gpu)
  const impl: MatmulImpl = prefer === "subgroup-matrix-single" ? "subgroup-matrix" : prefer ?? (cfg ? "subgroup-matrix" : "tiled")
  if (impl === "subgroup-matrix" && !cfg) throw new Error("this adapter offers no f16 subgroup-matrix configuration")
  const suffix = `${format}${weight === "kn" ? "-kn" : ""}${accumulate ? "-acc" : ""}`
  const candidates: Array<Candidate> = []
  const failures: Array<string> = []
  if (impl === "subgroup-matrix") {
    const F = cfg!.M
    const limit = gpu.device.limits.maxComputeWorkgroupStorageSize
    const tiles = prefer === "subgroup-matrix-single" || !subgroupsOf32(gpu) ? [] : (options.tiles ?? SHORTLIST)
    for (const t of tiles) {
      const epilogueBytes = epilogue === "pick" ? pickSharedBytes(t, F) : epilogue === "gate-up" ? gateUpSharedBytes(t, F) : 0
      if (!tileValid(t, F) || !tileSupports(t, format) || (epilogue === "gate-up" && !gateUpValid(t, F)) || tileSharedBytes(t, weight) + epilogueBytes > limit || tileThreads(t) > maxWorkgroupThreads(gpu)) continue
      try {
        const p = await pipeline(gpu.device, tiledTensorCoreWgsl(t, F, format, accumulate, weight, false, epilogue), `matmul-${tileName(t)}-${suffix}${epilogue === "none" ? "" : `-${epilogue}`}`)
        candidates.push({ variant: tileName(t), pipeline: p, BM: t.BM, BN: t.BN, BK: t.BK, width: pickBlockWidth(t) })
      } catch (e) {
        failures.push(e instanceof Error ? e.message.split("\n")[0]! : String(e))
      }
    }
    if (epilogue !== "none" && candidates.length === 0) throw new Error(`matmul plan: no multi-subgroup tile for the ${epilogue} epilogue on this adapter${failures.length ? ` (${failures[0]})` : ""}`)
    if (epilogue === "none" && (options.tiles === undefined || candidates.length === 0)) {
      const p = await pipeline(gpu.device, subgroupMatrixWgsl(format, F, accumulate, weight), `matmul-sm${F}x1-${suffix}`)
      candidates.push({ variant: `sm${F}x1`, pipeline: p, BM: 64, BN: 64, BK: 32 })
    }
  } else {
    const p = await pipeline(gpu.device, tiledWgsl(format, accumulate, weight), `matmul-tiled-${suffix}`)
    candidates.push({ variant: "tiled", pipeline: p, BM: 128, BN: 128, BK: 16 })
  }
  const fits = (c: Candidate, M: number, N: number, K?: number) => M % c.BM === 0 && N % c.BN === 0 && (K === undefined || K % c.BK === 0)
  // Without tuning: the largest tile that still gives every multiprocessor a workgroup, else the
  // one that gives the most workgroups (candidates are listed largest first).
  const heuristic = (M: number, N: number, K?: number): Candidate => {
    const ok = candidates.filter((c) => fits(c, M, N, K))
    if (ok.length === 0) throw new Error(`matmul ${M}×${N}${K === undefined ? "" : `×${K}`}: no kernel tiles this shape`)
    return ok.find((c) => (M / c.BM) * (N / c.BN) >= FILL) ?? ok.reduce((a, b) => ((M / b.BM) * (N / b.BN) > (M / a.BM) * (N / a.BN) ? b : a))
  }
  // a tuned choice is keyed by what the plan was asked for (not by what compiled): so an epilogue
  // plan shares the plain plan's choices over the same tiles
  const asked = `${prefer ?? "auto"}|${(options.tiles ?? SHORTLIST).map(tileName).join(",")}`
  const key = (M: number, N: number, K: number) => `${gpu.adapter.device}|${suffix}|${asked}|${M}x${N}x${K}`
  const pick = (M: number, N: number, K?: number): Candidate => {
    const t = K === undefined ? undefined : tuned.get(key(M, N, K))
    return (t && candidates.find((c) => c.variant === t)) || heuristic(M, N, K)
  }
  const first = candidates[0]!
  const widths = new Set(candidates.map((c) => c.width))
  if (epilogue === "pick" && widths.size !== 1) throw new Error(`matmul plan: the pick epilogue's tiles differ in block width (${[...widths].join(", ")}); the merge needs one`)
  return {
    impl,
    variant: first.variant,
    ...(impl === "subgroup-matrix" ? { fragment: cfg!.M } : {}),
    pipeline: first.pipeline,
    variants: candidates.map((c) => c.variant),
    ...(epilogue === "pick" ? { pickWidth: first.width! } : {}),
    choice: (M, N, K) => pick(M, N, K).variant,
    dispatch: (b, M, N, K) => {
      const c = pick(M, N, K)
      if (epilogue === "swiglu" && (!b.G || !b.Y)) throw new Error("matmul swiglu epilogue: bind G and Y")
      if (epilogue === "pick" && !b.targets) throw new Error("matmul pick epilogue: bind targets")
      return {
        pipeline: c.pipeline,
        buffers: [...(format === "nf4" ? [b.A, b.B, b.C, b.params, b.absmax!] : [b.A, b.B, b.C, b.params]), ...(epilogue === "swiglu" ? [b.G!, b.Y!] : epilogue === "pick" ? [b.targets!] : [])],
        groups: [N / c.BN, M / c.BM]
      }
    },
    tune: async (shapes) => {
      const results: Array<TuneResult> = []
      for (const { M, N, K } of shapes) {
        const ok = candidates.filter((c) => fits(c, M, N, K))
        const k = key(M, N, K)
        if (tuned.has(k) || ok.length < 2) {
          results.push({ M, N, K, choice: pick(M, N, K).variant, ms: {} })
          continue
        }
        const ms = await timeCandidates(gpu, format, ok, M, N, K, epilogue)
        const best = Object.entries(ms).reduce((a, b) => (b[1] < a[1] ? b : a))[0]
        tuned.set(k, best)
        results.push({ M, N, K, choice: best, ms })
        tuneLog.push({ format: suffix, M, N, K, choice: best, ms })
      }
      return results
    }
  }
}

/** Whether multi-subgroup tiles can assume 32-lane subgroups of consecutive invocations (NVIDIA). */
export const subgroupsOf32 = (gpu: Gpu): boolean => gpu.subgroupSizes === undefined || (gpu.subgroupSizes.min === 32 && gpu.subgroupSizes.max === 32)

/**
 * Milliseconds of each candidate on one shape: random operands, a few dispatches a submission,
 * best of TUNE_ROUNDS taking turns (bestWallMs): timed one after another, a gate/up shape once went
 * to the one-subgroup kernel at 111 TFLOP/s where the 128×128 tile does 156.
 */
const timeCandidates = async (gpu: Gpu, format: WeightFormat, cs: ReadonlyArray<Candidate>, M: number, N: number, K: number, epilogue: MatmulEpilogue = "none"): Promise<Record<string, number>> => {
  const dev = gpu.device
  // random bits: f16 pairs of magnitude under 1 (exponent capped) for A and f16 weights, raw words for NF4
  const words = (n: number, mask: number) => {
    const out = new Uint32Array(n)
    let x = 0x9e3779b9
    for (let i = 0; i < n; i++) {
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      out[i] = (x & mask) >>> 0
    }
    return out
  }
  const A = storageBuffer(dev, words((M * K) / 2, 0x3bff3bff))
  const B = storageBuffer(dev, format === "f16" ? words((N * K) / 2, 0x3bff3bff) : words((N * K) / 8, 0xffffffff))
  const absmax = format === "nf4" ? storageBuffer(dev, new Float32Array((N * K) / 64).fill(0.02)) : undefined
  const C = storageBuffer(dev, M * N * 4)
  const params = uniformBuffer(dev, [M, N, K, 0])
  // the epilogue's own operands: SwiGLU's G and Y, the pick's targets (random ids: which block holds one does not change the time)
  const extra = epilogue === "swiglu" ? [storageBuffer(dev, M * N * 4), storageBuffer(dev, M * N * 2)]
    : epilogue === "pick" ? [storageBuffer(dev, words(M, 0x3ffff))] : []
  const per = Math.max(1, Math.min(20, Math.round(4e11 / (2 * M * N * K))))
  const out: Record<string, number> = {}
  try {
    const lists = cs.map((c) => Array<Dispatch>(per).fill({ pipeline: c.pipeline, buffers: [...(format === "nf4" ? [A, B, C, params, absmax!] : [A, B, C, params]), ...extra], groups: [N / c.BN, M / c.BM] }))
    const best = await bestWallMs(dev, lists, TUNE_ROUNDS)
    cs.forEach((c, i) => (out[c.variant] = +(best[i]! / per).toFixed(4)))
  } finally {
    for (const b of [A, B, C, params, ...(absmax ? [absmax] : []), ...extra]) b.destroy()
  }
  return out
}
