// The fused CPU path's work other than plain matrix products, in WebAssembly SIMD (AssemblyScript,
// compiled with gemm.ts by scripts/build-cpu-kernels.sh): attention forward and backward (scores,
// mask, softmax and the weighted sum of values in one pass per query, keys past the causal limit
// skipped), and the softmax over the vocabulary for the training loss and for scoring. Each is a
// job over units (a batch row and head, or a row of logits) that the host's threads claim in
// ranges: `fn(lo, hi, p)` does units lo..hi−1 with its arguments read from the block at p
// (i32/f32 words, byte addresses into the shared memory). The JavaScript loops they replace spent
// more time than the matrix products at the demo's sizes, mostly in Math.exp and the JIT's warm-up.

const MASKED: f32 = -1e9

// ---- exp on four lanes: Cephes' expf (range reduction by ln 2, degree-5 polynomial), about 1 ulp
// over [−87, 88]; below −87.3 it returns exactly 0 (what a masked score's exp must be).
@inline export function exp4(x0: v128): v128 {
  const x1 = f32x4.min(f32x4.max(x0, f32x4.splat(-87.3)), f32x4.splat(88.3))
  const fx = f32x4.floor(f32x4.add(f32x4.mul(x1, f32x4.splat(1.44269504088896341)), f32x4.splat(0.5)))
  let x = f32x4.sub(x1, f32x4.mul(fx, f32x4.splat(0.693359375)))
  x = f32x4.sub(x, f32x4.mul(fx, f32x4.splat(-2.12194440e-4)))
  let y = f32x4.splat(1.9875691500e-4)
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.3981999507e-3))
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(8.3334519073e-3))
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(4.1665795894e-2))
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(1.6666665459e-1))
  y = f32x4.add(f32x4.mul(y, x), f32x4.splat(5.0000001201e-1))
  y = f32x4.add(f32x4.add(f32x4.mul(f32x4.mul(y, x), x), x), f32x4.splat(1))
  const pow2 = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(fx), i32x4.splat(127)), 23)
  const r = f32x4.mul(y, pow2)
  // x0 < −87.3 (masked, or a tail): 0
  return v128.and(r, f32x4.ge(x0, f32x4.splat(-87.3)))
}

@inline export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0)
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3)
}

@inline function arg(p: usize, i: i32): i32 {
  return load<i32>(p + (<usize>i << 2))
}
@inline function argf(p: usize, i: i32): f32 {
  return load<f32>(p + (<usize>i << 2))
}

/** q·k over d values (d a multiple of 4). */
@inline function dot(q: usize, k: usize, d: i32): f32 {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0)
  let e = 0
  for (; e + 8 <= d; e += 8) {
    const o = <usize>e << 2
    s0 = f32x4.add(s0, f32x4.mul(v128.load(q + o), v128.load(k + o)))
    s1 = f32x4.add(s1, f32x4.mul(v128.load(q + o, 16), v128.load(k + o, 16)))
  }
  if (e < d) s0 = f32x4.add(s0, f32x4.mul(v128.load(q + (<usize>e << 2)), v128.load(k + (<usize>e << 2))))
  return hsum(f32x4.add(s0, s1))
}

/** y[0..d) += a·x[0..d) (d a multiple of 4). */
@inline function axpy(y: usize, a: f32, x: usize, d: i32): void {
  const va = f32x4.splat(a)
  for (let e = 0; e < d; e += 4) {
    const o = <usize>e << 2
    v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(va, v128.load(x + o))))
  }
}

/**
 * How many keys query i of a row reads: keys after past + i are masked by causality, and their
 * exp is exactly 0 once one key is valid; a row whose every visible key is masked (padding) has a
 * softmax over all `total` masked scores instead (as the unfused path computes it).
 */
@inline export function keyLimit(valid: usize, causal: i32, total: i32): i32 {
  for (let j = 0; j < causal; j++) if (load<f32>(valid + (<usize>j << 2)) != 0) return causal
  return total
}

