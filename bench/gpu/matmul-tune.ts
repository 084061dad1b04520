/**
 * Explores the multi-subgroup tensor-core matmul (model/wgsl/kernels/matmul-tiles.ts) on the
 * device: every tile configuration is compiled (or its compiler error printed), checked against a
 * CPU reference (f16 and NF4 weights, "nk" and "kn" layouts, plain and accumulating), then timed
 * on the square and Qwen3 projection shapes, next to the one-subgroup kernel of matmul.ts.
 * One JSON object per line.
 *
 *   node bench/gpu/matmul-tune.ts [--robustness-off] [--quick]
 */
import { readBuffer, roundF16, storageBuffer, toF16, uniformBuffer, runDispatches, type Dispatch } from "../../model/wgsl/kernels/buffers.ts"
import { DAWN_TOGGLES, openGpu, pickMatrixConfig, type Gpu } from "../../model/wgsl/kernels/device.ts"
import { pipeline } from "../../model/wgsl/kernels/buffers.ts"
import { TILE_CONFIGS, tileFits, tileName, tileSharedBytes, tileThreads, tileValid, tiledTensorCoreWgsl, type TileConfig } from "../../model/wgsl/kernels/matmul-tiles.ts"
import { matmulPlan, type WeightFormat, type WeightLayout } from "../../model/wgsl/kernels/matmul.ts"
import { NF4_CODE } from "../../model/formats/nf4.ts"
import { emit, medianSeconds, rand } from "./common.ts"

const robustnessOff = process.argv.includes("--robustness-off")
const quick = process.argv.includes("--quick")

const refMatmul = (A: Float32Array, W: Float32Array, M: number, N: number, K: number, layout: WeightLayout, C0?: Float32Array) => {
  const C = new Float32Array(M * N)
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0
    for (let k = 0; k < K; k++) s += A[i * K + k]! * (layout === "nk" ? W[j * K + k]! : W[k * N + j]!)
    C[i * N + j] = s + (C0 ? C0[i * N + j]! : 0)
  }
  return C
}
const relErr = (got: Float32Array, want: Float32Array) => {
  let e = 0, m = 0
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i]!)) return Infinity
    e = Math.max(e, Math.abs(got[i]! - want[i]!))
    m = Math.max(m, Math.abs(want[i]!))
  }
  return e / (m || 1)
}

/** Random NF4 weights of `n` stored elements: words, absmax, and their f16-rounded dequantised values. */
const randomNf4 = (n: number, seed: number) => {
  const words = new Uint32Array(n / 8)
  let x = seed >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x >>> 0
  }
  const absmax = rand(n / 64, 0.05, seed + 1).map((v) => 0.01 + Math.abs(v))
  const values = new Float32Array(n)
  for (let e = 0; e < n; e++) {
    const w = words[e >> 3]!
    const b = (e & 7) >> 1
    const nib = e & 1 ? (w >>> (8 * b)) & 15 : (w >>> (8 * b + 4)) & 15
    values[e] = NF4_CODE[nib]! * absmax[e >> 6]!
  }
  return { words, absmax, values: roundF16(values) }
}

const bindings = (format: WeightFormat, A: GPUBuffer, B: GPUBuffer, C: GPUBuffer, params: GPUBuffer, absmax?: GPUBuffer) =>
  format === "nf4" ? [A, B, C, params, absmax!] : [A, B, C, params]

const check = async (gpu: Gpu, c: TileConfig, F: number, format: WeightFormat, layout: WeightLayout, accumulate: boolean) => {
  const [M, N, K] = [256, 512, 320]
  const dev = gpu.device
  const p = await pipeline(dev, tiledTensorCoreWgsl(c, F, format, accumulate, layout), `${tileName(c)}-${format}-${layout}${accumulate ? "-acc" : ""}`)
  const A = roundF16(rand(M * K, 1, 3))
  const w = format === "f16" ? { values: roundF16(rand(N * K, 0.05, 4)) } : randomNf4(N * K, 4)
  const C0 = rand(M * N, 1, 5)
  const Cb = storageBuffer(dev, accumulate ? C0 : new Float32Array(M * N).fill(NaN))
  const Bb = storageBuffer(dev, format === "f16" ? toF16(w.values) : (w as { words: Uint32Array }).words)
  const ab = format === "nf4" ? storageBuffer(dev, (w as { absmax: Float32Array }).absmax) : undefined
  await runDispatches(dev, [{ pipeline: p, buffers: bindings(format, storageBuffer(dev, toF16(A)), Bb, Cb, uniformBuffer(dev, [M, N, K, 0]), ab), groups: [N / c.BN, M / c.BM] }])
  const got = new Float32Array(await readBuffer(dev, Cb, M * N * 4))
  return relErr(got, refMatmul(A, w.values, M, N, K, layout, accumulate ? C0 : undefined))
}

const time = async (gpu: Gpu, d: Dispatch, flops: number) => {
  const per = Math.max(1, Math.min(20, Math.round(2e12 / flops)))
  return (await medianSeconds(gpu, Array(per).fill(d), flops > 5e11 ? 5 : 10, 2)) / per
}

const SHAPES: ReadonlyArray<[string, number, number, number]> = [
  ["square 8192", 8192, 8192, 8192], ["square 4096", 4096, 4096, 4096],
  ["q_proj", 8192, 2048, 1024], ["k/v_proj", 8192, 1024, 1024], ["o_proj", 8192, 1024, 2048],
  ["gate/up_proj", 8192, 3072, 1024], ["down_proj", 8192, 1024, 3072], ["lm_head chunk (M=1024)", 1024, 151936, 1024]
]

