/**
 * CPU reference implementations (f64 accumulation) of the GPU kernels, with the same layouts;
 * the kernel tests compare against these.
 */

/** C[M,N] = A[M,K] · B[N,K]ᵀ */
export const matmulRef = (A: Float32Array, B: Float32Array, M: number, N: number, K: number): Float32Array => {
  const C = new Float32Array(M * N)
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0
      for (let k = 0; k < K; k++) s += A[i * K + k]! * B[j * K + k]!
      C[i * N + j] = s
    }
  }
  return C
}

/** Causal GQA attention: Q [B,S,H,D], K/V [B,T,KV,D], queries at positions T−S … T−1. */
export const attentionRef = (Q: Float32Array, K: Float32Array, V: Float32Array, B: number, S: number, T: number, H: number, KV: number, D: number, scale: number): Float32Array => {
  const O = new Float32Array(B * S * H * D)
  const past = T - S
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / KV))
      for (let s = 0; s < S; s++) {
        const q = (b * S + s) * H * D + h * D
        const scores: Array<number> = []
        for (let t = 0; t <= past + s; t++) {
          const k = (b * T + t) * KV * D + kvh * D
          let dot = 0
          for (let d = 0; d < D; d++) dot += Q[q + d]! * K[k + d]!
          scores.push(dot * scale)
        }
        const m = Math.max(...scores)
        const e = scores.map((x) => Math.exp(x - m))
        const l = e.reduce((a, c) => a + c, 0)
        for (let d = 0; d < D; d++) {
          let acc = 0
          e.forEach((p, t) => (acc += p * V[(b * T + t) * KV * D + kvh * D + d]!))
          O[q + d] = acc / l
        }
      }
    }
  }
  return O
}

export const rmsnormRef = (X: Float32Array, W: Float32Array, rows: number, H: number, eps: number): Float32Array => {
  const Y = new Float32Array(rows * H)
  for (let r = 0; r < rows; r++) {
    let ss = 0
    for (let i = 0; i < H; i++) ss += X[r * H + i]! ** 2
    const inv = 1 / Math.sqrt(ss / H + eps)
    for (let i = 0; i < H; i++) Y[r * H + i] = X[r * H + i]! * inv * W[i]!
  }
  return Y
}

/** Half-split RoPE (HF rotate_half) on X [B·S, heads, D], row r at position past + r % S. */
export const ropeRef = (X: Float32Array, rows: number, S: number, heads: number, D: number, past: number, theta: number): Float32Array => {
  const Y = Float32Array.from(X)
  const half = D / 2
  for (let r = 0; r < rows; r++) {
    const pos = past + (r % S)
    for (let h = 0; h < heads; h++) {
      const base = (r * heads + h) * D
      for (let i = 0; i < half; i++) {
        const angle = pos / theta ** ((2 * i) / D)
        const x1 = X[base + i]!
        const x2 = X[base + i + half]!
        Y[base + i] = x1 * Math.cos(angle) - x2 * Math.sin(angle)
        Y[base + i + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle)
      }
    }
  }
  return Y
}

export const swigluRef = (G: Float32Array, U: Float32Array): Float32Array => G.map((g, i) => (g / (1 + Math.exp(-g))) * U[i]!)