// Attention forward. Arguments: 0 q [b, t, nh, d] (roped), 1 k, 2 v [b, kv, total, d], 3 ctx
// [b, t, nh, d] (written), 4 probs [b, nh, t, total] or 0, 5 valid [b, total] (1/0), 6 scratch
// [b·nh, total], 7 t, 8 nh, 9 kv, 10 d, 11 total, 12 past, 13 scale (f32). Units: r·nh + head.
export function attentionForward(lo: i32, hi: i32, p: usize): void {
  const q = <usize>arg(p, 0), k = <usize>arg(p, 1), v = <usize>arg(p, 2), ctx = <usize>arg(p, 3)
  const probs = <usize>arg(p, 4), valid = <usize>arg(p, 5), scratch = <usize>arg(p, 6)
  const t = arg(p, 7), nh = arg(p, 8), kv = arg(p, 9), d = arg(p, 10), total = arg(p, 11), past = arg(p, 12)
  const scale = argf(p, 13)
  const g = nh / kv
  const rowB = <usize>(nh * d) << 2
  const db = <usize>d << 2
  for (let u = lo; u < hi; u++) {
    const r = u / nh, hh = u % nh
    const kvBase = (<usize>((r * kv + hh / g) * total) * db)
    const kb = k + kvBase, vb = v + kvBase
    const vr = valid + (<usize>(r * total) << 2)
    for (let i = 0; i < t; i++) {
      const qi = q + <usize>(r * t + i) * rowB + <usize>hh * db
      const ci = ctx + <usize>(r * t + i) * rowB + <usize>hh * db
      const s = probs ? probs + (<usize>(((r * nh + hh) * t + i) * total) << 2) : scratch + (<usize>(u * total) << 2)
      const causal = min(total, past + i + 1)
      const lim = keyLimit(vr, causal, total)
      let max: f32 = -Infinity
      for (let j = 0; j < lim; j++) {
        let x = scale * dot(qi, kb + <usize>j * db, d)
        if (!(j < causal && load<f32>(vr + (<usize>j << 2)) != 0)) x = x + MASKED
        store<f32>(s + (<usize>j << 2), x)
        if (x > max) max = x
      }
      // exp(x − max) in place, four at a time, then normalised
      const vm = f32x4.splat(max)
      let vs = f32x4.splat(0)
      let j = 0
      for (; j + 4 <= lim; j += 4) {
        const o = s + (<usize>j << 2)
        const e = exp4(f32x4.sub(v128.load(o), vm))
        v128.store(o, e)
        vs = f32x4.add(vs, e)
      }
      let sum = hsum(vs)
      for (; j < lim; j++) {
        const o = s + (<usize>j << 2)
        const e = exp1(load<f32>(o) - max)
        store<f32>(o, e)
        sum += e
      }
      const inv: f32 = 1 / sum
      for (j = 0; j < lim; j++) store<f32>(s + (<usize>j << 2), load<f32>(s + (<usize>j << 2)) * inv)
      if (probs) for (j = lim; j < total; j++) store<f32>(s + (<usize>j << 2), 0)
      // ctx_i = Σ_j p_j v_j, sixteen values of d at a time in registers
      let e = 0
      for (; e + 16 <= d; e += 16) {
        const eo = <usize>e << 2
        let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0)
        let vp = vb + eo
        for (let jj = 0; jj < lim; jj++) {
          const pj = v128.load32_splat(s + (<usize>jj << 2))
          a0 = f32x4.add(a0, f32x4.mul(pj, v128.load(vp)))
          a1 = f32x4.add(a1, f32x4.mul(pj, v128.load(vp, 16)))
          a2 = f32x4.add(a2, f32x4.mul(pj, v128.load(vp, 32)))
          a3 = f32x4.add(a3, f32x4.mul(pj, v128.load(vp, 48)))
          vp += db
        }
        v128.store(ci + eo, a0); v128.store(ci + eo, a1, 16); v128.store(ci + eo, a2, 32); v128.store(ci + eo, a3, 48)
      }
      for (; e < d; e += 4) {
        const eo = <usize>e << 2
        let a0 = f32x4.splat(0)
        let vp = vb + eo
        for (let jj = 0; jj < lim; jj++) {
          a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(s + (<usize>jj << 2)), v128.load(vp)))
          vp += db
        }
        v128.store(ci + eo, a0)
      }
    }
  }
}

