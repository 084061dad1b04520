/**
 * The training matmuls at LoRA-training shape (16 × 1024 = 16384 tokens, r = 16, Qwen3-0.6B's
 * dimensions): the general matmul (model/wgsl/kernels/general-matmul.ts) on each LoRA product, and the
 * weight matmul (model/wgsl/kernels/matmul.ts) forward ("nk") against backward dX = dY·W ("kn"), f16 and
 * NF4. The LoRA products as the trainer runs them (`dispatches`: split-K where it pays) and with
 * each kernel shape forced. For each: median ms, TFLOP/s, and GB/s of the bytes a product must at least move (each
 * operand read once, C written once, read too when accumulating) — how far from memory-bound.
 * Prints one JSON object per line.
 *
 *   node bench/gpu/train-matmuls.ts [--tiny]     (--tiny: small shapes, a smoke test for SwiftShader)
 */
import { storageBuffer, toF16, uniformBuffer, type Dispatch } from "../../model/wgsl/kernels/buffers.ts"
import { openGpu, pickMatrixConfig, type Gpu } from "../../model/wgsl/kernels/device.ts"
import { generalMatmul, generalMatmulParams, pickVariant, SPLIT_K, splitsK, type GeneralMatmulOptions, type GeneralMatmulVariant, type StorageType } from "../../model/wgsl/kernels/general-matmul.ts"
import { emit, medianSeconds, rand } from "./common.ts"
import { matmulPlan, type MatmulImpl, type WeightFormat, type WeightLayout } from "../../model/wgsl/kernels/matmul.ts"

const tiny = process.argv.includes("--tiny")

/** Median seconds of one dispatch list, `per` of them a submission so that submit latency does not dominate. */
const time = async (gpu: Gpu, d: Dispatch | Array<Dispatch>, per: number, reps = tiny ? 1 : 10) => {
  const n = tiny ? 1 : per
  return (await medianSeconds(gpu, Array(n).fill(d).flat(), reps, 1)) / n
}

const opened = await openGpu()
if (opened._tag !== "Ready") throw new Error(opened.reason)
const gpu = opened.gpu
const dev = gpu.device
emit({ kind: "adapter", ...gpu.adapter, f16: gpu.hasF16, tensorCores: pickMatrixConfig(gpu)?.M ?? null })

const [T, IN, OUT, R] = tiny ? [2048, 128, 192, 16] : [16384, 1024, 3072, 16]
const f16 = gpu.hasF16
const act: StorageType = f16 ? "f16" : "f32" // activations as the trainer would keep them

const buffer = (n: number, type: StorageType, seed: number) => storageBuffer(dev, type === "f16" ? toF16(rand(n, 1, seed)) : rand(n, 1, seed))

/** The LoRA products of one linear (in → out), in the trainer's layouts (x [T,in], dY [T,out], A [r,in], B [out,r]). */
const lora: Array<{ name: string; M: number; N: number; K: number; o: Omit<GeneralMatmulOptions, "variant">; aLen: number; bLen: number }> = [
  { name: "u = x·Aᵀ", M: T, N: R, K: IN, o: { aType: act, bType: "f32", transposeA: false, transposeB: true, accumulate: false }, aLen: T * IN, bLen: R * IN },
  { name: "y += s·u·Bᵀ", M: T, N: OUT, K: R, o: { aType: "f32", bType: "f32", transposeA: false, transposeB: true, accumulate: true }, aLen: T * R, bLen: OUT * R },
  { name: "dB = s·dYᵀ·u", M: OUT, N: R, K: T, o: { aType: act, bType: "f32", transposeA: true, transposeB: false, accumulate: false }, aLen: T * OUT, bLen: T * R },
  { name: "du = s·dY·B", M: T, N: R, K: OUT, o: { aType: act, bType: "f32", transposeA: false, transposeB: false, accumulate: false }, aLen: T * OUT, bLen: OUT * R },
  { name: "dA = duᵀ·x", M: R, N: IN, K: T, o: { aType: "f32", bType: act, transposeA: true, transposeB: false, accumulate: false }, aLen: T * R, bLen: T * IN },
  { name: "dX += du·A", M: T, N: IN, K: R, o: { aType: "f32", bType: "f32", transposeA: false, transposeB: false, accumulate: true }, aLen: T * R, bLen: R * IN }
]
const size = (t: StorageType) => (t === "f16" ? 2 : 4)

