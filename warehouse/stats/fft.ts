/**
 * In-place iterative radix-2 complex FFT on split real/imaginary arrays (length a power of two).
 * Twiddles come straight from Math.cos/Math.sin per index (no recurrence), so their error does not
 * grow with the length.
 */
// cos and −sin of 2πk/size for k < size/2, per size (the bootstrap reuses a few sizes many times).
const TWIDDLES = new Map<number, { readonly cos: Float64Array; readonly sin: Float64Array }>()
const twiddles = (size: number) => {
  let t = TWIDDLES.get(size)
  if (!t) {
    const half = size >> 1
    t = { cos: new Float64Array(half), sin: new Float64Array(half) }
    for (let k = 0; k < half; k++) {
      t.cos[k] = Math.cos((2 * Math.PI * k) / size)
      t.sin[k] = -Math.sin((2 * Math.PI * k) / size)
    }
    TWIDDLES.set(size, t)
  }
  return t
}

export const fft = (re: Float64Array, im: Float64Array, inverse: boolean): void => {
  const size = re.length
  if (size <= 1) return
  if ((size & (size - 1)) !== 0) throw new Error(`fft length ${size} is not a power of two`)
  // Bit-reversal permutation.
  for (let i = 1, j = 0; i < size; i++) {
    let bit = size >> 1
    for (; j & bit; bit >>= 1) j ^= bit
    j ^= bit
    if (i < j) {
      const tr = re[i]!
      re[i] = re[j]!
      re[j] = tr
      const ti = im[i]!
      im[i] = im[j]!
      im[j] = ti
    }
  }
  const { cos, sin: sinForward } = twiddles(size)
  const sign = inverse ? -1 : 1
  for (let len = 2; len <= size; len <<= 1) {
    const span = len >> 1
    const stride = size / len
    for (let start = 0; start < size; start += len) {
      for (let k = 0; k < span; k++) {
        const wr = cos[k * stride]!
        const wi = sign * sinForward[k * stride]!
        const a = start + k
        const b = a + span
        const xr = re[b]! * wr - im[b]! * wi
        const xi = re[b]! * wi + im[b]! * wr
        re[b] = re[a]! - xr
        im[b] = im[a]! - xi
        re[a] = re[a]! + xr
        im[a] = im[a]! + xi
      }
    }
  }
  if (inverse) {
    for (let i = 0; i < size; i++) {
      re[i] = re[i]! / size
      im[i] = im[i]! / size
    }
  }
}
