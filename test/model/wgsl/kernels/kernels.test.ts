import assert from "node:assert/strict"
import { random, relErr } from "../../../helpers/numeric.ts"
import { after, describe, it } from "node:test"
import { f16BitsToF32, readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { openGpu, pickMatrixConfig } from "../../../../model/wgsl/kernels/device.ts"
import { ONE_PASS_ATTENTION_TC, TWO_PASS_ATTENTION_TC, tensorCoreAttention, type AttentionTcVariant } from "../../../../model/wgsl/kernels/attention-tc.ts"
import { elementwiseKernels, fusedKernels } from "../../../../model/wgsl/kernels/fused.ts"
import { matmulPlan, type MatmulImpl } from "../../../../model/wgsl/kernels/matmul.ts"
import { attentionRef, matmulRef, rmsnormRef, ropeRef, swigluRef } from "../../../helpers/kernels/reference.ts"
import { dequantizeNf4, nf4Absmax, quantizeNf4 } from "../../../../model/formats/nf4.ts"

// Each WGSL kernel against its CPU reference (test/helpers/kernels/reference.ts) on a real adapter.
// Without one (CPU-only CI) the suite skips and says why.
const opened = await openGpu()
const skip = opened._tag === "Unavailable" ? opened.reason : false

describe("WGSL kernels on the GPU", { skip }, () => {
  if (opened._tag !== "Ready") return
  const gpu = opened.gpu
  const device = gpu.device
  after(() => gpu.close())
  const impls: Array<MatmulImpl> = pickMatrixConfig(gpu) ? ["subgroup-matrix", "tiled"] : ["tiled"]
  const [M, N, K] = [256, 384, 320]
  const A = random(M * K, 1)
  const W = random(N * K, 2, 0.05)
  const readF32 = async (b: GPUBuffer, n: number) => new Float32Array(await readBuffer(device, b, n * 4))
  const readF16 = async (b: GPUBuffer, n: number) => Float32Array.from(new Uint16Array(await readBuffer(device, b, n * 2)), f16BitsToF32)

  for (const impl of impls) {
    it(`matmul f16 × f16 → f32 (${impl}) matches the f64 reference on f16-rounded inputs`, async () => {
      const plan = await matmulPlan(gpu, "f16", impl)
      const C = storageBuffer(device, M * N * 4)
      await runDispatches(device, [plan.dispatch({ A: storageBuffer(device, toF16(A)), B: storageBuffer(device, toF16(W)), C, params: uniformBuffer(device, [M, N, K, 0]) }, M, N)])
      const err = relErr(await readF32(C, M * N), matmulRef(roundF16(A), roundF16(W), M, N, K))
      assert.ok(err < 1e-4, `relative error ${err}`)
    })

    it(`matmul with NF4 weights dequantised in the kernel (${impl}) matches the dequantised reference`, async () => {
      const plan = await matmulPlan(gpu, "nf4", impl)
      const q = quantizeNf4(W, [N, K])
      const words = new Uint32Array(q.packed.buffer.slice(0), 0, q.packed.length / 4)
      const C = storageBuffer(device, M * N * 4)
      await runDispatches(device, [plan.dispatch({ A: storageBuffer(device, toF16(A)), B: storageBuffer(device, words), C, params: uniformBuffer(device, [M, N, K, 0]), absmax: storageBuffer(device, nf4Absmax(q.stats)) }, M, N)])
      // the tensor-core path rounds each dequantised weight to f16 before the multiply
      const Wd = impl === "subgroup-matrix" ? roundF16(dequantizeNf4(q)) : dequantizeNf4(q)
      const err = relErr(await readF32(C, M * N), matmulRef(roundF16(A), Wd, M, N, K))
      assert.ok(err < 1e-4, `relative error ${err}`)
    })
  }

  it("flash attention (causal, GQA 4:2, KV cache of 24, S=40 not a multiple of the block) matches the reference", async () => {
    const [B, S, T, H, KV, D] = [2, 40, 64, 4, 2, 128]
    const Q = random(B * S * H * D, 3)
    const Kc = random(B * T * KV * D, 4)
    const V = random(B * T * KV * D, 5)
    const fused = await fusedKernels(gpu, D)
    const O = storageBuffer(device, Q.byteLength)
    const scale = 1 / Math.sqrt(D)
    await runDispatches(device, [fused.attention({ Q: storageBuffer(device, Q), K: storageBuffer(device, Kc), V: storageBuffer(device, V), O, params: uniformBuffer(device, [B, S, T, H, KV, 0, 0, 0], [scale]) }, B, S, H)])
    const err = relErr(await readF32(O, Q.length), attentionRef(Q, Kc, V, B, S, T, H, KV, D, scale))
    assert.ok(err < 1e-4, `relative error ${err}`)
  })

  if (pickMatrixConfig(gpu)) {
    // undefined: the default (two passes); onePass: the opt-in one-pass form. Spread 6 makes scores
    // large enough that the one-pass form raises its running max (rescales O) mid-row.
    const cases: ReadonlyArray<readonly [number, number, AttentionTcVariant | undefined, number?]> = [
      [48, 48, undefined], [64, 96, undefined], [32, 80, undefined], [128, 128, undefined, 6], [64, 96, { queryFragments: 2, keyBlock: 64, pad: 4 }],
      [96, 96, { queryFragments: 2, keyBlock: 32 }], [48, 80, { queryFragments: 1, keyBlock: 32, pad: 4 }],
      [48, 48, ONE_PASS_ATTENTION_TC], [64, 96, ONE_PASS_ATTENTION_TC], [128, 128, ONE_PASS_ATTENTION_TC, 6],
      [96, 96, { queryFragments: 2, keyBlock: 32, onePass: true }, 6], [64, 96, { queryFragments: 1, keyBlock: 64, onePass: true }]
    ]
    for (const [S, T, variant, spread] of cases) {
      it(`tensor-core attention (f16 Q/K/V/O, causal, GQA 4:2, S=${S}, cache of ${T - S}${variant ? `, ${variant.queryFragments * 16} queries × ${variant.keyBlock} keys a block${variant.onePass ? ", one pass" : ", two passes"}` : ", the default"}${spread ? `, scores spread ×${spread}` : ""}) matches the reference on f16-rounded inputs`, async () => {
        const [B, H, KV, D] = [2, 4, 2, 128]
        const Q = roundF16(random(B * S * H * D, 13, spread ?? 1))
        const Kc = roundF16(random(B * T * KV * D, 14))
        const V = roundF16(random(B * T * KV * D, 15))
        const attention = await tensorCoreAttention(gpu, D, variant)
        const O = storageBuffer(device, Q.length * 2)
        const scale = 1 / Math.sqrt(D)
        await runDispatches(device, [attention({ Q: storageBuffer(device, toF16(Q)), K: storageBuffer(device, toF16(Kc)), V: storageBuffer(device, toF16(V)), O, params: uniformBuffer(device, [B, S, T, H, KV, 0, 0, 0], [scale]) }, B, S, H, T)])
        const err = relErr(await readF16(O, Q.length), attentionRef(Q, Kc, V, B, S, T, H, KV, D, scale))
        assert.ok(err < 5e-3, `relative error ${err}`)
      })
    }
  }

  if (pickMatrixConfig(gpu)) {
    for (const [what, variant] of [["the default, two passes", undefined], ["one pass", ONE_PASS_ATTENTION_TC]] as const) it(`tensor-core attention compiled with LSE writes log Σ exp(scale·q·k) of each query row (${what})`, async () => {
      const [B, S, T, H, KV, D] = [2, 32, 48, 4, 2, 128]
      const Q = roundF16(random(B * S * H * D, 41, 4))
      const Kc = roundF16(random(B * T * KV * D, 42))
      const V = roundF16(random(B * T * KV * D, 43))
      const attention = await tensorCoreAttention(gpu, D, variant, true)
      const O = storageBuffer(device, Q.length * 2)
      const LSE = storageBuffer(device, B * S * H * 4)
      const scale = 1 / Math.sqrt(D)
      await runDispatches(device, [attention({ Q: storageBuffer(device, toF16(Q)), K: storageBuffer(device, toF16(Kc)), V: storageBuffer(device, toF16(V)), O, LSE, params: uniformBuffer(device, [B, S, T, H, KV, 0, 0, 0], [scale]) }, B, S, H, T)])
      const want = new Float32Array(B * S * H)
      for (let b = 0; b < B; b++) for (let s = 0; s < S; s++) for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / KV))
        const scores: Array<number> = []
        for (let t = 0; t <= T - S + s; t++) {
          let dot = 0
          for (let d = 0; d < D; d++) dot += Q[((b * S + s) * H + h) * D + d]! * Kc[((b * T + t) * KV + kvh) * D + d]!
          scores.push(dot * scale)
        }
        const m = Math.max(...scores)
        want[(b * S + s) * H + h] = m + Math.log(scores.reduce((a, x) => a + Math.exp(x - m), 0))
      }
      const got = await readF32(LSE, want.length)
      let maxAbs = 0
      for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i]! - want[i]!))
      assert.ok(maxAbs < 1e-3, `max |Δ LSE| ${maxAbs}`)
    })

    // the two-pass form only: the flash form (the default since session 8) takes any S and T (attention-flash.test.ts)
    it("the two-pass tensor-core attention refuses a sequence that is not a multiple of 16, saying to pad it", async () => {
      const attention = await tensorCoreAttention(gpu, 128, TWO_PASS_ATTENTION_TC)
      const b = storageBuffer(device, 16)
      assert.throws(() => attention({ Q: b, K: b, V: b, O: b, params: b }, 1, 40, 4, 64), /multiple of 16.*pad/)
    })
  }

  for (const impl of impls) {
    it(`matmul accumulating onto C (C += A·Bᵀ, the fused residual add) (${impl})`, async () => {
      const plan = await matmulPlan(gpu, "f16", impl, { accumulate: true })
      const C0 = random(M * N, 16)
      const C = storageBuffer(device, C0)
      await runDispatches(device, [plan.dispatch({ A: storageBuffer(device, toF16(A)), B: storageBuffer(device, toF16(W)), C, params: uniformBuffer(device, [M, N, K, 0]) }, M, N)])
      const want = matmulRef(roundF16(A), roundF16(W), M, N, K).map((v, i) => v + C0[i]!)
      const err = relErr(await readF32(C, M * N), want)
      assert.ok(err < 1e-4, `relative error ${err}`)
    })
  }

  it("RMSNorm, SwiGLU and q/k norm + RoPE with f16 results (the tensor-core operands) match the reference within f16 rounding", async () => {
    const fused = await fusedKernels(gpu, 128)
    const [rows, H] = [37, 1024]
    const X = random(rows * H, 26, 3)
    const Wn = random(H, 27)
    const Y = storageBuffer(device, rows * H * 2)
    await runDispatches(device, [fused.rmsnormF16({ X: storageBuffer(device, X), W: storageBuffer(device, Wn), Y, params: uniformBuffer(device, [rows, H, 0, 0], [1e-6]) }, rows)])
    assert.ok(relErr(await readF16(Y, X.length), rmsnormRef(X, Wn, rows, H, 1e-6)) < 1e-3, "rmsnorm → f16")

    const n = 3000
    const G = random(n, 29, 6)
    const U = random(n, 30)
    const Out = storageBuffer(device, n * 2)
    await runDispatches(device, [fused.swigluF16({ G: storageBuffer(device, G), U: storageBuffer(device, U), Y: Out, params: uniformBuffer(device, [n]) }, n)])
    assert.ok(relErr(await readF16(Out, n), swigluRef(G, U)) < 1e-3, "swiglu → f16")

    const [S, heads, D, past] = [20, 3, 128, 7]
    const Wh = random(D, 31)
    const Q = random(2 * S * heads * D, 32, 2)
    const Qh = storageBuffer(device, Q.length * 2)
    await runDispatches(device, [fused.qkNormRopeF16({ X: storageBuffer(device, Q), W: storageBuffer(device, Wh), Y: Qh, params: uniformBuffer(device, [2 * S, S, heads, past], [1e-6, 1e6]) }, 2 * S, heads)])
    const err = relErr(await readF16(Qh, Q.length), ropeRef(rmsnormRef(Q, Wh, 2 * S * heads, D, 1e-6), 2 * S, S, heads, D, past, 1e6))
    assert.ok(err < 1e-3, `q/k norm + rope → f16 relative error ${err}`)
  })

  it("after a merged q|k|v projection, one kernel norms and rotates q and k and casts v, as the three separate passes do", async () => {
    const fused = await fusedKernels(gpu, 128)
    // 3 q heads over 1 kv head, 2 sequences of 20: rows of [q heads | k head | v head]
    const [S, H, KV, D] = [20, 3, 1, 128]
    const rows = 2 * S
    const X = random(rows * (H + 2 * KV) * D, 41, 2)
    const [Wq, Wk] = [random(D, 42), random(D, 43)]
    // the three parts of each row, as the separate projections would have written them
    const part = (from: number, heads: number) => Float32Array.from({ length: rows * heads * D }, (_, i) => X[Math.floor(i / (heads * D)) * (H + 2 * KV) * D + from * D + (i % (heads * D))]!)
    const [Xq, Xk, Xv] = [part(0, H), part(H, KV), part(H + KV, KV)]
    const [Q, Kb, V] = [storageBuffer(device, rows * H * D * 2), storageBuffer(device, rows * KV * D * 2), storageBuffer(device, rows * KV * D * 2)]
    await runDispatches(device, [fused.qkvNormRopeF16({ X: storageBuffer(device, X), Wq: storageBuffer(device, Wq), Wk: storageBuffer(device, Wk), Q, K: Kb, V, params: uniformBuffer(device, [rows, S, H, KV], [1e-6, 1e6]) }, rows, H, KV)])
    const qErr = relErr(await readF16(Q, Xq.length), ropeRef(rmsnormRef(Xq, Wq, rows * H, D, 1e-6), rows, S, H, D, 0, 1e6))
    const kErr = relErr(await readF16(Kb, Xk.length), ropeRef(rmsnormRef(Xk, Wk, rows * KV, D, 1e-6), rows, S, KV, D, 0, 1e6))
    const vErr = relErr(await readF16(V, Xv.length), roundF16(Xv))
    assert.ok(qErr < 1e-3 && kErr < 1e-3, `q relative error ${qErr}, k ${kErr}`)
    assert.equal(vErr, 0, "v is only cast to f16")
  })

  it("RMSNorm, RoPE (with a position offset), fused q/k norm + RoPE and SwiGLU match the reference", async () => {
    const fused = await fusedKernels(gpu, 128)
    const [rows, H] = [37, 1024]
    const X = random(rows * H, 6, 3)
    const Wn = random(H, 7)
    const Y = storageBuffer(device, X.byteLength)
    await runDispatches(device, [fused.rmsnorm({ X: storageBuffer(device, X), W: storageBuffer(device, Wn), Y, params: uniformBuffer(device, [rows, H, 0, 0], [1e-6]) }, rows)])
    assert.ok(relErr(await readF32(Y, X.length), rmsnormRef(X, Wn, rows, H, 1e-6)) < 1e-5, "rmsnorm")

    const [S, heads, D, past] = [20, 3, 128, 100]
    const R = random(2 * S * heads * D, 8)
    const Rb = storageBuffer(device, R)
    await runDispatches(device, [fused.rope({ X: Rb, params: uniformBuffer(device, [2 * S, S, heads, D, past, 0, 0, 0], [1e6]) }, 2 * S, heads, D)])
    const ropeErr = relErr(await readF32(Rb, R.length), ropeRef(R, 2 * S, S, heads, D, past, 1e6))
    assert.ok(ropeErr < 1e-4, `rope relative error ${ropeErr}`)

    const n = 3000
    const G = random(n, 9, 6)
    const U = random(n, 10)
    const Out = storageBuffer(device, n * 4)
    await runDispatches(device, [fused.swiglu({ G: storageBuffer(device, G), U: storageBuffer(device, U), Y: Out, params: uniformBuffer(device, [n]) }, n)])
    assert.ok(relErr(await readF32(Out, n), swigluRef(G, U)) < 1e-5, "swiglu")

    // Qwen3's per-head q/k norm then RoPE, fused in place: the same as the two references in a row
    const Wh = random(D, 11)
    const Q = random(2 * S * heads * D, 12, 2)
    const Qb = storageBuffer(device, Q)
    await runDispatches(device, [fused.qkNormRope({ X: Qb, W: storageBuffer(device, Wh), params: uniformBuffer(device, [2 * S, S, heads, past], [1e-6, 1e6]) }, 2 * S, heads)])
    const qkErr = relErr(await readF32(Qb, Q.length), ropeRef(rmsnormRef(Q, Wh, 2 * S * heads, D, 1e-6), 2 * S, S, heads, D, past, 1e6))
    assert.ok(qkErr < 1e-4, `q/k norm + rope relative error ${qkErr}`)

    const el = await elementwiseKernels(gpu)
    const Xb = storageBuffer(device, G)
    await runDispatches(device, [el.add({ X: Xb, R: storageBuffer(device, U), params: uniformBuffer(device, [n]) }, n)])
    assert.ok(relErr(await readF32(Xb, n), G.map((g, i) => g + U[i]!)) < 1e-6, "add")
  })

  // weightLayout "kn": C = A·W with the weight W still stored [K,N] (the backward dX = dY·W of a [out, in] weight)
  const noF16 = gpu.hasF16 ? false : `${gpu.adapter.description || "this adapter"} has no shader-f16`
  const transposed = (X: Float32Array, rows: number, cols: number) => {
    const T = new Float32Array(rows * cols)
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) T[c * rows + r] = X[r * cols + c]!
    return T
  }
  for (const impl of impls) {
    it(`matmul "kn" layout: the "kn" WGSL compiles for f16 and NF4 weights, plain and accumulating (${impl})`, { skip: noF16 }, async () => {
      for (const format of ["f16", "nf4"] as const) {
        for (const accumulate of [false, true]) {
          const plan = await matmulPlan(gpu, format, impl, { accumulate, weightLayout: "kn" })
          assert.equal(plan.impl, impl)
        }
      }
    })

    it(`matmul "kn" layout f16: C = A·W with W stored [K,N] (${impl}) matches the reference`, { skip: noF16 }, async () => {
      const plan = await matmulPlan(gpu, "f16", impl, { weightLayout: "kn" })
      const C = storageBuffer(device, M * N * 4)
      await runDispatches(device, [plan.dispatch({ A: storageBuffer(device, toF16(A)), B: storageBuffer(device, toF16(W)), C, params: uniformBuffer(device, [M, N, K, 0]) }, M, N)])
      const err = relErr(await readF32(C, M * N), matmulRef(roundF16(A), transposed(roundF16(W), K, N), M, N, K))
      assert.ok(err < 1e-4, `relative error ${err}`)
    })

    it(`matmul "kn" layout NF4 (blocks of 64 along N): C = A·W with W stored [K,N] (${impl}) matches the dequantised reference`, { skip: noF16 }, async () => {
      const plan = await matmulPlan(gpu, "nf4", impl, { weightLayout: "kn" })
      const q = quantizeNf4(W, [K, N])
      const words = new Uint32Array(q.packed.buffer.slice(0), 0, q.packed.length / 4)
      const C = storageBuffer(device, M * N * 4)
      await runDispatches(device, [plan.dispatch({ A: storageBuffer(device, toF16(A)), B: storageBuffer(device, words), C, params: uniformBuffer(device, [M, N, K, 0]), absmax: storageBuffer(device, nf4Absmax(q.stats)) }, M, N)])
      const Wd = impl === "subgroup-matrix" ? roundF16(dequantizeNf4(q)) : dequantizeNf4(q)
      const err = relErr(await readF32(C, M * N), matmulRef(roundF16(A), transposed(Wd, K, N), M, N, K))
      assert.ok(err < 1e-4, `relative error ${err}`)
    })

    it(`matmul "kn" layout accumulating: C += A·W, f16 and NF4 (${impl})`, { skip: noF16 }, async () => {
      for (const format of ["f16", "nf4"] as const) {
        const plan = await matmulPlan(gpu, format, impl, { accumulate: true, weightLayout: "kn" })
        const C0 = random(M * N, 17)
        const C = storageBuffer(device, C0)
        const q = format === "nf4" ? quantizeNf4(W, [K, N]) : undefined
        const B = q ? storageBuffer(device, new Uint32Array(q.packed.buffer.slice(0), 0, q.packed.length / 4)) : storageBuffer(device, toF16(W))
        await runDispatches(device, [plan.dispatch({ A: storageBuffer(device, toF16(A)), B, C, params: uniformBuffer(device, [M, N, K, 0]), ...(q ? { absmax: storageBuffer(device, nf4Absmax(q.stats)) } : {}) }, M, N)])
        const Wd = q ? (impl === "subgroup-matrix" ? roundF16(dequantizeNf4(q)) : dequantizeNf4(q)) : roundF16(W)
        const want = matmulRef(roundF16(A), transposed(Wd, K, N), M, N, K).map((v, i) => v + C0[i]!)
        const err = relErr(await readF32(C, M * N), want)
        assert.ok(err < 1e-4, `${format}: relative error ${err}`)
      }
    })
  }
})
