/**
 * The matrix products of fleuve's fused CPU path (model/cpu/qwen3-cpu.ts), on row-major f32
 * arrays. Three shapes cover a linear layer's forward and backward without transposing a weight:
 *   gemmNT  C[M,N] (+)= α · A[M,K] · B[N,K]ᵀ   (y = x Wᵀ, W in Hugging Face's [out, in] layout)
 *   gemmNN  C[M,N] (+)= α · A[M,K] · B[K,N]    (dx = dy W)
 *   gemmTN  C[M,N] (+)= α · A[K,M]ᵀ · B[K,N]   (dW = dyᵀ x)
 * `accumulate` adds to C instead of overwriting it. `ld` gives row lengths (leading dimensions) of
 * A, B and C where a matrix is a band of a wider one (one attention head of [tokens, heads·dim]);
 * by default each is as wide as its shape says. Every array must be a view the implementation
 * accepts: the WebAssembly kernels (model/cpu/wasm-kernels.ts) read only views of their own memory,
 * so buffers come from `alloc` and weights through `weights`.
 */
export interface CpuKernels {
  /** Which implementation, for the stderr line and the benchmarks. */
  readonly name: string
  /** Whether alloc hands out views of memory that `release` reuses (copy results out before releasing). */
  readonly arena: boolean
  /** A zeroed array the kernels can read and write (`zeroed` false: any values, for one the caller fills entirely); valid until `release` of the mark before it. */
  alloc(n: number, zeroed?: boolean): Float32Array
  /** The position of the allocator, to release everything allocated after it. */
  mark(): number
  release(mark: number): void
  /** A weight's values where the kernels can read them: the array itself, or a copy kept while the array lives (tfjs replaces it on assign). */
  weights(data: Float32Array): Float32Array
  gemmNT(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, alpha: number, accumulate: boolean, ld?: Ld): void
  /** Fused attention, softmax and cross-entropy (the WebAssembly kernels); absent: the model's own loops do that work. */
  readonly fused?: FusedKernels
  gemmNN(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, alpha: number, accumulate: boolean, ld?: Ld): void
  gemmTN(a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, alpha: number, accumulate: boolean, ld?: Ld): void
}

/** Attention of one layer; layouts as model/cpu/qwen3-cpu.ts keeps them (head_dim a multiple of 4). */
export interface AttentionShape {
  readonly b: number
  readonly t: number
  readonly nh: number
  readonly kv: number
  readonly d: number
  readonly scale: number
  /** Per batch row, 1/0 for every key. */
  readonly keyValid: ReadonlyArray<ReadonlyArray<number>>
}

/**
 * The fused path's work beyond matrix products, each split over the threads: the same results as
 * the loops in model/cpu/qwen3-cpu.ts and tfjs-bridge.ts, with exp in f32 (about 1 ulp) instead of f64.
 */
