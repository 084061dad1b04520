// fleuve's CPU matrix products in WebAssembly SIMD (AssemblyScript; built by
// scripts/build-cpu-kernels.sh into gemm-wasm.ts, which is committed). Shapes as model/cpu/kernels.ts:
//   gemmNT  C[M,N] (+)= α·A[M,K]·B[N,K]ᵀ   dot products, 4 rows × 2 columns of f32x4 accumulators
//   gemmNN  C[M,N] (+)= α·A[M,K]·B[K,N]    rows of B scaled and added, 4 rows × 8 columns
//   gemmTN  C[M,N] (+)= α·A[K,M]ᵀ·B[K,N]   the same with A read down its columns
// Arguments are byte addresses in the (shared) memory and leading dimensions in elements (lda, ldb,
// ldc), so the host can hand each thread a band of rows of C. Blocked over K (KC) and over N so the
// slice of B in use stays in the core's L2 while every row of A passes over it.

import { exp1, exp4, keyLimit } from "./fused"

const MASKED_F: f32 = -1e9
const KC = 256
const NC_DOT = 64
const NC_AXPY = 128

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3)
}

@inline function put(c: usize, v: f32, alpha: f32, acc: i32): void {
  store<f32>(c, acc ? load<f32>(c) + alpha * v : alpha * v)
}

export function gemmNT(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, alpha: f32, acc: i32, lda: i32, ldb: i32, ldc: i32): void {
  const ab = <usize>lda << 2
  const bb = <usize>ldb << 2
  const cb = <usize>ldc << 2
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kk = min(KC, k - p0)
    const k4 = kk & ~3
    const accNow = p0 > 0 ? 1 : acc
    const po = <usize>p0 << 2
    for (let j0 = 0; j0 < n; j0 += NC_DOT) {
      const jEnd = min(n, j0 + NC_DOT)
      for (let i = 0; i < m; i += 4) {
        const rows = min(4, m - i)
        const a0 = a + <usize>i * ab + po
        const a1 = a + <usize>(i + min(1, rows - 1)) * ab + po
        const a2 = a + <usize>(i + min(2, rows - 1)) * ab + po
        const a3 = a + <usize>(i + min(3, rows - 1)) * ab + po
        for (let j = j0; j < jEnd; j += 2) {
          const two = j + 1 < jEnd
          const b0 = b + <usize>j * bb + po
          const b1 = b + <usize>(two ? j + 1 : j) * bb + po
          let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0)
          let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0)
          for (let p = 0; p < k4; p += 4) {
            const o = <usize>p << 2
            const x0 = v128.load(b0 + o), x1 = v128.load(b1 + o)
            const y0 = v128.load(a0 + o), y1 = v128.load(a1 + o), y2 = v128.load(a2 + o), y3 = v128.load(a3 + o)
            s00 = f32x4.add(s00, f32x4.mul(y0, x0)); s01 = f32x4.add(s01, f32x4.mul(y0, x1))
            s10 = f32x4.add(s10, f32x4.mul(y1, x0)); s11 = f32x4.add(s11, f32x4.mul(y1, x1))
            s20 = f32x4.add(s20, f32x4.mul(y2, x0)); s21 = f32x4.add(s21, f32x4.mul(y2, x1))
            s30 = f32x4.add(s30, f32x4.mul(y3, x0)); s31 = f32x4.add(s31, f32x4.mul(y3, x1))
          }
          let c00 = hsum(s00), c01 = hsum(s01), c10 = hsum(s10), c11 = hsum(s11)
          let c20 = hsum(s20), c21 = hsum(s21), c30 = hsum(s30), c31 = hsum(s31)
          for (let p = k4; p < kk; p++) {
            const o = <usize>p << 2
            const x0 = load<f32>(b0 + o), x1 = load<f32>(b1 + o)
            const y0 = load<f32>(a0 + o), y1 = load<f32>(a1 + o), y2 = load<f32>(a2 + o), y3 = load<f32>(a3 + o)
            c00 += y0 * x0; c01 += y0 * x1; c10 += y1 * x0; c11 += y1 * x1
            c20 += y2 * x0; c21 += y2 * x1; c30 += y3 * x0; c31 += y3 * x1
          }
          const r0 = c + <usize>i * cb + (<usize>j << 2)
          put(r0, c00, alpha, accNow)
          if (two) put(r0 + 4, c01, alpha, accNow)
          if (rows > 1) { put(r0 + cb, c10, alpha, accNow); if (two) put(r0 + cb + 4, c11, alpha, accNow) }
          if (rows > 2) { put(r0 + 2 * cb, c20, alpha, accNow); if (two) put(r0 + 2 * cb + 4, c21, alpha, accNow) }
          if (rows > 3) { put(r0 + 3 * cb, c30, alpha, accNow); if (two) put(r0 + 3 * cb + 4, c31, alpha, accNow) }
        }
      }
    }
  }
}

