/** Deterministic pseudo-random values (xorshift), uniform in [-scale, scale]. */
export const random = (n: number, seed: number, scale = 1): Float32Array => {
  let x = seed >>> 0 || 1
  return Float32Array.from({ length: n }, () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return ((x >>> 0) / 2 ** 32 * 2 - 1) * scale
  })
}

/** max |got − want| relative to max |want| */
export const relErr = (got: ArrayLike<number>, want: ArrayLike<number>): number => {
  let e = 0
  let m = 0
  for (let i = 0; i < want.length; i++) {
    e = Math.max(e, Math.abs(got[i]! - want[i]!))
    m = Math.max(m, Math.abs(want[i]!))
  }
  return e / (m || 1)
}
