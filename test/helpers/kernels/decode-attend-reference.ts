import { attentionRef, rmsnormRef, ropeRef } from "./reference.ts"

/**
 * The CPU side of one decoding attention dispatch (model/wgsl/kernels/decode-layer.ts `attend`):
 * q/k RMSNorm (eps) and RoPE (theta) at `pos`, attention over the cache's positions 0 … pos − 1
 * ([positions, rows, KV, D]) and the new key and value. `held` rounds what the GPU holds in its
 * storage type. Returns O [rows, H, D] and the new keys and values [rows, KV, D] the cache gets at pos.
 */
export const decodeAttendRef = (qkv: Float32Array, qn: Float32Array, kn: Float32Array, Kc: Float32Array, Vc: Float32Array, rows: number, pos: number, H: number, KV: number, D: number, eps: number, theta: number, held: (x: Float32Array) => Float32Array) => {
  const W = (H + 2 * KV) * D
  const part = (off: number, n: number) => {
    const out = new Float32Array(rows * n)
    for (let r = 0; r < rows; r++) out.set(qkv.subarray(r * W + off, r * W + off + n), r * n)
    return out
  }
  const q = held(ropeRef(rmsnormRef(part(0, H * D), qn, rows * H, D, eps), rows, 1, H, D, pos, theta))
  const k = held(ropeRef(rmsnormRef(part(H * D, KV * D), kn, rows * KV, D, eps), rows, 1, KV, D, pos, theta))
  const v = held(part((H + KV) * D, KV * D))
  // the reference's layout: K [rows, T, KV, D] with the new key at T − 1 = pos
  const T = pos + 1
  const perRow = (cache: Float32Array, last: Float32Array) => {
    const out = new Float32Array(rows * T * KV * D)
    for (let p = 0; p < pos; p++) for (let r = 0; r < rows; r++) out.set(cache.subarray((p * rows + r) * KV * D, (p * rows + r + 1) * KV * D), (r * T + p) * KV * D)
    for (let r = 0; r < rows; r++) out.set(last.subarray(r * KV * D, (r + 1) * KV * D), (r * T + pos) * KV * D)
    return out
  }
  return { O: attentionRef(q, perRow(Kc, k), perRow(Vc, v), rows, 1, T, H, KV, D, 1 / Math.sqrt(D)), k, v }
}
