/**
 * CPU reference (f64 accumulation) of the causal GQA attention backward, same layouts as
 * attentionRef (test/helpers/kernels/reference.ts): Q [B,S,H,D], K/V [B,T,KV,D], queries at positions
 * T−S … T−1, query head h reads kv head h / (H / KV). Straightforward on purpose: it materialises
 * each (batch, head)'s probability matrix P and differentiates O = P·V, P = softmax(scale·QKᵀ).
 */

export interface AttentionGrads {
  readonly dQ: Float32Array
  readonly dK: Float32Array
  readonly dV: Float32Array
}

/** LSE [B,S,H] = log Σ_j exp(scale·q·k_j) over the keys each query sees (what the forward saves). */
export const attentionLseRef = (Q: Float32Array, K: Float32Array, B: number, S: number, T: number, H: number, KV: number, D: number, scale: number): Float32Array => {
  const L = new Float32Array(B * S * H)
  const past = T - S
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / KV))
      for (let s = 0; s < S; s++) {
        const q = ((b * S + s) * H + h) * D
        const scores: Array<number> = []
        for (let t = 0; t <= past + s; t++) {
          const k = ((b * T + t) * KV + kvh) * D
          let dot = 0
          for (let d = 0; d < D; d++) dot += Q[q + d]! * K[k + d]!
          scores.push(dot * scale)
        }
        const m = Math.max(...scores)
        L[(b * S + s) * H + h] = m + Math.log(scores.reduce((a, x) => a + Math.exp(x - m), 0))
      }
    }
  }
  return L
}

/**
 * Gradients of a loss with ∂loss/∂O = dO [B,S,H,D]: dV = Pᵀ·dO, dP = dO·Vᵀ,
 * dS = P∘(dP − rowsum(dP∘P)), dQ = scale·dS·K, dK = scale·dSᵀ·Q; dK/dV of a kv head sum over
 * the H/KV query heads that read it.
 */
export const attentionBackwardRef = (Q: Float32Array, K: Float32Array, V: Float32Array, dO: Float32Array, B: number, S: number, T: number, H: number, KV: number, D: number, scale: number): AttentionGrads => {
  const dQ = new Float64Array(B * S * H * D)
  const dK = new Float64Array(B * T * KV * D)
  const dV = new Float64Array(B * T * KV * D)
  const past = T - S
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / KV))
      const qAt = (s: number) => ((b * S + s) * H + h) * D
      const kAt = (t: number) => ((b * T + t) * KV + kvh) * D
      for (let s = 0; s < S; s++) {
        const seen = past + s + 1
        // P row: softmax of the scaled scores over the visible keys
        const scores = Array.from({ length: seen }, (_, t) => {
          let dot = 0
          for (let d = 0; d < D; d++) dot += Q[qAt(s) + d]! * K[kAt(t) + d]!
          return dot * scale
        })
        const m = Math.max(...scores)
        const e = scores.map((x) => Math.exp(x - m))
        const l = e.reduce((a, x) => a + x, 0)
        const P = e.map((x) => x / l)
        // dP_t = dO·V_t; dS_t = P_t (dP_t − Σ_u P_u dP_u)
        const dP = Array.from({ length: seen }, (_, t) => {
          let dot = 0
          for (let d = 0; d < D; d++) dot += dO[qAt(s) + d]! * V[kAt(t) + d]!
          return dot
        })
        const rowDot = P.reduce((a, p, t) => a + p * dP[t]!, 0)
        for (let t = 0; t < seen; t++) {
          const dS = P[t]! * (dP[t]! - rowDot)
          for (let d = 0; d < D; d++) {
            dV[kAt(t) + d] += P[t]! * dO[qAt(s) + d]!
            dQ[qAt(s) + d] += scale * dS * K[kAt(t) + d]!
            dK[kAt(t) + d] += scale * dS * Q[qAt(s) + d]!
          }
        }
      }
    }
  }
  return { dQ: Float32Array.from(dQ), dK: Float32Array.from(dK), dV: Float32Array.from(dV) }
}
