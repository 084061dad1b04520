/** Pieces every GPU benchmark here uses: JSON lines out, seeded random values, median timings. */
import { runDispatches, type Dispatch } from "../../model/wgsl/kernels/buffers.ts"
import type { Gpu } from "../../model/wgsl/kernels/device.ts"

export const emit = (o: Record<string, unknown>): void => console.log(JSON.stringify(o))

/** Uniform values in [-scale, scale] from a linear congruential generator (the bytes, not their statistics, matter here). */
export const rand = (n: number, scale: number, seed = 1): Float32Array => {
  let x = seed
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    x = (x * 1664525 + 1013904223) >>> 0
    out[i] = (x / 2 ** 32 * 2 - 1) * scale
  }
  return out
}

/** Median wall seconds of `reps` submissions of the same dispatch list, each waited for, after `warm` untimed ones. */
export const medianSeconds = async (gpu: Gpu, ds: ReadonlyArray<Dispatch>, reps: number, warm = 2): Promise<number> => {
  for (let i = 0; i < warm; i++) await runDispatches(gpu.device, ds)
  const ts: Array<number> = []
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    await runDispatches(gpu.device, ds)
    ts.push(performance.now() - t0)
  }
  ts.sort((a, b) => a - b)
  return ts[Math.floor(ts.length / 2)]! / 1000
}
