import { storageBuffer } from "./buffers.ts"
import type { WeightFormat } from "./weight-format.ts"

/**
 * Linear weights [N, K] merged on the GPU into one weight that one matmul reads in place of
 * several: rows concatenated (q, k and v: one wider projection), or two weights' rows interleaved
 * in blocks (gate and up for matmul-tiles.ts' gate-up epilogue). f16 rows are K halves; NF4 rows are
 * K/2 bytes of codes and K/64 absmax words, and since K is a multiple of 64 a row's blocks never
 * straddle rows, so NF4 merges row by row like f16. The copies are recorded on `enc`: one
 * submission for a whole model.
 */
export interface MergedWeight {
  readonly B: GPUBuffer
  readonly absmax?: GPUBuffer
}

interface Rows {
  readonly w: MergedWeight
  /** the weight's row count */
  readonly rows: number
}

const codeBytes = (format: WeightFormat, rows: number, K: number) => (format === "f16" ? rows * K * 2 : (rows * K) / 2)
const scaleBytes = (rows: number, K: number) => ((rows * K) / 64) * 4

/** Copies `runs` ([source, its first row, rows, destination row]) of each part into a new buffer of `total` rows, codes and absmax alike. */
const gather = (device: GPUDevice, enc: GPUCommandEncoder, format: WeightFormat, K: number, total: number, runs: ReadonlyArray<readonly [MergedWeight, number, number, number]>): MergedWeight => {
  const copy = (bytes: (rows: number) => number, of: (w: MergedWeight) => GPUBuffer) => {
    const out = storageBuffer(device, bytes(total))
    for (const [w, from, rows, to] of runs) enc.copyBufferToBuffer(of(w), bytes(from), out, bytes(to), bytes(rows))
    return out
  }
  const B = copy((r) => codeBytes(format, r, K), (w) => w.B)
  return format === "f16" ? { B } : { B, absmax: copy((r) => scaleBytes(r, K), (w) => w.absmax!) }
}

/** The parts' rows one after another: [part 0's rows; part 1's; …]. */
export const concatRows = (device: GPUDevice, enc: GPUCommandEncoder, format: WeightFormat, K: number, parts: ReadonlyArray<Rows>): MergedWeight => {
  let at = 0
  const runs = parts.map((p) => {
    const run = [p.w, 0, p.rows, at] as const
    at += p.rows
    return run
  })
  return gather(device, enc, format, K, at, runs)
}

/** a's and b's rows (`rows` each) interleaved `block` at a time: a 0…block−1, b 0…block−1, a block…2·block−1, … */
export const interleaveRows = (device: GPUDevice, enc: GPUCommandEncoder, format: WeightFormat, K: number, a: MergedWeight, b: MergedWeight, rows: number, block: number): MergedWeight => {
  if (rows % block !== 0) throw new Error(`interleaveRows: ${rows} rows are not a whole number of blocks of ${block}`)
  const runs: Array<readonly [MergedWeight, number, number, number]> = []
  for (let r = 0; r < rows; r += block) runs.push([a, r, block, 2 * r], [b, r, block, 2 * r + block])
  return gather(device, enc, format, K, 2 * rows, runs)
}