// Attention backward (no cache: total = t). Arguments: 0 q, 1 k (roped), 2 v, 3 probs (as the
// forward saved them), 4 dctx [b, t, nh, d], 5 dq [b, t, nh, d] (added to), 6 dk, 7 dv
// [b, kv, t, d] (added to), 8 valid [b, t], 9 scratch [b·kv, t], 10 t, 11 nh, 12 kv, 13 d,
// 14 scale (f32). Units: r·kv + key/value head, so the heads that share one write its dk, dv alone.
export function attentionBackward(lo: i32, hi: i32, p: usize): void {
  const q = <usize>arg(p, 0), k = <usize>arg(p, 1), v = <usize>arg(p, 2), probs = <usize>arg(p, 3)
  const dctx = <usize>arg(p, 4), dq = <usize>arg(p, 5), dk = <usize>arg(p, 6), dv = <usize>arg(p, 7)
  const valid = <usize>arg(p, 8), scratch = <usize>arg(p, 9)
  const t = arg(p, 10), nh = arg(p, 11), kv = arg(p, 12), d = arg(p, 13)
  const scale = argf(p, 14)
  const g = nh / kv
  const rowB = <usize>(nh * d) << 2
  const db = <usize>d << 2
  for (let u = lo; u < hi; u++) {
    const r = u / kv, kh = u % kv
    const kvBase = <usize>((r * kv + kh) * t) * db
    const kb = k + kvBase, vb = v + kvBase, dkb = dk + kvBase, dvb = dv + kvBase
    const vr = valid + (<usize>(r * t) << 2)
    const dp = scratch + (<usize>(u * t) << 2)
    for (let x = 0; x < g; x++) {
      const hh = kh * g + x
      for (let i = 0; i < t; i++) {
        const off = <usize>(r * t + i) * rowB + <usize>hh * db
        const qi = q + off, dci = dctx + off, dqi = dq + off
        const pi = probs + (<usize>(((r * nh + hh) * t + i) * t) << 2)
        const lim = keyLimit(vr, i + 1, t)
        // dP_ij = dctx_i · v_j; then dS = P·(dP − Σ P·dP)·scale in place
        let rs: f32 = 0
        for (let j = 0; j < lim; j++) {
          const x = dot(dci, vb + <usize>j * db, d)
          store<f32>(dp + (<usize>j << 2), x)
          rs += load<f32>(pi + (<usize>j << 2)) * x
        }
        for (let j = 0; j < lim; j++) {
          const o = <usize>j << 2
          store<f32>(dp + o, load<f32>(pi + o) * (load<f32>(dp + o) - rs) * scale)
        }
        // dq_i += Σ_j dS_ij k_j;  dk_j += dS_ij q_i;  dv_j += P_ij dctx_i
        for (let j = 0; j < lim; j++) {
          const ds = load<f32>(dp + (<usize>j << 2))
          const pj = load<f32>(pi + (<usize>j << 2))
          const kj = kb + <usize>j * db
          axpy(dqi, ds, kj, d)
          axpy(dkb + <usize>j * db, ds, qi, d)
          axpy(dvb + <usize>j * db, pj, dci, d)
        }
      }
    }
  }
}

// The last softmaxRow's maximum (a global: one per instance, so per thread).
let rowMax: f32 = 0

/** max (into rowMax) and Σ exp(x − max) of a row of n values; with `write`, exp(x − max) replaces x. */
@inline function softmaxRow(x: usize, n: i32, write: bool): f64 {
  let vm = f32x4.splat(-Infinity)
  let j = 0
  for (; j + 4 <= n; j += 4) vm = f32x4.max(vm, v128.load(x + (<usize>j << 2)))
  let mx: f32 = max<f32>(max<f32>(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max<f32>(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)))
  for (; j < n; j++) mx = max<f32>(mx, load<f32>(x + (<usize>j << 2)))
  rowMax = mx
  const m4 = f32x4.splat(mx)
  // sums in f32 lanes over blocks of 256 values, blocks added in f64: a vocabulary of 150k stays exact to ~1e-7
  let sum: f64 = 0
  j = 0
  while (j + 4 <= n) {
    const end = min(n & ~3, j + 256)
    let vs = f32x4.splat(0)
    for (; j < end; j += 4) {
      const o = x + (<usize>j << 2)
      const e = exp4(f32x4.sub(v128.load(o), m4))
      if (write) v128.store(o, e)
      vs = f32x4.add(vs, e)
    }
    sum += <f64>hsum(vs)
  }
  for (; j < n; j++) {
    const o = x + (<usize>j << 2)
    const e = exp1(load<f32>(o) - mx)
    if (write) store<f32>(o, e)
    sum += <f64>e
  }
  return sum
}

