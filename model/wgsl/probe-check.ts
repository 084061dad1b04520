import { f16BitsToF32 } from "./kernels/buffers.ts"
import type { DecodeStorage } from "./kernels/decode-gemv-spec.ts"

/**
 * What the device probes (decode-attend-choice.ts, decode-tune.ts) compare a candidate's results
 * with before they time it: a kernel that is faster but wrong on this card is left out, not run.
 */

/** Values read back from a buffer of `storage`, as f32. */
export const valuesOf = (raw: ArrayBuffer, storage: DecodeStorage): Float32Array => {
  if (storage === "f32") return new Float32Array(raw)
  const bits = new Uint16Array(raw)
  const out = new Float32Array(bits.length)
  for (let i = 0; i < bits.length; i++) out[i] = f16BitsToF32(bits[i]!)
  return out
}

/** The f16 or f32 tolerance of a probe's check, relative to the largest |value| of each result. */
export const probeTolerance = (storage: DecodeStorage): number => (storage === "f16" ? 2e-2 : 1e-4)

/**
 * Why `got` is not `want` (results named by `names`) within `tolerance` of each result's largest
 * |value| (at least 1), or undefined. A NaN counts as the worst difference.
 */
export const mismatch = (got: ReadonlyArray<Float32Array>, want: ReadonlyArray<Float32Array>, tolerance: number, names: ReadonlyArray<string>): string | undefined => {
  for (const [i, w] of want.entries()) {
    const g = got[i]!
    let scale = 1
    for (const v of w) scale = Math.max(scale, Math.abs(v))
    let worst = 0
    for (let j = 0; j < w.length; j++) {
      const d = Math.abs(g[j]! - w[j]!)
      if (!(d <= worst)) worst = d
    }
    if (!(worst <= tolerance * scale)) return `${names[i]}: max |Δ| ${worst.toPrecision(3)}`
  }
  return undefined
}
