/**
 * Per-kernel GPU time from timestamp queries: every dispatch in its own compute pass with
 * timestampWrites at the pass's start and end, resolved and read back after the submission. The
 * sequence runs as it would (same order, same buffers), so each kernel sees the caches its
 * neighbours leave; what the passes add is a barrier between dispatches, which Dawn puts between
 * dispatches of one pass too (storage buffers written by one are read by the next).
 */
import { bestWallMs, type Dispatch } from "./buffers.ts"
import type { Gpu } from "./device.ts"

const MAX_QUERIES = 4096

export interface KernelTime {
  readonly label: string
  /** dispatches under this label in the sequence */
  readonly count: number
  /** summed GPU milliseconds, the median over the repetitions */
  readonly ms: number
}

const bindGroupFor = (device: GPUDevice, d: Dispatch): GPUBindGroup =>
  device.createBindGroup({
    layout: d.pipeline.getBindGroupLayout(0),
    entries: d.buffers.map((b, binding) => ({ binding, resource: "buffer" in b ? { buffer: b.buffer, offset: b.offset, size: b.size } : { buffer: b } }))
  })

/**
 * GPU milliseconds of each dispatch of `labeled`, summed per label, median of `reps` runs after
 * one warm-up. Needs the device's "timestamp-query" feature (openGpu turns it on where offered).
 */
export const profileDispatches = async (gpu: Gpu, labeled: ReadonlyArray<readonly [string, Dispatch]>, reps = 3): Promise<Array<KernelTime>> => {
  if (!gpu.features.includes("timestamp-query")) throw new Error("profileDispatches: the device has no timestamp-query feature")
  const device = gpu.device
  const binds = labeled.map(([, d]) => bindGroupFor(device, d))
  const per = MAX_QUERIES / 2
  const runs: Array<Float64Array> = []
  for (let r = 0; r <= reps; r++) {
    const times = new Float64Array(labeled.length)
    for (let at = 0; at < labeled.length; at += per) {
      const n = Math.min(per, labeled.length - at)
      const querySet = device.createQuerySet({ type: "timestamp", count: 2 * n })
      const resolve = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
      const read = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
      const enc = device.createCommandEncoder()
      for (let i = 0; i < n; i++) {
        const d = labeled[at + i]![1]
        const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } })
        pass.setPipeline(d.pipeline)
        pass.setBindGroup(0, binds[at + i]!)
        pass.dispatchWorkgroups(d.groups[0], d.groups[1] ?? 1, d.groups[2] ?? 1)
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
    if (r > 0) runs.push(times) // the first run warms up
  }
  const byLabel = new Map<string, { count: number; ms: Array<number> }>()
  labeled.forEach(([label], i) => {
    const e = byLabel.get(label) ?? { count: 0, ms: runs.map(() => 0) }
    e.count++
    runs.forEach((t, r) => { e.ms[r]! += t[i]! })
    byLabel.set(label, e)
  })
  return [...byLabel].map(([label, e]) => {
    const sorted = [...e.ms].sort((a, b) => a - b)
    return { label, count: e.count, ms: +sorted[Math.floor(sorted.length / 2)]!.toFixed(4) }
  })
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
  const device = gpu.device
  const binds = lists.map((ds) => ds.map((d) => bindGroupFor(device, d)))
  const runs: Array<Array<number>> = []
  for (let r = 0; r <= rounds; r++) {
    const querySet = device.createQuerySet({ type: "timestamp", count: 2 * lists.length })
    const resolve = device.createBuffer({ size: 16 * lists.length, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
    const read = device.createBuffer({ size: 16 * lists.length, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
    const enc = device.createCommandEncoder()
    lists.forEach((ds, i) => {
      const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } })
      ds.forEach((d, j) => {
        pass.setPipeline(d.pipeline)
        pass.setBindGroup(0, binds[i]![j]!)
        pass.dispatchWorkgroups(d.groups[0], d.groups[1] ?? 1, d.groups[2] ?? 1)
      })
      pass.end()
    })
    enc.resolveQuerySet(querySet, 0, 2 * lists.length, resolve, 0)
    enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * lists.length)
    device.queue.submit([enc.finish()])
    await read.mapAsync(GPUMapMode.READ)
    const ticks = new BigUint64Array(read.getMappedRange().slice(0))
    read.unmap()
    if (r > 0) runs.push(lists.map((_, i) => Number(ticks[2 * i + 1]! - ticks[2 * i]!) / 1e6)) // the first round warms up
    for (const b of [resolve, read]) b.destroy()
    querySet.destroy()
  }
  const ms = lists.map((_, i) => {
    const sorted = runs.map((t) => t[i]!).sort((a, b) => a - b)
    return sorted[Math.floor(sorted.length / 2)]!
  })
  // a driver whose timestamps do not advance (zeros, or quantised below the lists' time) says nothing: wall time then
  return ms.every((m) => Number.isFinite(m) && m > 0) ? ms : bestWallMs(device, lists, rounds)
}