// Cross-entropy and its gradient over rows of logits, in place. Arguments: 0 logits [rows, n]
// (replaced by d loss / d logits), 1 targets (i32 [rows]), 2 weights (f32 [rows]: the row's
// weight ÷ the batch's target count), 3 losses (f64 [rows], written: −log softmax at the
// target, unweighted), 4 n. Units: rows.
export function crossEntropy(lo: i32, hi: i32, p: usize): void {
  const logits = <usize>arg(p, 0), targets = <usize>arg(p, 1), weights = <usize>arg(p, 2), losses = <usize>arg(p, 3)
  const n = arg(p, 4)
  for (let r = lo; r < hi; r++) {
    const x = logits + (<usize>r * <usize>n << 2)
    const target = arg(targets, r)
    const picked = load<f32>(x + (<usize>target << 2))
    const sum = softmaxRow(x, n, true)
    const max = rowMax
    store<f64>(losses + (<usize>r << 3), <f64>max + Math.log(sum) - <f64>picked)
    const w = argf(weights, r)
    const f = f32x4.splat(<f32>(<f64>w / sum))
    let j = 0
    for (; j + 4 <= n; j += 4) {
      const o = x + (<usize>j << 2)
      v128.store(o, f32x4.mul(v128.load(o), f))
    }
    for (; j < n; j++) {
      const o = x + (<usize>j << 2)
      store<f32>(o, load<f32>(o) * <f32>(<f64>w / sum))
    }
    const at = x + (<usize>target << 2)
    store<f32>(at, load<f32>(at) - w)
  }
}

// Scoring: per row of logits, the log-softmax at the target and the argmax (first of equal
// maxima). Arguments: 0 logits [rows, n], 1 targets (i32), 2 logprobs (f32, written), 3 argmax
// (i32, written), 4 n. Units: rows.
export function pickTargets(lo: i32, hi: i32, p: usize): void {
  const logits = <usize>arg(p, 0), targets = <usize>arg(p, 1), logprobs = <usize>arg(p, 2), argmax = <usize>arg(p, 3)
  const n = arg(p, 4)
  for (let r = lo; r < hi; r++) {
    const x = logits + (<usize>r * <usize>n << 2)
    const sum = softmaxRow(x, n, false)
    const max = rowMax
    let at = 0
    while (at < n - 1 && load<f32>(x + (<usize>at << 2)) != max) at++
    const target = arg(targets, r)
    store<f32>(logprobs + (<usize>r << 2), <f32>(<f64>load<f32>(x + (<usize>target << 2)) - <f64>max - Math.log(sum)))
    store<i32>(argmax + (<usize>r << 2), at)
  }
}

// SwiGLU, elementwise over n values (n a multiple of 4; called on the calling thread):
// act = silu(gate)·up, silu(g) = g·σ(g).
export function swiglu(gate: usize, up: usize, act: usize, n: i32): void {
  const one = f32x4.splat(1)
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2
    const g = v128.load(gate + o)
    const sg = f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(g))))
    v128.store(act + o, f32x4.mul(f32x4.mul(g, sg), v128.load(up + o)))
  }
}

// Its adjoint: dup = dact·silu(g), dgate = dact·up·σ(g)·(1 + g·(1 − σ(g))).
export function swigluBack(dact: usize, gate: usize, up: usize, dgate: usize, dup: usize, n: i32): void {
  const one = f32x4.splat(1)
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2
    const g = v128.load(gate + o)
    const da = v128.load(dact + o)
    const sg = f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(g))))
    v128.store(dup + o, f32x4.mul(da, f32x4.mul(g, sg)))
    v128.store(dgate + o, f32x4.mul(f32x4.mul(f32x4.mul(da, v128.load(up + o)), sg), f32x4.add(one, f32x4.mul(g, f32x4.sub(one, sg)))))
  }
}