@inline function store4(c: usize, s: v128, va: v128, acc: i32): void {
  const v = f32x4.mul(s, va)
  v128.store(c, acc ? f32x4.add(v128.load(c), v) : v)
}

// C[M,N] (+)= α·Σ_p A(i,p)·B(p,:), A(i,p) at a + 4·(i·si + p·sp), B(p,j) at b + 4·(p·ldb + j).
// This instance's (thread's) buffer for packed panels of B (KC × NC_AXPY values), set by the host; 0: no packing.
let pack: usize = 0
export function setPack(p: usize): void {
  pack = p
}

@inline function axpyGemm(a: usize, si: usize, sp: usize, b: usize, c: usize, m: i32, n: i32, k: i32, alpha: f32, acc: i32, ldb: i32, ldc: i32): void {
  const bb = <usize>ldb << 2
  const cb = <usize>ldc << 2
  const spb = sp << 2
  const va = f32x4.splat(alpha)
  for (let p0 = 0; p0 < k; p0 += KC) {
    const kk = min(KC, k - p0)
    const accNow = p0 > 0 ? 1 : acc
    const aP = <usize>p0 * spb
    const bP = b + <usize>p0 * bb
    for (let j0 = 0; j0 < n; j0 += NC_AXPY) {
      const jEnd = min(n, j0 + NC_AXPY)
      const j8 = j0 + ((jEnd - j0) & ~7)
      const j4 = j0 + ((jEnd - j0) & ~3)
      // B's block as contiguous panels of 8 columns: the inner loop then reads it in order
      // instead of one row of B (another cache line) per step
      const packed = pack != 0 && m >= 8 && j8 > j0
      if (packed) {
        let dst = pack
        for (let j = j0; j < j8; j += 8) {
          let src = bP + (<usize>j << 2)
          for (let p = 0; p < kk; p++) {
            v128.store(dst, v128.load(src))
            v128.store(dst, v128.load(src, 16), 16)
            dst += 32
            src += bb
          }
        }
      }
      const bStep = packed ? <usize>32 : bb
      for (let i = 0; i < m; i += 4) {
        const rows = min(4, m - i)
        let ai0 = a + ((<usize>i * si) << 2) + aP
        let ai1 = a + ((<usize>(i + min(1, rows - 1)) * si) << 2) + aP
        let ai2 = a + ((<usize>(i + min(2, rows - 1)) * si) << 2) + aP
        let ai3 = a + ((<usize>(i + min(3, rows - 1)) * si) << 2) + aP
        let aStep = spb
        // A read down its columns (gemmTN): its four values of each step packed side by side,
        // rather than one line of A per step at a stride that (a power of two) maps every line
        // to the same cache set
        if (packed && si == 1) {
          const ap0 = pack + ((<usize>KC * <usize>NC_AXPY) << 2)
          let src = <usize>0
          for (let p = 0; p < kk; p++) {
            const dst = ap0 + (<usize>p << 4)
            store<f32>(dst, load<f32>(ai0 + src))
            store<f32>(dst, load<f32>(ai1 + src), 4)
            store<f32>(dst, load<f32>(ai2 + src), 8)
            store<f32>(dst, load<f32>(ai3 + src), 12)
            src += spb
          }
          ai0 = ap0
          ai1 = ap0 + 4
          ai2 = ap0 + 8
          ai3 = ap0 + 12
          aStep = 16
        }
        const c0 = c + <usize>i * cb
        for (let j = j0; j < j8; j += 8) {
          const jb = <usize>j << 2
          let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0)
          let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0)
          let bp = packed ? pack + ((<usize>((j - j0) >> 3) * <usize>kk) << 5) : bP + jb
          let ap = <usize>0
          for (let p = 0; p < kk; p++) {
            const x0 = v128.load(bp), x1 = v128.load(bp, 16)
            const y0 = v128.load32_splat(ai0 + ap), y1 = v128.load32_splat(ai1 + ap)
            const y2 = v128.load32_splat(ai2 + ap), y3 = v128.load32_splat(ai3 + ap)
            s00 = f32x4.add(s00, f32x4.mul(y0, x0)); s01 = f32x4.add(s01, f32x4.mul(y0, x1))
            s10 = f32x4.add(s10, f32x4.mul(y1, x0)); s11 = f32x4.add(s11, f32x4.mul(y1, x1))
            s20 = f32x4.add(s20, f32x4.mul(y2, x0)); s21 = f32x4.add(s21, f32x4.mul(y2, x1))
            s30 = f32x4.add(s30, f32x4.mul(y3, x0)); s31 = f32x4.add(s31, f32x4.mul(y3, x1))
            bp += bStep
            ap += aStep
          }
          store4(c0 + jb, s00, va, accNow); store4(c0 + jb + 16, s01, va, accNow)
          if (rows > 1) { store4(c0 + cb + jb, s10, va, accNow); store4(c0 + cb + jb + 16, s11, va, accNow) }
          if (rows > 2) { store4(c0 + 2 * cb + jb, s20, va, accNow); store4(c0 + 2 * cb + jb + 16, s21, va, accNow) }
          if (rows > 3) { store4(c0 + 3 * cb + jb, s30, va, accNow); store4(c0 + 3 * cb + jb + 16, s31, va, accNow) }
        }
        for (let j = j8; j < j4; j += 4) {
          const jb = <usize>j << 2
          let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0)
          let bp = bP + jb
          let ap = <usize>0
          for (let p = 0; p < kk; p++) {
            const x0 = v128.load(bp)
            s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(ai0 + ap), x0))
            s1 = f32x4.add(s1, f32x4.mul(v128.load32_splat(ai1 + ap), x0))
            s2 = f32x4.add(s2, f32x4.mul(v128.load32_splat(ai2 + ap), x0))
            s3 = f32x4.add(s3, f32x4.mul(v128.load32_splat(ai3 + ap), x0))
            bp += bb
            ap += aStep
          }
          store4(c0 + jb, s0, va, accNow)
          if (rows > 1) store4(c0 + cb + jb, s1, va, accNow)
          if (rows > 2) store4(c0 + 2 * cb + jb, s2, va, accNow)
          if (rows > 3) store4(c0 + 3 * cb + jb, s3, va, accNow)
        }
        for (let j = j4; j < jEnd; j++) {
          const jb = <usize>j << 2
          let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0
          let bp = bP + jb
          let ap = <usize>0
          for (let p = 0; p < kk; p++) {
            const x = load<f32>(bp)
            s0 += load<f32>(ai0 + ap) * x
            s1 += load<f32>(ai1 + ap) * x
            s2 += load<f32>(ai2 + ap) * x
            s3 += load<f32>(ai3 + ap) * x
            bp += bb
            ap += aStep
          }
          put(c0 + jb, s0, alpha, accNow)
          if (rows > 1) put(c0 + cb + jb, s1, alpha, accNow)
          if (rows > 2) put(c0 + 2 * cb + jb, s2, alpha, accNow)
          if (rows > 3) put(c0 + 3 * cb + jb, s3, alpha, accNow)
        }
      }
    }
  }
}

