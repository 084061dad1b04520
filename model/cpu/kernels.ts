/**
 * The matrix products of fleuve's fused CPU path (model/cpu/qwen3-cpu.ts), on row-major f32
 * arrays. Three shapes cover a linear layer's forward and backward without transposing a weight:
 *   gemmNT  C[M,N] (+)= α · A[M,K] · B[N,K]ᵀ   (y = x Wᵀ, W in Hugging Face's [out, in] layout)
 *   gemmNN  C[M,N] (+)= α · A[M,K] · B[K,N]    (dx = dy W)
 *   gemmTN  C[M,N] (+)= α · A[K,M]ᵀ · B[K,N]   (dW = dyᵀ x)
 * `accumulate` adds to C instead of overwriting it. Every array must be a view the implementation
 * accepts: the WebAssembly kernels (model/cpu/wasm-kernels.ts) read only views of their own memory,
 * so buffers come from `alloc` and weights through `weights`.
 */
export interface CpuKernels {
  /** Which implementation, for the stderr line and the benchmarks. */
  readonly name: string
  /** Whether alloc hands out views of memory that `release` reuses (copy results out before releasing). */
  readonly arena: boolean
  /** A zeroed array the kernels can read and write; valid until `release` of the mark before it. */
  alloc(n: number): Float32Array
  /** The position of the allocator, to release everything allocated after it. */
  mark(): number
  release(mark: number): void
  /** A weight's values where the kernels can read them: the array itself, or a copy kept while the array lives (tfjs replaces it on assign). */
  weights(data: Float32Array): Float32Array
  gemmNT(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, alpha: number, accumulate: boolean): void
  gemmNN(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, alpha: number, accumulate: boolean): void
  gemmTN(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, alpha: number, accumulate: boolean): void
}

/**
 * Plain JavaScript kernels: the reference the WebAssembly ones are tested against, and the
 * fallback where WebAssembly SIMD is missing. Register-blocked (4 rows × 2 columns of dot products)
 * so each loaded value is used several times.
 */
export const jsKernels = (): CpuKernels => ({
  name: "JavaScript",
  arena: false,
  alloc: (n) => new Float32Array(n),
  mark: () => 0,
  release: () => {},
  weights: (data) => data,
  gemmNT(a, b, c, m, n, k, alpha, accumulate) {
    for (let i = 0; i < m; i += 4) {
      const rows = Math.min(4, m - i)
      const a0 = i * k
      const a1 = (i + Math.min(1, rows - 1)) * k
      const a2 = (i + Math.min(2, rows - 1)) * k
      const a3 = (i + Math.min(3, rows - 1)) * k
      for (let j = 0; j < n; j += 2) {
        const two = j + 1 < n
        const b0 = j * k
        const b1 = (two ? j + 1 : j) * k
        let c00 = 0, c01 = 0, c10 = 0, c11 = 0, c20 = 0, c21 = 0, c30 = 0, c31 = 0
        for (let p = 0; p < k; p++) {
          const x0 = b[b0 + p]!, x1 = b[b1 + p]!
          const y0 = a[a0 + p]!, y1 = a[a1 + p]!, y2 = a[a2 + p]!, y3 = a[a3 + p]!
          c00 += y0 * x0; c01 += y0 * x1
          c10 += y1 * x0; c11 += y1 * x1
          c20 += y2 * x0; c21 += y2 * x1
          c30 += y3 * x0; c31 += y3 * x1
        }
        const put = (row: number, col: number, v: number) => {
          const at = row * n + col
          c[at] = accumulate ? c[at]! + alpha * v : alpha * v
        }
        put(i, j, c00)
        if (two) put(i, j + 1, c01)
        if (rows > 1) { put(i + 1, j, c10); if (two) put(i + 1, j + 1, c11) }
        if (rows > 2) { put(i + 2, j, c20); if (two) put(i + 2, j + 1, c21) }
        if (rows > 3) { put(i + 3, j, c30); if (two) put(i + 3, j + 1, c31) }
      }
    }
  },
  gemmNN(a, b, c, m, n, k, alpha, accumulate) {
    for (let i = 0; i < m; i++) {
      const row = i * n
      if (!accumulate) c.fill(0, row, row + n)
      for (let p = 0; p < k; p++) {
        const s = alpha * a[i * k + p]!
        if (s === 0) continue
        const br = p * n
        for (let j = 0; j < n; j++) c[row + j]! += s * b[br + j]!
      }
    }
  },
  gemmTN(a, b, c, m, n, k, alpha, accumulate) {
    if (!accumulate) c.fill(0, 0, m * n)
    for (let p = 0; p < k; p++) {
      const br = p * n
      for (let i = 0; i < m; i++) {
        const s = alpha * a[p * m + i]!
        if (s === 0) continue
        const row = i * n
        for (let j = 0; j < n; j++) c[row + j]! += s * b[br + j]!
      }
    }
  }
})