for (const p of lora) {
  const A = buffer(p.aLen, p.o.aType, 1)
  const B = buffer(p.bLen, p.o.bType, 2)
  const C = storageBuffer(dev, p.M * p.N * 4)
  const params = generalMatmulParams(dev, p, {}, 0.5)
  const bytes = p.aLen * size(p.o.aType) + p.bLen * size(p.o.bType) + p.M * p.N * 4 * (p.o.accumulate ? 2 : 1)
  const report = (variant: string, picked: boolean, s: number) =>
    emit({ kind: "lora-matmul", product: p.name, M: p.M, N: p.N, K: p.K, variant, picked, aType: p.o.aType, bType: p.o.bType, ms: +(s * 1e3).toFixed(4), tflops: +(2 * p.M * p.N * p.K / s / 1e12).toFixed(2), gb_per_s: +(bytes / s / 1e9).toFixed(1) })
  // what the trainer gets (dispatches: split-K where it pays), then each kernel shape forced, as one pass
  const auto = await generalMatmul(gpu, p.o)
  report(splitsK(p) ? `split${SPLIT_K}+reduce` : pickVariant(p), true, await time(gpu, auto.dispatches({ A, B, C, params }, p), 10))
  for (const variant of ["tile64", "splitk32"] as Array<GeneralMatmulVariant>) {
    const mm = await generalMatmul(gpu, { ...p.o, variant })
    report(variant, false, await time(gpu, mm.dispatch({ A, B, C, params }, p), 10))
  }
  for (const b of [A, B, C, params]) b.destroy()
}

// The base weight's matmuls: forward y = x·Wᵀ (M = tokens, N = out, K = in) and backward dX = dY·W ("kn": N = in, K = out).
if (f16) {
  const impls: Array<MatmulImpl> = pickMatrixConfig(gpu) ? ["subgroup-matrix", "tiled"] : ["tiled"]
  for (const format of ["f16", "nf4"] as Array<WeightFormat>) {
    for (const impl of impls) {
      for (const layout of ["nk", "kn"] as Array<WeightLayout>) {
        const [N, K] = layout === "nk" ? [OUT, IN] : [IN, OUT]
        const plan = await matmulPlan(gpu, format, impl, { weightLayout: layout })
        const A = storageBuffer(dev, toF16(rand(T * K, 1, 3)))
        const W = format === "f16" ? { B: storageBuffer(dev, toF16(rand(N * K, 0.05, 4))) } : { B: storageBuffer(dev, Uint32Array.from({ length: (N * K) / 8 }, (_, i) => (i * 2654435761) >>> 0)), absmax: storageBuffer(dev, rand((N * K) / 64, 0.05, 5).map((v) => 0.01 + Math.abs(v))) }
        const C = storageBuffer(dev, T * N * 4)
        const s = await time(gpu, plan.dispatch({ A, C, params: uniformBuffer(dev, [T, N, K, 0]), ...W }, T, N), 5)
        emit({ kind: "weight-matmul", pass: layout === "nk" ? "forward y = x·Wᵀ" : "backward dX = dY·W", layout, format, impl, variant: plan.variant, M: T, N, K, ms: +(s * 1e3).toFixed(3), tflops: +(2 * T * N * K / s / 1e12).toFixed(2) })
        for (const b of [A, C, W.B, ...(W.absmax ? [W.absmax] : [])]) b.destroy()
      }
    }
  }
}
gpu.close()