const main = async () => {
  const opened = await openGpu(robustnessOff ? { toggles: [DAWN_TOGGLES[0] + ",disable_robustness"] } : {})
  if (opened._tag !== "Ready") return emit({ kind: "error", reason: opened.reason })
  const gpu = opened.gpu
  const cfg = pickMatrixConfig(gpu)
  if (!cfg) return emit({ kind: "error", reason: "no f16 subgroup-matrix config" })
  const F = cfg.M
  const limit = gpu.device.limits.maxComputeWorkgroupStorageSize
  emit({ kind: "tune-start", robustnessOff, fragment: F, maxComputeWorkgroupStorageSize: limit, maxInvocations: gpu.device.limits.maxComputeInvocationsPerWorkgroup, adapter: gpu.adapter })
  const dev = gpu.device
  // operands big enough for every shape, made once
  const maxA = Math.max(...SHAPES.map(([, M, , K]) => M * K))
  const maxB = Math.max(...SHAPES.map(([, , N, K]) => N * K))
  const maxC = Math.max(...SHAPES.map(([, M, N]) => M * N))
  const Abuf = storageBuffer(dev, maxA * 2)
  const Bbuf = storageBuffer(dev, maxB * 2)
  const Cbuf = storageBuffer(dev, maxC * 4)
  // random bytes in A and B (not zeros): fill by copying a random 16M-element block
  const block = toF16(rand(1 << 22, 1, 9)) as Uint16Array<ArrayBuffer>
  for (const b of [Abuf, Bbuf]) for (let at = 0; at < b.size; at += block.byteLength) dev.queue.writeBuffer(b, at, block, 0, Math.min(block.length, (b.size - at) / 2))
  const nf4Words = storageBuffer(dev, maxB / 2)
  const nf4Abs = storageBuffer(dev, rand(maxB / 64, 0.05, 11).map((v) => 0.01 + Math.abs(v)))
  {
    const words = new Uint32Array(1 << 22)
    let x = 12345
    for (let i = 0; i < words.length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; words[i] = x >>> 0 }
    for (let at = 0; at < nf4Words.size; at += words.byteLength) dev.queue.writeBuffer(nf4Words, at, words, 0, Math.min(words.length, (nf4Words.size - at) / 4))
  }
  const shapes = quick ? SHAPES.slice(0, 3) : SHAPES
  const paramsOf = new Map<string, GPUBuffer>()
  const params = (M: number, N: number, K: number) => {
    const key = `${M} ${N} ${K}`
    if (!paramsOf.has(key)) paramsOf.set(key, uniformBuffer(dev, [M, N, K, 0]))
    return paramsOf.get(key)!
  }
  // the one-subgroup kernel first: the baseline in this same process
  for (const format of ["f16", "nf4"] as const) {
    const plan = await matmulPlan(gpu, format, "subgroup-matrix-single")
    for (const [label, M, N, K] of shapes) {
      if (format === "nf4" && label.startsWith("lm_head")) continue
      const d = plan.dispatch({ A: Abuf, B: format === "f16" ? Bbuf : nf4Words, C: Cbuf, params: params(M, N, K), absmax: nf4Abs }, M, N)
      const s = await time(gpu, d, 2 * M * N * K)
      emit({ kind: "tune", config: plan.variant, format, layout: "nk", label, M, N, K, ms: +(s * 1e3).toFixed(3), tflops: +((2 * M * N * K) / s / 1e12).toFixed(1) })
    }
  }
  for (const c of TILE_CONFIGS) {
    if (!tileValid(c, F)) { emit({ kind: "tune-skip", config: tileName(c), reason: "invalid for fragment" }); continue }
    const name = tileName(c)
    for (const [format, layout] of [["f16", "nk"], ["f16", "kn"], ["nf4", "nk"], ["nf4", "kn"]] as const) {
      const shared = tileSharedBytes(c, layout)
      if (shared > limit) { emit({ kind: "tune-skip", config: name, format, layout, reason: `${shared} bytes of workgroup memory > ${limit}` }); continue }
      if (format === "nf4" && layout === "kn" && c.BN < 64) continue
      let ok = false
      try {
        const err = await check(gpu, c, F, format, layout, false)
        const errAcc = format === "f16" && layout === "nk" ? await check(gpu, c, F, format, layout, true) : null
        ok = err < 1e-3 && (errAcc === null || errAcc < 1e-3)
        emit({ kind: "tune-check", config: name, threads: tileThreads(c), shared, format, layout, relErr: err, relErrAccumulate: errAcc, ok })
      } catch (e) {
        emit({ kind: "tune-error", config: name, format, layout, reason: (e instanceof Error ? e.message : String(e)).slice(0, 1500) })
        continue
      }
      if (!ok) continue
      const p = await pipeline(dev, tiledTensorCoreWgsl(c, F, format, false, layout), `${name}-${format}-${layout}`)
      // layouts other than f16/nk: timed on two shapes only
      const timed = format === "f16" && layout === "nk" ? shapes : shapes.filter(([l]) => l === "square 8192" || l === "gate/up_proj")
      for (const [label, M, N, K] of timed) {
        if (!tileFits(c, M, N, K) || (format === "nf4" && label.startsWith("lm_head"))) continue
        const B = format === "f16" ? Bbuf : nf4Words
        const d: Dispatch = { pipeline: p, buffers: bindings(format, Abuf, B, Cbuf, params(M, N, K), nf4Abs), groups: [N / c.BN, M / c.BM] }
        const s = await time(gpu, d, 2 * M * N * K)
        emit({ kind: "tune", config: name, format, layout, label, M, N, K, ms: +(s * 1e3).toFixed(3), tflops: +((2 * M * N * K) / s / 1e12).toFixed(1) })
      }
    }
  }
}

await main()
process.exit(0)
