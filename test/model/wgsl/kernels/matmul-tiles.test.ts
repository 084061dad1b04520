import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { pipeline, readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { pickMatrixConfig } from "../../../../model/wgsl/kernels/device.ts"
import { TILE_CONFIGS, tileName, tileSharedBytes, tileValid, tiledTensorCoreWgsl, type TileConfig } from "../../../../model/wgsl/kernels/matmul-tiles.ts"
import type { WeightFormat, WeightLayout } from "../../../../model/wgsl/kernels/matmul.ts"
import { dequantizeNf4, nf4Absmax, quantizeNf4 } from "../../../../model/formats/nf4.ts"
import { transpose } from "../../../helpers/kernels/general-matmul-reference.ts"
import { matmulRef } from "../../../helpers/kernels/reference.ts"
import { emulateSubgroupMatrices } from "../../../helpers/kernels/subgroup-matrix-emulation.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"
import { random, relErr } from "../../../helpers/numeric.ts"

// The multi-subgroup tensor-core matmul (matmul-tiles.ts) against the CPU reference. On an adapter
// with f16 subgroup matrices the kernels run as generated; elsewhere (SwiftShader, CPU-only CI)
// each runs with its fragments emulated in scalar f32 (test/helpers/kernels/subgroup-matrix-
// emulation.ts), which checks everything but the tensor-core instructions themselves: the global
// loads, the workgroup-memory staging and its two stages, the grouped tile walk, every offset.
const opened = await openTestGpu()

describe("tensor-core matmul with multi-subgroup tiles", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const gpu = opened.gpu
  const device = gpu.device
  after(() => gpu.close())
  const cfg = pickMatrixConfig(gpu)
  const F = cfg?.M ?? 16
  const emulated = !cfg
  // 3 rows of tiles (a ragged last group when walked 2 at a time), several slabs: every stage swap.
  // Emulated, every lane computes whole fragments: a smaller problem keeps SwiftShader to seconds.
  const [M, N, K] = emulated ? [384, 128, 64] : [384, 512, 320]
  const A = roundF16(random(M * K, 1))
  const Wf = roundF16(random(N * K, 2, 0.05)) // [N,K] for "nk", [K,N] for "kn"
  const q = quantizeNf4(random(N * K, 2, 0.05), [N, K])
  const nf4Words = new Uint32Array(q.packed.buffer.slice(0), 0, q.packed.length / 4)
  const nf4Values = emulated ? dequantizeNf4(q) : roundF16(dequantizeNf4(q)) // the tensor-core path rounds each dequantised weight to f16
  const limit = device.limits.maxComputeWorkgroupStorageSize

  const run = async (c: TileConfig, format: WeightFormat, layout: WeightLayout, accumulate: boolean) => {
    const code = tiledTensorCoreWgsl(c, F, format, accumulate, layout)
    const p = await pipeline(device, emulated ? emulateSubgroupMatrices(code, F) : code, `${tileName(c)}-${format}-${layout}${accumulate ? "-acc" : ""}${emulated ? "-emulated" : ""}`)
    const C0 = random(M * N, 3)
    const C = storageBuffer(device, accumulate ? C0 : new Float32Array(M * N).fill(Number.NaN))
    const B = storageBuffer(device, format === "f16" ? toF16(Wf) : nf4Words)
    const buffers = [storageBuffer(device, toF16(A)), B, C, uniformBuffer(device, [M, N, K, 0])]
    if (format === "nf4") buffers.push(storageBuffer(device, nf4Absmax(q.stats)))
    await runDispatches(device, [{ pipeline: p, buffers, groups: [N / c.BN, M / c.BM] }])
    const got = new Float32Array(await readBuffer(device, C, M * N * 4))
    // the stored weight read as [N,K] ("nk") or [K,N] ("kn"): the same values, transposed for the reference
    const stored = format === "f16" ? Wf : nf4Values
    const Wnk = layout === "nk" ? stored : transpose(stored, K, N)
    const want = matmulRef(A, Wnk, M, N, K).map((v, i) => v + (accumulate ? C0[i]! : 0))
    return relErr(got, want)
  }

  // Emulated, workgroup arrays are f32 (twice the bytes) under SwiftShader's 32 KB: small tiles
  // that still take the code paths (8 and 4 subgroups, 1 and 2 stages, both layouts, f16 and NF4,
  // accumulation, a ragged last group of tile rows: 3 rows of tiles walked 2 at a time).
  const emulatedConfigs: ReadonlyArray<TileConfig> = [
    { BM: 128, BN: 128, BK: 16, SGM: 2, SGN: 4, stages: 1, group: 2 },
    { BM: 64, BN: 64, BK: 16, SGM: 2, SGN: 2, stages: 2, group: 2 }
  ]
  const picked = (emulated ? emulatedConfigs : TILE_CONFIGS).filter((c) => tileValid(c, F) && M % c.BM === 0 && N % c.BN === 0)
  // emulated, one case per configuration: SwiftShader takes 10–30 s a kernel here
  const emulatedCases: ReadonlyArray<readonly [WeightFormat, WeightLayout, boolean]> = [["f16", "nk", false], ["nf4", "kn", true]]
  const gpuCases: ReadonlyArray<readonly [WeightFormat, WeightLayout, boolean]> = [["f16", "nk", false], ["f16", "nk", true], ["f16", "kn", false], ["f16", "kn", true], ["nf4", "nk", false], ["nf4", "kn", true]]
  picked.forEach((c, i) => {
    for (const [format, layout, accumulate] of emulated ? [emulatedCases[i % emulatedCases.length]!] : gpuCases) {
      const bytes = tileSharedBytes(c, layout) * (emulated ? 2 : 1)
      const tooBig = bytes > limit ? `${bytes} bytes of workgroup memory, over this adapter's ${limit}` : false
      it(`${tileName(c)}: ${format} weight stored ${layout === "nk" ? "[N,K]" : "[K,N]"}${accumulate ? ", accumulating onto C" : ""}${emulated ? " (fragments emulated in f32)" : ""}`, { skip: tooBig }, async () => {
        const err = await run(c, format, layout, accumulate)
        assert.ok(err < 1e-4, `relative error ${err}`)
      })
    }
  })
})