export function gemmNN(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, alpha: f32, acc: i32, lda: i32, ldb: i32, ldc: i32): void {
  axpyGemm(a, <usize>lda, 1, b, c, m, n, k, alpha, acc, ldb, ldc)
}

// A is [K, lda]: column i of it is row i of Aᵀ.
export function gemmTN(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, alpha: f32, acc: i32, lda: i32, ldb: i32, ldc: i32): void {
  axpyGemm(a, 1, <usize>lda, b, c, m, n, k, alpha, acc, ldb, ldc)
}

// The three products as jobs over rows of C for the host's threads (see fused.ts): arguments at p
// are 0 a, 1 b, 2 c, 3 m, 4 n, 5 k, 6 alpha (f32), 7 acc, 8 lda, 9 ldb, 10 ldc; units are rows of C.
@inline function job(op: i32, lo: i32, hi: i32, p: usize): void {
  const a = <usize>load<i32>(p), b = <usize>load<i32>(p, 4), c = <usize>load<i32>(p, 8)
  const n = load<i32>(p, 16), k = load<i32>(p, 20), alpha = load<f32>(p, 24), acc = load<i32>(p, 28)
  const lda = load<i32>(p, 32), ldb = load<i32>(p, 36), ldc = load<i32>(p, 40)
  const cc = c + ((<usize>lo * <usize>ldc) << 2)
  if (op == 0) gemmNT(a + ((<usize>lo * <usize>lda) << 2), b, cc, hi - lo, n, k, alpha, acc, lda, ldb, ldc)
  else if (op == 1) gemmNN(a + ((<usize>lo * <usize>lda) << 2), b, cc, hi - lo, n, k, alpha, acc, lda, ldb, ldc)
  else gemmTN(a + (<usize>lo << 2), b, cc, hi - lo, n, k, alpha, acc, lda, ldb, ldc)
}
export function gemmNTRows(lo: i32, hi: i32, p: usize): void { job(0, lo, hi, p) }
export function gemmNNRows(lo: i32, hi: i32, p: usize): void { job(1, lo, hi, p) }
export function gemmTNRows(lo: i32, hi: i32, p: usize): void { job(2, lo, hi, p) }

