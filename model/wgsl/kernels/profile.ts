/**
 * Per-kernel GPU time from timestamp queries: every dispatch in its own compute pass with
 * timestampWrites at the pass's start and end, resolved and read back after the submission. The
 * sequence runs as it would (same order, same buffers), so each kernel sees the caches its
 * neighbours leave; what the passes add is a barrier between dispatches, which Dawn puts between
 * dispatches of one pass too (storage buffers written by one are read by the next).
 */
import { bestWallMs, bindGroupOf, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"

const MAX_QUERIES = 4096

export interface KernelTime {
  readonly label: string
  /** dispatches under this label in the sequence */
  readonly count: number
  /** summed GPU milliseconds, the median over the repetitions */
  readonly ms: number
}

/** The median of some numbers (the middle one, the upper of two). */
const median = (xs: ReadonlyArray<number>): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/**
 * GPU milliseconds of each list of dispatches, every list in its own compute pass between two
 * timestamps (Dawn's quantisation, 2^16 ns unless FLEUVE_DAWN_TIMESTAMPS=exact, errs once a pass),
 * in order, in as few submissions as the query set's size allows.
 */
const passMs = async (device: GPUDevice, passes: ReadonlyArray<ReadonlyArray<Dispatch>>): Promise<Float64Array> => {
  const times = new Float64Array(passes.length)
  const per = MAX_QUERIES / 2
  for (let at = 0; at < passes.length; at += per) {
    const n = Math.min(per, passes.length - at)
    const querySet = device.createQuerySet({ type: "timestamp", count: 2 * n })
    const resolve = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
    const read = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
    const enc = device.createCommandEncoder()
    for (let i = 0; i < n; i++) {
      const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } })
      for (const d of passes[at + i]!) {
        pass.setPipeline(d.pipeline)
        pass.setBindGroup(0, bindGroupOf(device, d))
        pass.dispatchWorkgroups(d.groups[0], d.groups[1] ?? 1, d.groups[2] ?? 1)
      }
      pass.end()
    }
    enc.resolveQuerySet(querySet, 0, 2 * n, resolve, 0)
    enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * n)
    device.queue.submit([enc.finish()])
    await read.mapAsync(GPUMapMode.READ)
    const ticks = new BigUint64Array(read.getMappedRange().slice(0))
    read.unmap()
    for (let i = 0; i < n; i++) times[at + i] = Number(ticks[2 * i + 1]! - ticks[2 * i]!) / 1e6
    for (const b of [resolve, read]) b.destroy()
    querySet.destroy()
  }
  return times
}

/**
 * GPU milliseconds of each dispatch of `labeled`, summed per label, median of `reps` runs after
 * one warm-up. Needs the device's "timestamp-query" feature (openGpu turns it on where offered).
 */
export const profileDispatches = async (gpu: Gpu, labeled: ReadonlyArray<readonly [string, Dispatch]>, reps = 3): Promise<Array<KernelTime>> => {
  if (!gpu.features.includes("timestamp-query")) throw new Error("profileDispatches: the device has no timestamp-query feature")
  const runs: Array<Float64Array> = []
  for (let r = 0; r <= reps; r++) {
    const times = await passMs(gpu.device, labeled.map(([, d]) => [d]))
    if (r > 0) runs.push(times) // the first run warms up
  }
  const byLabel = new Map<string, { count: number; ms: Array<number> }>()
  labeled.forEach(([label], i) => {
    const e = byLabel.get(label) ?? { count: 0, ms: runs.map(() => 0) }
    e.count++
    runs.forEach((t, r) => { e.ms[r]! += t[i]! })
    byLabel.set(label, e)
  })
  return [...byLabel].map(([label, e]) => ({ label, count: e.count, ms: +median(e.ms).toFixed(4) }))
}

/**
 * Milliseconds each list of dispatches takes on this device, the lists interleaved in one
 * submission a round: GPU time from timestamp queries around each list (one compute pass, so
 * Dawn's timestamp quantization, 2^16 ns, errs once a list, not once a dispatch) where the device
 * has them and they advance, the median of `rounds` after a warm-up; else the best wall time of a
 * submission (bestWallMs). Timestamps because wall time misled: on the H100 (session 9) the attention alone,
 * 10 dispatches in one submission, timed the flash kernel at 1.52 ms a dispatch while its
 * timestamps in the scoring forward gave 0.35 ms (the two-pass kernel: 1.26 and 1.20).
 */
export const gpuMsEach = async (gpu: Gpu, lists: ReadonlyArray<ReadonlyArray<Dispatch>>, rounds: number): Promise<Array<number>> => {
  if (!gpu.features.includes("timestamp-query")) return bestWallMs(gpu.device, lists, rounds)
  const runs: Array<Float64Array> = []
  for (let r = 0; r <= rounds; r++) {
    const times = await passMs(gpu.device, lists)
    if (r > 0) runs.push(times) // the first round warms up
  }
  const ms = lists.map((_, i) => median(runs.map((t) => t[i]!)))
  // a driver whose timestamps do not advance (zeros, or quantised below the lists' time) says nothing: wall time then
  return ms.every((m) => Number.isFinite(m) && m > 0) ? ms : bestWallMs(gpu.device, lists, rounds)
}
