/**
 * NF4 (4-bit NormalFloat) quantisation exactly as bitsandbytes does it on the CPU
 * (bitsandbytes 0.50 `quantize_4bit(quant_type="nf4")`), so weights quantised here load in
 * bitsandbytes / PEFT and the other way round.
 *
 * - blocks of `blocksize` (64) consecutive elements of the row-major tensor, each with an f32
 *   absmax; an element becomes the index of the nearest code-book value of x / absmax;
 * - two indices per byte, the first element in the high nibble;
 * - optional double quantisation of the absmax values (QLoRA's "nested" statistics): subtract
 *   their mean (`offset`), then quantise them to 8 bits with bitsandbytes' signed dynamic code in
 *   blocks of 256, each with its own f32 absmax.
 *
 * All arithmetic is f32 (Math.fround after every operation) in bitsandbytes' order of
 * operations, which is what makes the result bit-exact (test/model/formats checks it against
 * bitsandbytes' own output).
 */

/** The NF4 code book (bitsandbytes `get_4bit_type("nf4")`), sorted ascending; index 7 is 0. */
export const NF4_CODE: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
  -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
  0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0
])

import { DYNAMIC_CODE } from "./dynamic-map.ts"

const f = Math.fround

/** Decision bounds between neighbouring code values (f32 midpoints, as bitsandbytes computes them). */
const NF4_BOUNDS: Float32Array = Float32Array.from(
  Array.from({ length: 15 }, (_, i) => f(f(NF4_CODE[i]! + NF4_CODE[i + 1]!) / 2))
)

/** Index of `x` (already in [-1, 1]) in the code book: torch.bucketize(x, bounds), right=false. */
const nf4Index = (x: number): number => {
  let q = 0
  while (q < 15 && NF4_BOUNDS[q]! < x) q++
  return q
}

const clamp1 = (x: number) => (x < -1 ? -1 : x > 1 ? 1 : x)

/** 8-bit blockwise quantisation (bitsandbytes `quantize_blockwise`, CPU): nearest code value, ties to the lower index. */
export const quantizeBlockwise8 = (
  values: Float32Array,
  code: Float32Array,
  blocksize: number
): { readonly q: Uint8Array; readonly absmax: Float32Array } => {
  const n = values.length
  const blocks = Math.ceil(n / blocksize)
  const q = new Uint8Array(n)
  const absmax = new Float32Array(blocks)
  for (let b = 0; b < blocks; b++) {
    const start = b * blocksize
    const end = Math.min(n, start + blocksize)
    let m = 0
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(values[i]!))
    absmax[b] = m
    for (let i = start; i < end; i++) {
      const x = f(values[i]! / m)
      // binary search for the last code value <= x, then step right if that is strictly closer
      let lo = 0
      let hi = code.length - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if (code[mid]! <= x) lo = mid
        else hi = mid - 1
      }
      let idx = lo
      if (idx < code.length - 1 && Math.abs(f(x - code[idx + 1]!)) < Math.abs(f(x - code[idx]!))) idx++
      q[i] = idx
    }
  }
  return { q, absmax }
}

export const dequantizeBlockwise8 = (q: Uint8Array, absmax: Float32Array, code: Float32Array, blocksize: number): Float32Array => {
  const out = new Float32Array(q.length)
  for (let i = 0; i < q.length; i++) out[i] = f(code[q[i]!]! * absmax[Math.floor(i / blocksize)]!)
  return out
}

/** The absmax statistics of one NF4 tensor: plain f32, or double-quantised (QLoRA "nested"). */
export type Nf4Absmax =
  | { readonly _tag: "Plain"; readonly absmax: Float32Array }
  | {
    readonly _tag: "Nested"
    /** 8-bit indices into `code2`, one per block of 64. */
    readonly qabsmax: Uint8Array
    /** f32 absmax per block of `blocksize2` absmax values. */
    readonly absmax2: Float32Array
    readonly code2: Float32Array
    readonly blocksize2: number
    /** mean of the absmax values, subtracted before quantising them. */
    readonly offset: number
  }