// Zeroes n bytes at p (bulk memory: TypedArray.fill on shared memory goes element by element).
export function zero(p: usize, n: usize): void {
  memory.fill(p, 0, n)
}

// RMSNorm over `groups` groups of `width` values (width a multiple of 4): out = x·rstd·w,
// rstd = 1/√(mean(x²) + eps) (kept for the backward). Calling thread.
export function rmsNorm(x: usize, w: usize, width: i32, groups: i32, eps: f32, out: usize, rstd: usize): void {
  const wb = <usize>width << 2
  for (let g = 0; g < groups; g++) {
    const xo = x + <usize>g * wb, oo = out + <usize>g * wb
    let s = f32x4.splat(0)
    for (let i = 0; i < width; i += 4) {
      const v = v128.load(xo + (<usize>i << 2))
      s = f32x4.add(s, f32x4.mul(v, v))
    }
    const r: f32 = 1 / Mathf.sqrt(hsum(s) / <f32>width + eps)
    store<f32>(rstd + (<usize>g << 2), r)
    const vr = f32x4.splat(r)
    for (let i = 0; i < width; i += 4) {
      const o = <usize>i << 2
      v128.store(oo + o, f32x4.mul(f32x4.mul(v128.load(xo + o), vr), v128.load(w + o)))
    }
  }
}

// Its adjoint: dx (+)= dy·w·r − x·(Σ dy·w·x)·r³/width; dw += dy·x·r when dw ≠ 0.
export function rmsNormBack(x: usize, w: usize, rstd: usize, dy: usize, width: i32, groups: i32, dx: usize, dw: usize, overwrite: i32): void {
  const wb = <usize>width << 2
  for (let g = 0; g < groups; g++) {
    const xo = x + <usize>g * wb, dyo = dy + <usize>g * wb, dxo = dx + <usize>g * wb
    const r = load<f32>(rstd + (<usize>g << 2))
    let s = f32x4.splat(0)
    for (let i = 0; i < width; i += 4) {
      const o = <usize>i << 2
      s = f32x4.add(s, f32x4.mul(f32x4.mul(v128.load(dyo + o), v128.load(w + o)), v128.load(xo + o)))
    }
    const c = f32x4.splat((hsum(s) * r * r * r) / <f32>width)
    const vr = f32x4.splat(r)
    for (let i = 0; i < width; i += 4) {
      const o = <usize>i << 2
      const xv = v128.load(xo + o), dyv = v128.load(dyo + o)
      const v = f32x4.sub(f32x4.mul(f32x4.mul(dyv, v128.load(w + o)), vr), f32x4.mul(xv, c))
      v128.store(dxo + o, overwrite ? v : f32x4.add(v128.load(dxo + o), v))
      if (dw) v128.store(dw + o, f32x4.add(v128.load(dw + o), f32x4.mul(f32x4.mul(dyv, xv), vr)))
    }
  }
}

// RoPE on rows of `heads` vectors of d values ([rows, heads, d]), row m rotated by cos/sin
// [rows, d]; `back` applies the adjoint (the rotation by −angle). d/2 a multiple of 4.
export function rope(buf: usize, cos: usize, sin: usize, rows: i32, heads: i32, d: i32, back: i32): void {
  const half = d >> 1
  const hb = <usize>half << 2
  const db = <usize>d << 2
  for (let m = 0; m < rows; m++) {
    const cm = cos + <usize>m * db, sm = sin + <usize>m * db
    for (let h = 0; h < heads; h++) {
      const o = buf + (<usize>(m * heads + h)) * db
      for (let i = 0; i < half; i += 4) {
        const io = <usize>i << 2
        const x1 = v128.load(o + io), x2 = v128.load(o + hb + io)
        const c1 = v128.load(cm + io), c2 = v128.load(cm + hb + io)
        const s1 = v128.load(sm + io), s2 = v128.load(sm + hb + io)
        if (back) {
          v128.store(o + io, f32x4.add(f32x4.mul(x1, c1), f32x4.mul(x2, s2)))
          v128.store(o + hb + io, f32x4.sub(f32x4.mul(x2, c2), f32x4.mul(x1, s1)))
        } else {
          v128.store(o + io, f32x4.sub(f32x4.mul(x1, c1), f32x4.mul(x2, s1)))
          v128.store(o + hb + io, f32x4.add(f32x4.mul(x2, c2), f32x4.mul(x1, s2)))
        }
      }
    }
  }
}

