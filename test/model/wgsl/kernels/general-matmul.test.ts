import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { readBuffer, roundF16, runDispatches, storageBuffer, toF16 } from "../../../../model/wgsl/kernels/buffers.ts"
import { generalMatmul, generalMatmulParams, pickVariant, splitsK, type GeneralMatmulOptions, type GeneralMatmulShape, type GeneralMatmulStrides, type GeneralMatmulVariant } from "../../../../model/wgsl/kernels/general-matmul.ts"
import { generalMatmulRef } from "../../../helpers/kernels/general-matmul-reference.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { random, relErr } from "../../../helpers/numeric.ts"

// general-matmul.ts against its f64 reference on the real adapter or SwiftShader (f32 storage);
// f16-storage cases skip where the adapter has no shader-f16 (SwiftShader).
const opened = await openTestGpu()

describe("general matmul (C = / += alpha · op(A) · op(B), batched, any shape)", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const gpu = opened.gpu
  const device = gpu.device
  after(() => gpu.close())
  const variants: Array<GeneralMatmulVariant> = ["tile64", "splitk32"]

  /** Runs one product on the GPU from random inputs; returns its relative error against the reference. */
  const check = async (
    o: GeneralMatmulOptions, shape: GeneralMatmulShape, alpha: number, seed: number, strides: GeneralMatmulStrides = {}, passes?: number
  ): Promise<number> => {
    const { M, N, K } = shape
    const batch = shape.batch ?? 1
    const sA = strides.A ?? M * K
    const sB = strides.B ?? K * N
    const sC = strides.C ?? M * N
    const lenA = (batch - 1) * sA + M * K
    const lenB = (batch - 1) * sB + K * N
    const lenC = (batch - 1) * sC + M * N
    const A = random(lenA, seed)
    const B = random(lenB, seed + 1)
    const C0 = random(lenC, seed + 2)
    const Ar = o.aType === "f16" ? roundF16(A) : A
    const Br = o.bType === "f16" ? roundF16(B) : B
    const mm = await generalMatmul(gpu, o)
    const C = storageBuffer(device, C0)
    const buffers = {
      A: storageBuffer(device, o.aType === "f16" ? toF16(A) : A),
      B: storageBuffer(device, o.bType === "f16" ? toF16(B) : B),
      C,
      params: generalMatmulParams(device, shape, strides, alpha)
    }
    const ds = passes === undefined ? [mm.dispatch(buffers, shape)] : mm.dispatches(buffers, shape)
    if (passes !== undefined) assert.equal(ds.length, passes, "dispatches")
    await runDispatches(device, ds)
    const got = new Float32Array(await readBuffer(device, C, lenC * 4))
    const want = generalMatmulRef(Ar, Br, shape, o, alpha, o.accumulate ? C0 : undefined, strides)
    if (!o.accumulate) {
      // rows a batch stride skips over keep their old values (the kernel never writes them)
      for (let z = 0; z < batch; z++) for (let i = z * sC + M * N; i < Math.min(lenC, (z + 1) * sC); i++) want[i] = C0[i]!
    }
    return relErr(got, want)
  }

  for (const variant of variants) {
    for (const [transposeA, transposeB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      const op = `${transposeA ? "Aᵀ" : "A"}·${transposeB ? "Bᵀ" : "B"}`
      it(`${variant}: C = 0.5·${op}, 37×19×53 batch 3 and 70×130×40 (several tiles) batch 2`, async () => {
        const e1 = await check({ aType: "f32", bType: "f32", transposeA, transposeB, accumulate: false, variant }, { M: 37, N: 19, K: 53, batch: 3 }, 0.5, 10)
        const e2 = await check({ aType: "f32", bType: "f32", transposeA, transposeB, accumulate: false, variant }, { M: 70, N: 130, K: 40, batch: 2 }, 0.5, 11)
        assert.ok(e1 < 1e-5 && e2 < 1e-5, `relative errors ${e1}, ${e2}`)
      })
      // accumulating changes only the epilogue, which no transpose touches: two pairs cover it (and SwiftShader compiles slowly)
      if (transposeA === transposeB) {
        it(`${variant}: C += −1.5·${op}, 70×130×40, batch 2`, async () => {
          const err = await check({ aType: "f32", bType: "f32", transposeA, transposeB, accumulate: true, variant }, { M: 70, N: 130, K: 40, batch: 2 }, -1.5, 20)
          assert.ok(err < 1e-5, `relative error ${err}`)
        })
      }
    }

    it(`${variant}: skinny long reduction 16×16×5000 (dB = s·dYᵀ·u: Aᵀ·B)`, async () => {
      const err = await check({ aType: "f32", bType: "f32", transposeA: true, transposeB: false, accumulate: false, variant }, { M: 16, N: 16, K: 5000 }, 0.25, 30)
      assert.ok(err < 1e-5, `relative error ${err}`)
    })

    it(`${variant}: batch strides — B broadcast (stride 0), C rows spaced wider than M·N`, async () => {
      const err = await check({ aType: "f32", bType: "f32", transposeA: false, transposeB: true, accumulate: false, variant }, { M: 33, N: 17, K: 29, batch: 3 }, 1, 40, { B: 0, C: 33 * 17 + 5 })
      assert.ok(err < 1e-5, `relative error ${err}`)
    })

    it(`${variant}: exact tile multiples 64×128×96 and K = 0 (C = 0, or C unchanged when accumulating)`, async () => {
      const err = await check({ aType: "f32", bType: "f32", transposeA: false, transposeB: false, accumulate: false, variant }, { M: 64, N: 128, K: 96 }, 1, 50)
      assert.ok(err < 1e-5, `relative error ${err}`)
      assert.ok(await check({ aType: "f32", bType: "f32", transposeA: false, transposeB: false, accumulate: false, variant }, { M: 5, N: 7, K: 0 }, 1, 51) === 0)
      assert.ok(await check({ aType: "f32", bType: "f32", transposeA: false, transposeB: false, accumulate: true, variant }, { M: 5, N: 7, K: 0 }, 1, 52) === 0)
    })

    for (const [aType, bType] of [["f16", "f16"], ["f16", "f32"], ["f32", "f16"]] as const) {
      it(`${variant}: f16 storage (A ${aType}, B ${bType}), C += 0.5·Aᵀ·Bᵀ and C = A·B, 37×19×53, batch 3`, { skip: needs(gpu, "f16") }, async () => {
        const e1 = await check({ aType, bType, transposeA: true, transposeB: true, accumulate: true, variant }, { M: 37, N: 19, K: 53, batch: 3 }, 0.5, 60)
        const e2 = await check({ aType, bType, transposeA: false, transposeB: false, accumulate: false, variant }, { M: 37, N: 19, K: 53, batch: 3 }, 1, 61)
        assert.ok(e1 < 1e-5 && e2 < 1e-5, `relative errors ${e1}, ${e2}`)
      })
    }
  }

  it("split-K across workgroups (dispatches: K-chunks into partials, then a sum) for long reductions onto few tiles, accumulating", async () => {
    const o = { aType: "f32", bType: "f32", transposeA: true, transposeB: false, accumulate: true } as const
    const e1 = await check(o, { M: 16, N: 16, K: 5000 }, 0.25, 80, {}, 2)
    const e2 = await check(o, { M: 37, N: 19, K: 2100 }, -2, 81, {}, 2) // the last K-chunk is empty
    const e3 = await check(o, { M: 37, N: 19, K: 2100, batch: 2 }, 1, 82, {}, 1) // batches never split
    const e4 = await check(o, { M: 16, N: 16, K: 300 }, 1, 83, {}, 1) // nor short reductions
    assert.ok(Math.max(e1, e2, e3, e4) < 1e-5, `relative errors ${e1}, ${e2}, ${e3}, ${e4}`)
  })

  it("the kernel shape follows the problem: 64-tiles for big products, split-K 32-tiles for the skinny LoRA ones", () => {
    assert.equal(pickVariant({ M: 16384, N: 2048, K: 16 }), "tile64") // dX += du·A
    assert.equal(pickVariant({ M: 16384, N: 16, K: 2048 }), "splitk32") // u = x·Aᵀ
    assert.equal(pickVariant({ M: 2048, N: 16, K: 16384 }), "splitk32") // dB = s·dYᵀ·u
    assert.equal(pickVariant({ M: 16, N: 2048, K: 16384 }), "splitk32") // dA = duᵀ·x
    assert.equal(pickVariant({ M: 16384, N: 3072, K: 16 }), "tile64") // y += s·u·Bᵀ
    assert.equal(pickVariant({ M: 256, N: 256, K: 256 }), "splitk32") // 16 tiles cannot fill a GPU
    assert.equal(pickVariant({ M: 256, N: 256, K: 16 }), "tile64") // nor can a K of 16 be split
    assert.ok(splitsK({ M: 3072, N: 16, K: 16384 }) && splitsK({ M: 16, N: 1024, K: 16384 })) // dB, dA: K-chunks over workgroups too
    assert.ok(!splitsK({ M: 16384, N: 16, K: 3072 }) && !splitsK({ M: 16, N: 1024, K: 16384, batch: 2 }))
  })

  it("f16 storage without shader-f16 is refused, saying why", { skip: gpu.hasF16 ? "this adapter has shader-f16" : false }, async () => {
    await assert.rejects(generalMatmul(gpu, { aType: "f16", bType: "f32", transposeA: false, transposeB: false, accumulate: false }), /shader-f16/)
  })

  it("LoRA forward and backward composed from it match the f64 reference, itself checked by central differences", async () => {
    // y = s·(x·Aᵀ)·Bᵀ, L = Σ y ⊙ G  ⇒  dB = s·Gᵀ·u, du = s·G·B, dA = duᵀ·x, dX = du·A (u = x·Aᵀ)
    const [T, IN, OUT, R, s] = [40, 24, 20, 4, 0.75]
    const x = random(T * IN, 70)
    const A = random(R * IN, 71)
    const B = random(OUT * R, 72)
    const G = random(T * OUT, 73)
    const nn = { transposeA: false, transposeB: false }
    const nt = { transposeA: false, transposeB: true }
    const tn = { transposeA: true, transposeB: false }
    const loss = (x: ArrayLike<number>, A: ArrayLike<number>, B: ArrayLike<number>): number => {
      const u = generalMatmulRef(x, A, { M: T, N: R, K: IN }, nt)
      const y = generalMatmulRef(u, B, { M: T, N: OUT, K: R }, nt, s)
      return y.reduce((acc, v, i) => acc + v * G[i]!, 0)
    }
    const u = generalMatmulRef(x, A, { M: T, N: R, K: IN }, nt)
    const ref = {
      dB: generalMatmulRef(G, u, { M: OUT, N: R, K: T }, tn, s),
      du: generalMatmulRef(G, B, { M: T, N: R, K: OUT }, nn, s)
    }
    const dA = generalMatmulRef(ref.du, x, { M: R, N: IN, K: T }, tn)
    const dX = generalMatmulRef(ref.du, A, { M: T, N: IN, K: R }, nn)
    // the reference gradients against central differences of the forward (f64; L is bilinear, so these are exact up to rounding)
    const h = 1e-3
    const fd = (which: "x" | "A" | "B", i: number): number => {
      const bump = (d: number) => {
        const p = { x: Float64Array.from(x), A: Float64Array.from(A), B: Float64Array.from(B) }
        p[which][i]! += d
        return loss(p.x, p.A, p.B)
      }
      return (bump(h) - bump(-h)) / (2 * h)
    }
    for (const i of [0, 7, 77, 159]) assert.ok(Math.abs(fd("B", i % (OUT * R)) - ref.dB[i % (OUT * R)]!) < 1e-7, `dB[${i}]`)
    for (const i of [0, 13, 50, 95]) assert.ok(Math.abs(fd("A", i) - dA[i]!) < 1e-7, `dA[${i}]`)
    for (const i of [0, 31, 500, 959]) assert.ok(Math.abs(fd("x", i) - dX[i]!) < 1e-7, `dX[${i}]`)

    // the same chain on the GPU, in one submission (dX accumulates onto a prior gradient, as the base layer's dX would be)
    const mk = (o: { transposeA: boolean; transposeB: boolean }, accumulate = false) => generalMatmul(gpu, { aType: "f32", bType: "f32", ...o, accumulate, variant: "splitk32" })
    const [mNT, mNN, mTN, mNNacc] = await Promise.all([mk(nt), mk(nn), mk(tn), mk(nn, true)])
    const buf = (a: Float32Array | number) => storageBuffer(device, typeof a === "number" ? a * 4 : a)
    const [xb, Ab, Bb, Gb] = [buf(x), buf(A), buf(B), buf(G)]
    const [ub, yb, dBb, dub, dAb] = [buf(T * R), buf(T * OUT), buf(OUT * R), buf(T * R), buf(R * IN)]
    const dX0 = random(T * IN, 74)
    const dXb = buf(dX0)
    const P = (shape: GeneralMatmulShape, alpha = 1) => generalMatmulParams(device, shape, {}, alpha)
    const shapes = {
      u: { M: T, N: R, K: IN }, y: { M: T, N: OUT, K: R }, dB: { M: OUT, N: R, K: T }, du: { M: T, N: R, K: OUT }, dA: { M: R, N: IN, K: T }, dX: { M: T, N: IN, K: R }
    }
    await runDispatches(device, [
      mNT.dispatch({ A: xb, B: Ab, C: ub, params: P(shapes.u) }, shapes.u),
      mNT.dispatch({ A: ub, B: Bb, C: yb, params: P(shapes.y, s) }, shapes.y),
      mTN.dispatch({ A: Gb, B: ub, C: dBb, params: P(shapes.dB, s) }, shapes.dB),
      mNN.dispatch({ A: Gb, B: Bb, C: dub, params: P(shapes.du, s) }, shapes.du),
      mTN.dispatch({ A: dub, B: xb, C: dAb, params: P(shapes.dA) }, shapes.dA),
      mNNacc.dispatch({ A: dub, B: Ab, C: dXb, params: P(shapes.dX) }, shapes.dX)
    ])
    const read = async (b: GPUBuffer, n: number) => new Float32Array(await readBuffer(device, b, n * 4))
    const y = generalMatmulRef(u, B, shapes.y, nt, s)
    assert.ok(relErr(await read(yb, T * OUT), y) < 1e-5, "y")
    assert.ok(relErr(await read(dBb, OUT * R), ref.dB) < 1e-5, "dB")
    assert.ok(relErr(await read(dAb, R * IN), dA) < 1e-5, "dA")
    assert.ok(relErr(await read(dXb, T * IN), dX.map((v, i) => v + dX0[i]!)) < 1e-5, "dX")
  })
})