/** One tensor in NF4: `packed` holds ceil(n/2) bytes, first element in the high nibble. */
export interface Nf4Tensor {
  readonly shape: ReadonlyArray<number>
  readonly blocksize: number
  readonly packed: Uint8Array
  readonly stats: Nf4Absmax
}

export interface Nf4Options {
  readonly blocksize?: number
  /** Double-quantise the absmax values (8-bit, blocks of 256), as bitsandbytes' compress_statistics. */
  readonly doubleQuant?: boolean
  readonly blocksize2?: number
}

const numel = (shape: ReadonlyArray<number>) => shape.reduce((a, b) => a * b, 1)

/** Quantises a row-major f32 tensor to NF4. */
export const quantizeNf4 = (values: Float32Array, shape: ReadonlyArray<number>, options: Nf4Options = {}): Nf4Tensor => {
  const blocksize = options.blocksize ?? 64
  const n = values.length
  if (n !== numel(shape)) throw new Error(`quantizeNf4: ${n} values do not fill shape [${shape.join(", ")}]`)
  const full = n - (n % blocksize)
  const blocks = Math.ceil(n / blocksize)
  const absmax = new Float32Array(blocks)
  const packed = new Uint8Array(Math.ceil(n / 2))
  const tiny = f(1e-38)
  for (let b = 0; b < blocks; b++) {
    const start = b * blocksize
    const end = Math.min(n, start + blocksize)
    let m = 0
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(values[i]!))
    const safe = Math.max(m, tiny)
    // bitsandbytes multiplies by the reciprocal in full blocks and divides in the last partial one,
    // and stores the unclamped absmax for full blocks but the clamped one for the partial block.
    const recip = f(1 / safe)
    absmax[b] = end - start === blocksize && start < full ? m : safe
    for (let i = start; i < end; i++) {
      const scaled = clamp1(start < full ? f(values[i]! * recip) : f(values[i]! / safe))
      const q = nf4Index(scaled)
      packed[i >> 1]! |= (i & 1) === 0 ? q << 4 : q
    }
  }
  // An odd count pads with a scaled 0, whose index is 7.
  if (n % 2 === 1) packed[packed.length - 1]! |= nf4Index(0)
  if (!options.doubleQuant) return { shape: [...shape], blocksize, packed, stats: { _tag: "Plain", absmax } }
  return { shape: [...shape], blocksize, packed, stats: doubleQuantize(absmax, options.blocksize2 ?? 256) }
}

/**
 * Double quantisation of the absmax values: subtract their mean, 8-bit dynamic code in blocks of
 * `blocksize2`. The mean is the correctly rounded f32 mean; bitsandbytes takes torch's f32 sum,
 * whose rounding depends on the CPU's SIMD width, so the two offsets can differ in the last bit
 * (test/model/formats passes bitsandbytes' offset in to check everything after it bit for bit).
 */
export const doubleQuantize = (absmax: Float32Array, blocksize2 = 256, offset?: number): Nf4Absmax => {
  let sum = 0
  for (const a of absmax) sum += a
  const off = offset ?? f(sum / absmax.length)
  const centred = absmax.map((a) => f(a - off))
  const { q, absmax: absmax2 } = quantizeBlockwise8(centred, DYNAMIC_CODE, blocksize2)
  return { _tag: "Nested", qabsmax: q, absmax2, code2: DYNAMIC_CODE, blocksize2, offset: off }
}

/** The f32 absmax per block of an NF4 tensor (undoing double quantisation where present). */
export const nf4Absmax = (stats: Nf4Absmax): Float32Array => {
  if (stats._tag === "Plain") return stats.absmax
  const dq = dequantizeBlockwise8(stats.qabsmax, stats.absmax2, stats.code2, stats.blocksize2)
  return dq.map((a) => f(a + stats.offset))
}

/** Back to f32 (code value × absmax), as bitsandbytes' dequantize_4bit. */
export const dequantizeNf4 = (t: Nf4Tensor): Float32Array => {
  const n = numel(t.shape)
  const absmax = nf4Absmax(t.stats)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    const byte = t.packed[i >> 1]!
    const q = (i & 1) === 0 ? byte >> 4 : byte & 15
    out[i] = f(NF4_CODE[q]! * absmax[Math.floor(i / t.blocksize)]!)
  }
  return out
}