export interface FusedKernels {
  /** ctx [b, t, nh, d] = softmax(scale·q kᵀ + mask) v; probs [b, nh, t, total] kept when given. q [b, t, nh, d]; k, v [b, kv, total, d]. */
  attentionForward(x: AttentionShape & { readonly q: Float32Array; readonly k: Float32Array; readonly v: Float32Array; readonly ctx: Float32Array; readonly probs?: Float32Array; readonly total: number; readonly past: number }): void
  /** Adds the gradients of q, k, v (forward without cache) to dq, dk, dv. */
  attentionBackward(x: AttentionShape & { readonly q: Float32Array; readonly k: Float32Array; readonly v: Float32Array; readonly probs: Float32Array; readonly dctx: Float32Array; readonly dq: Float32Array; readonly dk: Float32Array; readonly dv: Float32Array }): void
  /** Replaces logits [rows, n] by weightᵣ·(softmax − onehot(target)); returns −log softmax at each target (unweighted). */
  crossEntropy(logits: Float32Array, rows: number, n: number, targets: Int32Array, weights: Float32Array): Float64Array
  /** act = silu(gate)·up over n values (n a multiple of 4). */
  swiglu(gate: Float32Array, up: Float32Array, act: Float32Array, n: number): void
  /** The gradients of gate and up from that of act (written, n a multiple of 4). */
  swigluBack(dact: Float32Array, gate: Float32Array, up: Float32Array, dgate: Float32Array, dup: Float32Array, n: number): void
  /** RMSNorm of `groups` groups of `width` values (width a multiple of 4): out = x·rstd·w, rstd kept. */
  rmsNorm(x: Float32Array, w: Float32Array, width: number, groups: number, eps: number, out: Float32Array, rstd: Float32Array): void
  /** Its adjoint into dx (overwritten or added to), and into dw when given (added to). */
  rmsNormBack(x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, width: number, groups: number, dx: Float32Array, dw: Float32Array | undefined, overwrite: boolean): void
  /** RoPE in place on [rows, heads, d] by cos/sin tables [rows, d] (d a multiple of 8); `back`: its adjoint. */
  rope(buf: Float32Array, cos: Float32Array, sin: Float32Array, rows: number, heads: number, d: number, back: boolean): void
  /**
   * One AdamW step of a weight p (torch.optim.AdamW's update, in f32) from its gradient g: the
   * moments m and v are updated in place; returns the new weights (a new array, its copy in
   * kernel memory already made).
   */
  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: { gradScale: number; beta1: number; beta2: number; eps: number; stepSize: number; sqrtBc2: number; decay: number }): Float32Array
  /** tfjs' seeded randomUniform draws turned into dropout multipliers floor(u + keep)/keep, into out (Alea's state as seedrandom's Mash leaves it). */
  dropoutMask(out: Float32Array, state: { s0: number; s1: number; s2: number; c: number }, keep: number): void
  /** out = a·b elementwise, or out += a·b (n a multiple of 4). */
  mulInto(a: Float32Array, b: Float32Array, out: Float32Array, n: number, accumulate: boolean): void
  /** Log-softmax at each target and the argmax (first of equal maxima) per row. */
  pickTargets(logits: Float32Array, rows: number, n: number, targets: Int32Array): { logprobs: Float32Array; argmax: Int32Array }
}

/** Leading dimensions (elements between rows) of A, B, C as stored. */
export interface Ld {
  readonly a?: number
  readonly b?: number
  readonly c?: number
}

/** The leading dimensions of each shape: A [M,K] or [K,M] (TN), B [N,K] (NT) or [K,N], C [M,N]. */
export const leading = (op: "NT" | "NN" | "TN", m: number, n: number, k: number, ld: Ld | undefined): { a: number; b: number; c: number } => ({
  a: ld?.a ?? (op === "TN" ? m : k),
  b: ld?.b ?? (op === "NT" ? k : n),
  c: ld?.c ?? n
})

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
  gemmNT(a, b, c, m, n, k, alpha, accumulate, ld) {
    const { a: lda, b: ldb, c: ldc } = leading("NT", m, n, k, ld)
    for (let i = 0; i < m; i += 4) {
      const rows = Math.min(4, m - i)
      const a0 = i * lda
      const a1 = (i + Math.min(1, rows - 1)) * lda
      const a2 = (i + Math.min(2, rows - 1)) * lda
      const a3 = (i + Math.min(3, rows - 1)) * lda
      for (let j = 0; j < n; j += 2) {
        const two = j + 1 < n
        const b0 = j * ldb
        const b1 = (two ? j + 1 : j) * ldb
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
          const at = row * ldc + col
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
  gemmNN(a, b, c, m, n, k, alpha, accumulate, ld) {
    const { a: lda, b: ldb, c: ldc } = leading("NN", m, n, k, ld)
    for (let i = 0; i < m; i++) {
      const row = i * ldc
      if (!accumulate) c.fill(0, row, row + n)
      for (let p = 0; p < k; p++) {
        const s = alpha * a[i * lda + p]!
        if (s === 0) continue
        const br = p * ldb
        for (let j = 0; j < n; j++) c[row + j]! += s * b[br + j]!
      }
    }
  },
  gemmTN(a, b, c, m, n, k, alpha, accumulate, ld) {
    const { a: lda, b: ldb, c: ldc } = leading("TN", m, n, k, ld)
    if (!accumulate) for (let i = 0; i < m; i++) c.fill(0, i * ldc, i * ldc + n)
    for (let p = 0; p < k; p++) {
      const br = p * ldb
      for (let i = 0; i < m; i++) {
        const s = alpha * a[p * lda + i]!
        if (s === 0) continue
        const row = i * ldc
        for (let j = 0; j < n; j++) c[row + j]! += s * b[br + j]!
      }
    }
  }
})
