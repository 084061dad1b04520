/** CPU reference of general-matmul.ts (f64 sums), for tests. */

import type { GeneralMatmulShape, GeneralMatmulStrides } from "../../../model/wgsl/kernels/general-matmul.ts"

/**
 * For z < batch: C_z (= or +=) alpha · op(A_z) · op(B_z), op(A) = A [M,K] or, with transposeA, Aᵀ of
 * A stored [K,M]; op(B) = B [K,N] or, with transposeB, Bᵀ of B stored [N,K]. `C0` (the prior C,
 * batch·strideC long) is added when given. Strides default to the dense sizes.
 */
export const generalMatmulRef = (
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  shape: GeneralMatmulShape,
  o: { readonly transposeA: boolean; readonly transposeB: boolean },
  alpha = 1,
  C0?: ArrayLike<number>,
  strides: GeneralMatmulStrides = {}
): Float64Array => {
  const { M, N, K } = shape
  const batch = shape.batch ?? 1
  const sA = strides.A ?? M * K
  const sB = strides.B ?? K * N
  const sC = strides.C ?? M * N
  const C = new Float64Array(C0 ? C0.length : (batch - 1) * sC + M * N)
  if (C0) for (let i = 0; i < C0.length; i++) C[i] = C0[i]!
  for (let z = 0; z < batch; z++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = 0
        for (let k = 0; k < K; k++) {
          const a = A[z * sA + (o.transposeA ? k * M + m : m * K + k)]!
          const b = B[z * sB + (o.transposeB ? n * K + k : k * N + n)]!
          sum += a * b
        }
        C[z * sC + m * N + n] = (C0 ? C[z * sC + m * N + n]! : 0) + alpha * sum
      }
    }
  }
  return C
}

/** Row-major [rows, cols] → [cols, rows]. */
export const transpose = (X: ArrayLike<number>, rows: number, cols: number): Float32Array => {
  const T = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) T[c * rows + r] = X[r * cols + c]!
  return T
}
