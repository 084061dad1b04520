/**
 * Explores the multi-subgroup tensor-core matmul (model/wgsl/kernels/matmul-tiles.ts) on the
 * device: every tile configuration is compiled (or its compiler error printed), checked against a
 * CPU reference (f16 and NF4 weights, "nk" and "kn" layouts, plain and accumulating), then timed
 * on the square and Qwen3 projection shapes, next to the one-subgroup kernel of matmul.ts.
 * One JSON object per line.
 *
 * Every configuration is checked (f16 weights [N,K]) and timed on every shape with f16 weights
 * [N,K]; the `--top` best at 8192³ (default 4) are then checked in every form (accumulating,
 * [K,N], NF4) and timed on 8192³ and gate/up in the [K,N] and NF4 forms. `--configs a,b` runs
 * the configurations of those names instead (tileName; any combination, listed or not),
 * `--quick` the first three shapes.
 *
 *   node bench/gpu/matmul-tune.ts [--robustness-off] [--quick] [--top N] [--configs name,name]
 */
import { readBuffer, roundF16, storageBuffer, toF16, uniformBuffer, runDispatches, type Dispatch } from "../../model/wgsl/kernels/buffers.ts"
import { DAWN_TOGGLES, openGpu, pickMatrixConfig, type Gpu } from "../../model/wgsl/kernels/device.ts"
import { pipeline } from "../../model/wgsl/kernels/buffers.ts"
import { TILE_CONFIGS, parseTileName, tileFits, tileName, tileSharedBytes, tileSupports, tileThreads, tileValid, tiledTensorCoreWgsl, type TileConfig } from "../../model/wgsl/kernels/matmul-tiles.ts"
import { SHORTLIST, matmulPlan, type WeightFormat, type WeightLayout } from "../../model/wgsl/kernels/matmul.ts"
import { NF4_CODE } from "../../model/formats/nf4.ts"
import { emit, medianSeconds, rand } from "./common.ts"

const robustnessOff = process.argv.includes("--robustness-off")
const quick = process.argv.includes("--quick")
const argOf = (name: string) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const top = Number(argOf("--top") ?? 4)
const only = argOf("--configs")?.split(",")

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

// the check's problem: 4 rows of 128-tiles (2 of 256), 2 columns of 128, 3 slabs of 64 (12 of 16)
const [CM, CN, CK] = [512, 256, 192]
const checkInputs = new Map<string, { A: Float32Array; w: { values: Float32Array; words?: Uint32Array; absmax?: Float32Array }; C0: Float32Array; want: Float32Array }>()
const inputsFor = (format: WeightFormat, layout: WeightLayout, accumulate: boolean) => {
  const key = `${format} ${layout} ${accumulate}`
  if (!checkInputs.has(key)) {
    const A = roundF16(rand(CM * CK, 1, 3))
    const w = format === "f16" ? { values: roundF16(rand(CN * CK, 0.05, 4)) } : randomNf4(CN * CK, 4)
    const C0 = rand(CM * CN, 1, 5)
    checkInputs.set(key, { A, w, C0, want: refMatmul(A, w.values, CM, CN, CK, layout, accumulate ? C0 : undefined) })
  }
  return checkInputs.get(key)!
}

