import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { readBuffer, roundF16, runDispatches, storageBuffer, toF16 } from "../../../../model/wgsl/kernels/buffers.ts"
import { SPLIT_K_TILE, SplitKShapeError, splitKMatmul, splitKRanges } from "../../../../model/wgsl/kernels/split-k.ts"
import type { Gpu } from "../../../../model/wgsl/kernels/device.ts"
import type { TileConfig } from "../../../../model/wgsl/kernels/matmul-tiles.ts"
import type { WeightLayout } from "../../../../model/wgsl/kernels/weight-format.ts"
import { transpose } from "../../../helpers/kernels/general-matmul-reference.ts"
import { matmulRef } from "../../../helpers/kernels/reference.ts"
import { fragmentsOf } from "../../../helpers/kernels/subgroup-matrix-emulation.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"
import { random, relErr } from "../../../helpers/numeric.ts"

// The split-K tensor-core matmul (split-k.ts: the trainer's lm_head dX) against the CPU reference:
// partial products over K ranges summed. On an adapter with f16 subgroup matrices as generated,
// elsewhere with the fragments emulated in f32 (a smaller tile: SwiftShader's 32 KB of workgroup memory).
describe("split-K ranges (the trainer's default for the lm_head's dX)", () => {
  const nvidia = { subgroupSizes: { min: 32, max: 32 } } as Gpu
  it("aims at about four 128×128 workgroups a multiprocessor, 1 to 8 ranges", () => {
    assert.equal(splitKRanges(nvidia, 1024, 1024), 8) // Qwen3-0.6B: 64 tiles
    assert.equal(splitKRanges(nvidia, 1024, 5120), 2) // Qwen3-14B: 320 tiles
    assert.equal(splitKRanges(nvidia, 4096, 4096), 1)
  })
  it("is 0 where the tile does not divide the product or subgroups are not 32 lanes", () => {
    assert.equal(splitKRanges(nvidia, 1000, 1024), 0)
    assert.equal(splitKRanges({ subgroupSizes: { min: 64, max: 64 } } as Gpu, 1024, 1024), 0)
  })
})

const opened = await openTestGpu()

describe("split-K tensor-core matmul", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const gpu = opened.gpu
  const device = gpu.device
  after(() => gpu.close())
  const { F, emulated, emulate } = fragmentsOf(gpu)
  const tile: TileConfig = emulated ? { BM: 64, BN: 64, BK: 16, SGM: 2, SGN: 2, stages: 1, group: 2 } : SPLIT_K_TILE
  // K split unevenly (the last range shorter) and into more ranges than fit evenly
  const [M, N, K] = emulated ? [128, 64, 208] : [256, 384, 1120]

  const run = async (layout: WeightLayout, splits: number) => {
    const A = roundF16(random(M * K, 1))
    const W = roundF16(random(N * K, 2, 0.05)) // [N,K] for "nk", [K,N] for "kn"
    const C = storageBuffer(device, new Float32Array(M * N).fill(Number.NaN))
    const product = await splitKMatmul(gpu, layout, F, tile, emulate)
    await runDispatches(device, product({ A: storageBuffer(device, toF16(A)), B: storageBuffer(device, toF16(W)), C }, M, N, K, splits))
    const got = new Float32Array(await readBuffer(device, C, M * N * 4))
    return relErr(got, matmulRef(A, layout === "nk" ? W : transpose(W, K, N), M, N, K))
  }

  const splitCounts = emulated ? [1, 3] : [1, 3, 4]
  for (const layout of ["kn", "nk"] as const) {
    it(`matches the reference with B stored ${layout === "nk" ? "[N,K]" : "[K,N]"}, K in ${splitCounts.join(", ")} ranges${emulated ? " (fragments emulated in f32)" : ""}`, async () => {
      for (const splits of splitCounts) {
        const err = await run(layout, splits)
        assert.ok(err < 1e-4, `${splits} splits: relative error ${err}`)
      }
    })
  }

  it("refuses shapes the tile does not divide", async () => {
    const product = await splitKMatmul(gpu, "kn", F, tile, emulate)
    const b = storageBuffer(device, 64)
    assert.throws(() => product({ A: b, B: b, C: b }, tile.BM + 16, tile.BN, tile.BK * 4, 2), SplitKShapeError)
  })
})
