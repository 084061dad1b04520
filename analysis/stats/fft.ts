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

interface Plan {
  /** Index pairs (i < j) that the bit-reversal permutation swaps, flattened. */
  readonly swaps: Int32Array
  /** Forward twiddles of every stage, contiguous: stage of half-length s at offsets s − 1 .. 2s − 2. */
  readonly cos: Float64Array
  readonly sin: Float64Array
}

// Per length: the bootstrap transforms a handful of lengths hundreds of times.
const PLANS = new Map<number, Plan>()
const plan = (size: number): Plan => {
  let p = PLANS.get(size)
  if (!p) {
    const swaps: Array<number> = []
    for (let i = 1, j = 0; i < size; i++) {
      let bit = size >> 1
      for (; j & bit; bit >>= 1) j ^= bit
      j ^= bit
      if (i < j) swaps.push(i, j)
    }
    const t = twiddles(size)
    const cos = new Float64Array(size)
    const sin = new Float64Array(size)
    for (let span = 1; span < size; span <<= 1) {
      const stride = size / (2 * span)
      for (let k = 0; k < span; k++) {
        cos[span - 1 + k] = t.cos[k * stride]!
        sin[span - 1 + k] = t.sin[k * stride]!
      }
    }
    p = { swaps: Int32Array.from(swaps), cos, sin }
    PLANS.set(size, p)
  }
  return p
}

export const fft = (re: Float64Array, im: Float64Array, inverse: boolean): void => {
  const size = re.length
  if (size <= 1) return
  if ((size & (size - 1)) !== 0) throw new Error(`fft length ${size} is not a power of two`)
  const { swaps, cos, sin } = plan(size)
  for (let s = 0; s < swaps.length; s += 2) {
    const i = swaps[s]!
    const j = swaps[s + 1]!
    const tr = re[i]!
    re[i] = re[j]!
    re[j] = tr
    const ti = im[i]!
    im[i] = im[j]!
    im[j] = ti
  }
  const sign = inverse ? -1 : 1
  for (let span = 1; span < size; span <<= 1) {
    const len = span << 1
    const offset = span - 1
    for (let start = 0; start < size; start += len) {
      for (let k = 0; k < span; k++) {
        const wr = cos[offset + k]!
        const wi = sign * sin[offset + k]!
        const a = start + k
        const b = a + span
        const br = re[b]!
        const bi = im[b]!
        const xr = br * wr - bi * wi
        const xi = br * wi + bi * wr
        const ar = re[a]!
        const ai = im[a]!
        re[b] = ar - xr
        im[b] = ai - xi
        re[a] = ar + xr
        im[a] = ai + xi
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

/**
 * Spectrum of a real sequence x (length size, a power of two ≥ 4) at frequencies 0..size/2 (the
 * rest is their conjugate), from one complex FFT of half the length: z_m = x_2m + i·x_2m+1.
 */
export const realFft = (x: Float64Array): { readonly re: Float64Array; readonly im: Float64Array } => {
  const size = x.length
  const half = size >> 1
  const zr = new Float64Array(half)
  const zi = new Float64Array(half)
  for (let m = 0; m < half; m++) {
    zr[m] = x[2 * m]!
    zi[m] = x[2 * m + 1]!
  }
  fft(zr, zi, false)
  const { cos, sin } = twiddles(size)
  const re = new Float64Array(half + 1)
  const im = new Float64Array(half + 1)
  for (let k = 0; k <= half; k++) {
    const a = k % half
    const b = (half - k) % half
    // E = DFT of the even samples, O = DFT of the odd ones: X_k = E_k + w^k O_k, w = e^{−2πi/size}.
    const er = (zr[a]! + zr[b]!) / 2
    const ei = (zi[a]! - zi[b]!) / 2
    const or = (zi[a]! + zi[b]!) / 2
    const oi = -(zr[a]! - zr[b]!) / 2
    const wr = k < half ? cos[k]! : -1
    const wi = k < half ? sin[k]! : 0
    re[k] = er + (or * wr - oi * wi)
    im[k] = ei + (or * wi + oi * wr)
  }
  return { re, im }
}

/** The real sequence (length 2·(re.length − 1)) whose spectrum at frequencies 0..size/2 is re + i·im. */
export const inverseRealFft = (re: Float64Array, im: Float64Array): Float64Array => {
  const half = re.length - 1
  const size = 2 * half
  const { cos, sin } = twiddles(size)
  const zr = new Float64Array(half)
  const zi = new Float64Array(half)
  for (let k = 0; k < half; k++) {
    const j = half - k
    // X_{k+size/2} = conj(X_{size/2−k}): E_k = (X_k + conj X_j)/2, O_k = (X_k − conj X_j) / (2 w^k).
    const er = (re[k]! + re[j]!) / 2
    const ei = (im[k]! - im[j]!) / 2
    const dr = (re[k]! - re[j]!) / 2
    const di = (im[k]! + im[j]!) / 2
    // Divide by w^k = multiply by conj(w^k) (|w| = 1); sin holds −sin(2πk/size).
    const wr = cos[k]!
    const wi = -sin[k]!
    const or = dr * wr - di * wi
    const oi = dr * wi + di * wr
    // Z_k = E_k + i·O_k.
    zr[k] = er - oi
    zi[k] = ei + or
  }
  fft(zr, zi, true)
  const x = new Float64Array(size)
  for (let m = 0; m < half; m++) {
    x[2 * m] = zr[m]!
    x[2 * m + 1] = zi[m]!
  }
  return x
}