const check = async (gpu: Gpu, c: TileConfig, F: number, format: WeightFormat, layout: WeightLayout, accumulate: boolean) => {
  const [M, N, K] = [CM, CN, CK]
  const dev = gpu.device
  const p = await pipeline(dev, tiledTensorCoreWgsl(c, F, format, accumulate, layout), `${tileName(c)}-${format}-${layout}${accumulate ? "-acc" : ""}`)
  const { A, w, C0, want } = inputsFor(format, layout, accumulate)
  const Cb = storageBuffer(dev, accumulate ? C0 : new Float32Array(M * N).fill(NaN))
  const Bb = storageBuffer(dev, format === "f16" ? toF16(w.values) : w.words!)
  const ab = format === "nf4" ? storageBuffer(dev, w.absmax!) : undefined
  const Ab = storageBuffer(dev, toF16(A))
  const pb = uniformBuffer(dev, [M, N, K, 0])
  await runDispatches(dev, [{ pipeline: p, buffers: bindings(format, Ab, Bb, Cb, pb, ab), groups: [N / c.BN, M / c.BM] }])
  const got = new Float32Array(await readBuffer(dev, Cb, M * N * 4))
  for (const b of [Cb, Bb, Ab, pb, ...(ab ? [ab] : [])]) b.destroy()
  return relErr(got, want)
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
  // the one-subgroup kernel first: the baseline in this same process (f16, 8192³ only)
  {
    const plan = await matmulPlan(gpu, "f16", "subgroup-matrix-single")
    const [label, M, N, K] = SHAPES[0]!
    const d = plan.dispatch({ A: Abuf, B: Bbuf, C: Cbuf, params: params(M, N, K) }, M, N)
    const s = await time(gpu, d, 2 * M * N * K)
    emit({ kind: "tune", config: plan.variant, format: "f16", layout: "nk", label, M, N, K, ms: +(s * 1e3).toFixed(3), tflops: +((2 * M * N * K) / s / 1e12).toFixed(1) })
  }
  const timeOn = async (c: TileConfig, format: WeightFormat, layout: WeightLayout, on: ReadonlyArray<[string, number, number, number]>) => {
    const name = tileName(c)
    const p = await pipeline(dev, tiledTensorCoreWgsl(c, F, format, false, layout), `${name}-${format}-${layout}`)
    const out: Record<string, number> = {}
    for (const [label, M, N, K] of on) {
      if (!tileFits(c, M, N, K) || (format === "nf4" && label.startsWith("lm_head"))) continue
      const B = format === "f16" ? Bbuf : nf4Words
      const d: Dispatch = { pipeline: p, buffers: bindings(format, Abuf, B, Cbuf, params(M, N, K), nf4Abs), groups: [N / c.BN, M / c.BM] }
      const s = await time(gpu, d, 2 * M * N * K)
      const tflops = +((2 * M * N * K) / s / 1e12).toFixed(1)
      out[label] = tflops
      emit({ kind: "tune", config: name, format, layout, label, M, N, K, ms: +(s * 1e3).toFixed(3), tflops })
    }
    return out
  }
  // checks one form; false (and a line saying why) when it fails to compile, is wrong or does not fit
  const passes = async (c: TileConfig, format: WeightFormat, layout: WeightLayout, accumulate: boolean) => {
    const name = tileName(c)
    const shared = tileSharedBytes(c, layout)
    if (shared > limit) { emit({ kind: "tune-skip", config: name, format, layout, reason: `${shared} bytes of workgroup memory > ${limit}` }); return false }
    const maxThreads = Math.min(dev.limits.maxComputeInvocationsPerWorkgroup, dev.limits.maxComputeWorkgroupSizeX)
    if (tileThreads(c) > maxThreads) { emit({ kind: "tune-skip", config: name, reason: `${tileThreads(c)} invocations > ${maxThreads}` }); return false }
    try {
      const err = await check(gpu, c, F, format, layout, accumulate)
      const ok = err < 1e-3
      emit({ kind: "tune-check", config: name, threads: tileThreads(c), shared, format, layout, accumulate, relErr: err, ok })
      return ok
    } catch (e) {
      emit({ kind: "tune-error", config: name, format, layout, accumulate, reason: (e instanceof Error ? e.message : String(e)).slice(0, 1500) })
      return false
    }
  }
  // --configs: those names, in or out of the lists (parsed from the name)
  const configs = only
    ? only.flatMap((n) => {
      const c = parseTileName(n)
      if (!c) emit({ kind: "tune-skip", config: n, reason: "not a tile name" })
      return c ? [c] : []
    })
    : [...new Map([...TILE_CONFIGS, ...SHORTLIST].map((c) => [tileName(c), c])).values()]
  const at8192: Array<[TileConfig, number]> = []
  for (const c of configs) {
    if (!tileValid(c, F)) { emit({ kind: "tune-skip", config: tileName(c), reason: "invalid for fragment" }); continue }
    if (!(await passes(c, "f16", "nk", false))) continue
    const t = await timeOn(c, "f16", "nk", shapes)
    if (t["square 8192"] !== undefined) at8192.push([c, t["square 8192"]])
  }
  // the best at 8192³: every other form checked, [K,N] and NF4 timed on two shapes
  const best = at8192.sort((a, b) => b[1] - a[1]).slice(0, top).map(([c]) => c)
  emit({ kind: "tune-best", configs: best.map(tileName) })
  const two = shapes.filter(([l]) => l === "square 8192" || l === "gate/up_proj")
  for (const c of best) {
    await passes(c, "f16", "nk", true)
    for (const [format, layout] of [["f16", "kn"], ["nf4", "nk"], ["nf4", "kn"]] as const) {
      if (!tileSupports(c, format) || (format === "nf4" && layout === "kn" && c.BN < 64)) continue
      const ok = (await passes(c, format, layout, false)) && (await passes(c, format, layout, true))
      if (ok) await timeOn(c, format, layout, two)
    }
  }
}

await main()
process.exit(0)