export { attentionForward, attentionBackward, crossEntropy, pickTargets, swiglu, swigluBack, zero, rmsNorm, rmsNormBack, rope, adamw, dropoutMask, mulInto } from "./fused"

// Attention backward as matrix products, for sequences up to a few hundred tokens (the host
// decides): per batch row and key/value head, for each query head sharing it, over the whole
// [t, t] block (the causal half is zeros in P, so it adds nothing):
//   dP = dctx·Vᵀ,  dS = P∘(dP − rowsum(P∘dP))·scale,  dq += dS·K,  dk += dSᵀ·q,  dv += Pᵀ·dctx.
// Twice the multiply-adds of the per-key loops in fused.ts, at the products' speed. Arguments as
// fused.ts attentionBackward, the scratch [b·kv, t, t].
export function attentionBackwardBlocks(lo: i32, hi: i32, p: usize): void {
  const q = <usize>load<i32>(p), k = <usize>load<i32>(p, 4), v = <usize>load<i32>(p, 8), probs = <usize>load<i32>(p, 12)
  const dctx = <usize>load<i32>(p, 16), dq = <usize>load<i32>(p, 20), dk = <usize>load<i32>(p, 24), dv = <usize>load<i32>(p, 28)
  const scratch = <usize>load<i32>(p, 36)
  const t = load<i32>(p, 40), nh = load<i32>(p, 44), kv = load<i32>(p, 48), d = load<i32>(p, 52)
  const scale = load<f32>(p, 56)
  const g = nh / kv
  const ld = nh * d
  for (let u = lo; u < hi; u++) {
    const r = u / kv, kh = u % kv
    const kvBase = (<usize>((r * kv + kh) * t) * <usize>d) << 2
    const dp = scratch + ((<usize>u * <usize>t * <usize>t) << 2)
    for (let x = 0; x < g; x++) {
      const hh = kh * g + x
      const band = (<usize>(r * t * nh + hh) * <usize>d) << 2
      const pp = probs + ((<usize>((r * nh + hh) * t) * <usize>t) << 2)
      gemmNT(dctx + band, v + kvBase, dp, t, t, d, 1, 0, ld, d, t)
      for (let i = 0; i < t; i++) {
        const pr = pp + ((<usize>i * <usize>t) << 2), dr = dp + ((<usize>i * <usize>t) << 2)
        let s = f32x4.splat(0)
        for (let j = 0; j < t; j += 4) s = f32x4.add(s, f32x4.mul(v128.load(pr + (<usize>j << 2)), v128.load(dr + (<usize>j << 2))))
        const rs = f32x4.splat(f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3))
        const sc = f32x4.splat(scale)
        for (let j = 0; j < t; j += 4) {
          const o = <usize>j << 2
          v128.store(dr + o, f32x4.mul(f32x4.mul(v128.load(pr + o), f32x4.sub(v128.load(dr + o), rs)), sc))
        }
      }
      gemmNN(dp, k + kvBase, dq + band, t, d, t, 1, 1, t, d, ld)
      gemmTN(dp, q + band, dk + kvBase, t, d, t, 1, 1, t, ld, d)
      gemmTN(pp, dctx + band, dv + kvBase, t, d, t, 1, 1, t, ld, d)
    }
  }
}

