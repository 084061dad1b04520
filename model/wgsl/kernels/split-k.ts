import { pipeline, storageBuffer, uniformBuffer, type Binding, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"
import { elementwiseMain, grid } from "./fused.ts"
import { tiledTensorCoreWgsl, tileName, type TileConfig } from "./matmul-tiles.ts"
import { FILL, subgroupsOf32 } from "./matmul.ts"
import type { WeightLayout } from "./weight-format.ts"

/**
 * C[M,N] (f32) = A[M,K] (f16) · op(B) (f16, stored [N,K] or [K,N]) split along K: a product with
 * few output tiles and a long K — the trainer's lm_head dX, 1024 × 1024 tokens × hidden over
 * K = 151 936 vocabulary rows, is 64 tiles of 128 × 128 for 132 multiprocessors — runs as
 * `splits` partial products in one dispatch (workgroup z takes one K range, matmul-tiles.ts
 * `splitK`), then a pass that sums them into C. The partials live in a scratch buffer
 * (splits·M·N f32) that grows with the largest call.
 */

/** The tile split-K uses: the 128×128 one-stage tile the matmul plan picks for the training shapes. */
export const SPLIT_K_TILE: TileConfig = { BM: 128, BN: 128, BK: 32, SGM: 2, SGN: 2, stages: 1, group: 8 }

/** C = Σ_z parts[z]: n elements, `splits` partials. */
export const splitKSumWgsl = `struct P { n: u32, splits: u32 }
@group(0) @binding(0) var<storage, read> parts: array<f32>;
@group(0) @binding(1) var<storage, read_write> C: array<f32>;
@group(0) @binding(2) var<uniform> p: P;
${elementwiseMain(`    var s = 0.0;
    for (var z = 0u; z < p.splits; z++) { s += parts[z * p.n + i]; }
    C[i] = s;`)}`

export class SplitKShapeError extends Error {}

/**
 * The ranges to split an M × N product into on `gpu`: about four workgroups a multiprocessor
 * (the H100 measured 7.4 ms for the lm_head dX chunk on the plan's kernel, 2.8 / 1.8 / 1.6 ms in
 * 2 / 4 / 8 ranges), at most 8; 0 where the multi-subgroup tile does not run (subgroups not 32
 * lanes) or the tile does not divide M and N.
 */
export const splitKRanges = (gpu: Gpu, M: number, N: number, tile: TileConfig = SPLIT_K_TILE): number => {
  if (!subgroupsOf32(gpu) || M % tile.BM !== 0 || N % tile.BN !== 0) return 0
  return Math.max(1, Math.min(8, Math.round((4 * FILL) / ((M / tile.BM) * (N / tile.BN)))))
}

/**
 * Compiles the split-K product for f16 B in `weight` layout on `tile` (F: the subgroup-matrix
 * size; `emulate` rewrites the WGSL before it compiles, for tests without tensor cores). The
 * result records a product's two dispatches.
 */
export const splitKMatmul = async (gpu: Gpu, weight: WeightLayout, F = 16, tile: TileConfig = SPLIT_K_TILE, emulate: (wgsl: string) => string = (w) => w) => {
  const [product, sum] = await Promise.all([
    pipeline(gpu.device, emulate(tiledTensorCoreWgsl(tile, F, "f16", false, weight, true)), `matmul-split-k-${tileName(tile)}-f16${weight === "kn" ? "-kn" : ""}`),
    pipeline(gpu.device, splitKSumWgsl, "split-k-sum")
  ])
  let scratch: { buffer: GPUBuffer; bytes: number } | undefined
  return (b: { A: Binding; B: Binding; C: Binding }, M: number, N: number, K: number, splits: number): Array<Dispatch> => {
    if (M % tile.BM !== 0 || N % tile.BN !== 0 || K % tile.BK !== 0) throw new SplitKShapeError(`split-K matmul ${M}×${N}×${K}: M must be a multiple of ${tile.BM}, N of ${tile.BN}, K of ${tile.BK}`)
    // each split a multiple of BK; the last may be shorter, none empty
    const Ks = Math.ceil(K / splits / tile.BK) * tile.BK
    const zs = Math.ceil(K / Ks)
    const bytes = zs * M * N * 4
    if (!scratch || scratch.bytes < bytes) scratch = { buffer: storageBuffer(gpu.device, bytes), bytes }
    return [
      { pipeline: product, buffers: [b.A, b.B, scratch.buffer, uniformBuffer(gpu.device, [M, N, K, Ks])], groups: [N / tile.BN, M / tile.BM, zs] },
      { pipeline: sum, buffers: [scratch.buffer, b.C, uniformBuffer(gpu.device, [M * N, zs])], groups: grid(Math.ceil((M * N) / 1024)) }
    ]
  }
}
