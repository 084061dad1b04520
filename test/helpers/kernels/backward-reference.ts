/**
 * CPU references (f64 math) of the backward kernels in backward.ts, same layouts. The tests prove
 * each against central finite differences of the forward references (reference.ts and
 * crossEntropyLossRef here), then compare the kernels against these.
 */

/** RMSNorm y = x·r·w, r = (mean(x²) + eps)^−½, over rows of H: dx = r·g − x·r³·(Σ g·x)/H with g = dy·w. */
export const rmsnormBackwardRef = (X: Float32Array, W: Float32Array, dY: Float32Array, rows: number, H: number, eps: number): Float32Array => {
  const dX = new Float32Array(rows * H)
  for (let r = 0; r < rows; r++) {
    let ss = 0
    let gx = 0
    for (let i = 0; i < H; i++) {
      const x = X[r * H + i]!
      ss += x * x
      gx += dY[r * H + i]! * W[i]! * x
    }
    const inv = 1 / Math.sqrt(ss / H + eps)
    const k = (inv ** 3 * gx) / H
    for (let i = 0; i < H; i++) dX[r * H + i] = inv * dY[r * H + i]! * W[i]! - k * X[r * H + i]!
  }
  return dX
}

/**
 * Backward of ropeRef(rmsnormRef(X, W, rows·heads, D, eps), rows, S, heads, D, past, theta) on
 * X [rows, heads, D]: rotate dY back by −angle (RoPE is orthogonal), then RMSNorm's backward over D.
 */
export const qkNormRopeBackwardRef = (X: Float32Array, W: Float32Array, dY: Float32Array, rows: number, S: number, heads: number, D: number, past: number, eps: number, theta: number): Float32Array => {
  const half = D / 2
  const dN = new Float32Array(dY.length)
  for (let r = 0; r < rows; r++) {
    const pos = past + (r % S)
    for (let h = 0; h < heads; h++) {
      const base = (r * heads + h) * D
      for (let i = 0; i < half; i++) {
        const angle = pos / theta ** ((2 * i) / D)
        const [c, s] = [Math.cos(angle), Math.sin(angle)]
        const [d1, d2] = [dY[base + i]!, dY[base + i + half]!]
        dN[base + i] = d1 * c + d2 * s
        dN[base + i + half] = d2 * c - d1 * s
      }
    }
  }
  return rmsnormBackwardRef(X, W, dN, rows * heads, D, eps)
}

/** y = silu(g)·u: dG = dy·u·s·(1 + g·(1 − s)), dU = dy·g·s with s = sigmoid(g). */
export const swigluBackwardRef = (G: Float32Array, U: Float32Array, dY: Float32Array): { dG: Float32Array; dU: Float32Array } => {
  const dG = new Float32Array(G.length)
  const dU = new Float32Array(G.length)
  for (let i = 0; i < G.length; i++) {
    const g = G[i]!
    const s = 1 / (1 + Math.exp(-g))
    dG[i] = dY[i]! * U[i]! * s * (1 + g * (1 - s))
    dU[i] = dY[i]! * g * s
  }
  return { dG, dU }
}

/** Target of a row that takes no part in the loss (prompt tokens, padding). */
export const IGNORED = 0xffffffff

/** −log softmax(row)[target] of one row, in f64 (the forward the finite differences differentiate). */
export const crossEntropyLossRef = (row: ArrayLike<number>, target: number): number => {
  let m = -Infinity
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]!)
  let l = 0
  for (let i = 0; i < row.length; i++) l += Math.exp(row[i]! - m)
  return m + Math.log(l) - row[target]!
}

/** loss [rows] (0 where ignored) and dLogits = scale·(softmax − onehot(target)) (0 where ignored). */
export const crossEntropyRef = (logits: Float32Array, targets: Uint32Array, rows: number, V: number, scale: number): { loss: Float32Array; dLogits: Float32Array } => {
  const loss = new Float32Array(rows)
  const dLogits = new Float32Array(rows * V)
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!
    if (t >= V) continue // IGNORED (or out of range, as the kernel treats it)
    const row = logits.subarray(r * V, (r + 1) * V)
    loss[r] = crossEntropyLossRef(row, t)
    let m = -Infinity
    for (let i = 0; i < V; i++) m = Math.max(m, row[i]!)
    let l = 0
    for (let i = 0; i < V; i++) l += Math.exp(row[i]! - m)
    for (let i = 0; i < V; i++) dLogits[r * V + i] = scale * (Math.exp(row[i]! - m) / l - (i === t ? 1 : 0))
  }
  return { loss, dLogits }
}

export const sumOfSquaresRef = (X: ArrayLike<number>): number => {
  let s = 0
  for (let i = 0; i < X.length; i++) s += X[i]! ** 2
  return s
}

export interface AdamWRefOptions {
  readonly lr: number
  readonly beta1: number
  readonly beta2: number
  readonly eps: number
  readonly weightDecay: number
  /** clip ‖g‖ to this (clip_grad_norm_); ≤ 0: no clipping */
  readonly maxNorm: number
}

/**
 * One AdamW step at step t (from 1), in place on P, M, V: clip factor min(1, maxNorm / (√normSq + 1e-6))
 * as torch.nn.utils.clip_grad_norm_, then torch.optim.AdamW (decay P by lr·wd, then the bias-corrected step).
 */
export const adamwRef = (P: Float32Array, G: Float32Array, M: Float32Array, V: Float32Array, normSq: number, t: number, o: AdamWRefOptions): void => {
  const clip = o.maxNorm > 0 ? Math.min(1, o.maxNorm / (Math.sqrt(normSq) + 1e-6)) : 1
  const bc1 = 1 - o.beta1 ** t
  const bc2 = 1 - o.beta2 ** t
  for (let i = 0; i < P.length; i++) {
    const g = clip * G[i]!
    let w = P[i]!
    w -= o.lr * o.weightDecay * w
    const m = o.beta1 * M[i]! + (1 - o.beta1) * g
    const v = o.beta2 * V[i]! + (1 - o.beta2) * g * g
    w -= (o.lr * (m / bc1)) / (Math.sqrt(v / bc2) + o.eps)
    P[i] = w
    M[i] = m
    V[i] = v
  }
}