// Attention forward as matrix products (sequences up to a few hundred tokens): per batch row and
// head, S = scale·q Kᵀ over [t, total], the mask and softmax row by row (keys past the causal
// limit set to 0 directly, as their exp is), ctx = P·V. Arguments as fused.ts attentionForward,
// the scratch [b·nh, t, total] when probs are not kept.
export function attentionForwardBlocks(lo: i32, hi: i32, p: usize): void {
  const q = <usize>load<i32>(p), k = <usize>load<i32>(p, 4), v = <usize>load<i32>(p, 8), ctx = <usize>load<i32>(p, 12)
  const probs = <usize>load<i32>(p, 16), valid = <usize>load<i32>(p, 20), scratch = <usize>load<i32>(p, 24)
  const t = load<i32>(p, 28), nh = load<i32>(p, 32), kv = load<i32>(p, 36), d = load<i32>(p, 40), total = load<i32>(p, 44), past = load<i32>(p, 48)
  const scale = load<f32>(p, 52)
  const g = nh / kv
  const ld = nh * d
  for (let u = lo; u < hi; u++) {
    const r = u / nh, hh = u % nh
    const kvBase = (<usize>((r * kv + hh / g) * total) * <usize>d) << 2
    const band = (<usize>(r * t * nh + hh) * <usize>d) << 2
    const s = probs ? probs + ((<usize>((r * nh + hh) * t) * <usize>total) << 2) : scratch + ((<usize>u * <usize>t * <usize>total) << 2)
    const vr = valid + (<usize>(r * total) << 2)
    gemmNT(q + band, k + kvBase, s, t, total, d, scale, 0, ld, d, total)
    for (let i = 0; i < t; i++) {
      const row = s + ((<usize>i * <usize>total) << 2)
      const causal = min(total, past + i + 1)
      const lim = keyLimit(vr, causal, total)
      let max: f32 = -Infinity
      for (let j = 0; j < lim; j++) {
        const o = row + (<usize>j << 2)
        let x = load<f32>(o)
        if (!(j < causal && load<f32>(vr + (<usize>j << 2)) != 0)) {
          x = x + MASKED_F
          store<f32>(o, x)
        }
        if (x > max) max = x
      }
      const vm = f32x4.splat(max)
      let vs = f32x4.splat(0)
      let j = 0
      for (; j + 4 <= lim; j += 4) {
        const o = row + (<usize>j << 2)
        const e = exp4(f32x4.sub(v128.load(o), vm))
        v128.store(o, e)
        vs = f32x4.add(vs, e)
      }
      let sum = f32x4.extract_lane(vs, 0) + f32x4.extract_lane(vs, 1) + f32x4.extract_lane(vs, 2) + f32x4.extract_lane(vs, 3)
      for (; j < lim; j++) {
        const o = row + (<usize>j << 2)
        const e = exp1(load<f32>(o) - max)
        store<f32>(o, e)
        sum += e
      }
      const inv: f32 = 1 / sum
      for (j = 0; j < lim; j++) store<f32>(row + (<usize>j << 2), load<f32>(row + (<usize>j << 2)) * inv)
      for (j = lim; j < total; j++) store<f32>(row + (<usize>j << 2), 0)
    }
    gemmNN(s, v + kvBase, ctx + band, t, d, total, 1, 0, total, d, ld)
  }
}