// AdamW, step for step as torch.optim.AdamW, over blocks of 256 values. Arguments: 0 p, 1 g,
// 2 m, 3 v (moments, updated in place), 4 p' (written), 5 n, 6 gradScale, 7 β1, 8 β2, 9 eps,
// 10 lr / (1 − β1ᵗ), 11 √(1 − β2ᵗ), 12 1 − lr·wd (f32). Units: blocks of 256 values.
export function adamw(lo: i32, hi: i32, p: usize): void {
  const pp = <usize>arg(p, 0), g = <usize>arg(p, 1), m = <usize>arg(p, 2), v = <usize>arg(p, 3), out = <usize>arg(p, 4)
  const n = arg(p, 5)
  const scale = argf(p, 6), b1 = argf(p, 7), b2 = argf(p, 8), eps = argf(p, 9), step = argf(p, 10), sbc2 = argf(p, 11), decay = argf(p, 12)
  const end = min(n, hi * 256)
  let j = lo * 256
  const vs = f32x4.splat(scale), vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vc1 = f32x4.splat(1 - b1), vc2 = f32x4.splat(1 - b2)
  const veps = f32x4.splat(eps), vstep = f32x4.splat(step), vsb = f32x4.splat(sbc2), vdecay = f32x4.splat(decay)
  for (; j + 4 <= end; j += 4) {
    const o = <usize>j << 2
    const gi = f32x4.mul(v128.load(g + o), vs)
    const mi = f32x4.add(f32x4.mul(vb1, v128.load(m + o)), f32x4.mul(vc1, gi))
    const vi = f32x4.add(f32x4.mul(vb2, v128.load(v + o)), f32x4.mul(f32x4.mul(vc2, gi), gi))
    v128.store(m + o, mi)
    v128.store(v + o, vi)
    const den = f32x4.add(f32x4.div(f32x4.sqrt(vi), vsb), veps)
    v128.store(out + o, f32x4.sub(f32x4.mul(v128.load(pp + o), vdecay), f32x4.div(f32x4.mul(vstep, mi), den)))
  }
  for (; j < end; j++) {
    const o = <usize>j << 2
    const gi = load<f32>(g + o) * scale
    const mi = b1 * load<f32>(m + o) + (1 - b1) * gi
    const vi = b2 * load<f32>(v + o) + (1 - b2) * gi * gi
    store<f32>(m + o, mi)
    store<f32>(v + o, vi)
    store<f32>(out + o, load<f32>(pp + o) * decay - (step * mi) / (Mathf.sqrt(vi) / sbc2 + eps))
  }
}

// Dropout's multiplier, floor(u + keep) / keep, from the uniform draws tfjs' randomUniform makes
// with the same seed: seedrandom's Alea (state s0, s1, s2, c from its Mash of the seed, computed
// by the host) in f64 as its JavaScript does, each draw rounded to f32 as tfjs stores it.
export function dropoutMask(out: usize, n: i32, s0: f64, s1: f64, s2: f64, c: f64, keep: f32): void {
  const k = <f64>keep
  for (let i = 0; i < n; i++) {
    const t = 2091639 * s0 + c * 2.3283064365386963e-10
    s0 = s1
    s1 = s2
    c = <f64><i32>t // t | 0 (t is in [0, 2091640))
    s2 = t - c
    const u = <f32>s2
    store<f32>(out + (<usize>i << 2), <f32>(Math.floor(<f64><f32>(<f64>u + k)) / k))
  }
}

// out = a·b, or out += a·b with acc, over n values (n a multiple of 4).
export function mulInto(a: usize, b: usize, out: usize, n: i32, acc: i32): void {
  for (let i = 0; i < n; i += 4) {
    const o = <usize>i << 2
    const v = f32x4.mul(v128.load(a + o), v128.load(b + o))
    v128.store(out + o, acc ? f32x4.add(v128.load(out + o), v) : v)
  }
}
