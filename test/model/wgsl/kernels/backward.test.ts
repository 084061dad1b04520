import assert from "node:assert/strict"
import { selectBackend } from "../../../../model/tfjs/backend.ts"
import { after, describe, it } from "node:test"
import * as tf from "@tensorflow/tfjs-core"
import { random, relErr } from "../../../helpers/numeric.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { f16BitsToF32, readBuffer, runDispatches, storageBuffer, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { backwardKernels, sumOfSquaresPartials } from "../../../../model/wgsl/kernels/backward.ts"
import { rmsnormRef, ropeRef, swigluRef } from "../../../helpers/kernels/reference.ts"
import {
  adamwRef,
  crossEntropyLossRef,
  crossEntropyRef,
  IGNORED,
  qkNormRopeBackwardRef,
  rmsnormBackwardRef,
  sumOfSquaresRef,
  swigluBackwardRef,
  type AdamWRefOptions
} from "../../../helpers/kernels/backward-reference.ts"
import { AdamW } from "../../../../model/train/adamw.ts"

/**
 * ∂/∂X[k] of Σ dY·f(X) by central differences (f64 sums of the f32 forward), at a few coordinates;
 * the step is what the f32 storage really holds (x+h and x−h rounded), so only truncation remains.
 */
const finiteDiff = (f: (X: Float32Array) => ArrayLike<number>, X: Float32Array, dY: ArrayLike<number>, coords: ReadonlyArray<number>, h: number): Array<number> =>
  coords.map((k) => {
    const at = (delta: number) => {
      const Xp = Float32Array.from(X)
      Xp[k] = X[k]! + delta
      const y = f(Xp)
      let s = 0
      for (let i = 0; i < y.length; i++) s += dY[i]! * y[i]!
      return { s, x: Xp[k]! }
    }
    const [plus, minus] = [at(h), at(-h)]
    return (plus.s - minus.s) / (plus.x - minus.x)
  })

/** |numeric − analytic| at the coordinates, relative to the largest analytic gradient there. */
const fdErr = (numeric: ReadonlyArray<number>, analytic: ArrayLike<number>, coords: ReadonlyArray<number>): number =>
  relErr(numeric, coords.map((k) => analytic[k]!))

const spread = (n: number, count: number) => Array.from({ length: count }, (_, i) => Math.floor(((i + 0.37) * n) / count))

describe("backward references agree with central differences of the forward references", () => {
  it("RMSNorm (reference.ts rmsnormRef)", () => {
    const [rows, H, eps] = [3, 37, 1e-6]
    const X = random(rows * H, 21, 2)
    const W = random(H, 22)
    const dY = random(rows * H, 23)
    const coords = spread(rows * H, 12)
    const numeric = finiteDiff((x) => rmsnormRef(x, W, rows, H, eps), X, dY, coords, 1e-2)
    const err = fdErr(numeric, rmsnormBackwardRef(X, W, dY, rows, H, eps), coords)
    assert.ok(err < 2e-4, `relative error ${err}`)
  })

  it("q/k norm + RoPE (ropeRef ∘ rmsnormRef per head, with a position offset)", () => {
    const [rows, S, heads, D, past, eps, theta] = [4, 3, 2, 10, 5, 1e-6, 1e4]
    const X = random(rows * heads * D, 24, 2)
    const W = random(D, 25)
    const dY = random(rows * heads * D, 26)
    const coords = spread(rows * heads * D, 16)
    const forward = (x: Float32Array) => ropeRef(rmsnormRef(x, W, rows * heads, D, eps), rows, S, heads, D, past, theta)
    const numeric = finiteDiff(forward, X, dY, coords, 1e-2)
    const err = fdErr(numeric, qkNormRopeBackwardRef(X, W, dY, rows, S, heads, D, past, eps, theta), coords)
    assert.ok(err < 2e-4, `relative error ${err}`)
  })

  it("SwiGLU, both inputs (reference.ts swigluRef)", () => {
    const n = 40
    const G = random(n, 27, 6)
    const U = random(n, 28)
    const dY = random(n, 29)
    const coords = spread(n, 10)
    const { dG, dU } = swigluBackwardRef(G, U, dY)
    const errG = fdErr(finiteDiff((g) => swigluRef(g, U), G, dY, coords, 1e-2), dG, coords)
    const errU = fdErr(finiteDiff((u) => swigluRef(G, u), U, dY, coords, 1e-2), dU, coords)
    assert.ok(errG < 2e-4 && errU < 2e-4, `relative errors dG ${errG}, dU ${errU}`)
  })

  it("cross-entropy: dLogits = scale · ∂loss/∂logits, loss and gradient 0 on ignored rows", () => {
    const [rows, V, scale] = [3, 50, 0.25]
    const logits = random(rows * V, 30, 4)
    const targets = Uint32Array.from([7, IGNORED, 49])
    const { loss, dLogits } = crossEntropyRef(logits, targets, rows, V, scale)
    const total = (x: Float32Array) => [0, 1, 2].reduce((s, r) => s + (targets[r]! === IGNORED ? 0 : scale * crossEntropyLossRef(x.subarray(r * V, (r + 1) * V), targets[r]!)), 0)
    const coords = [0, 7, 13, 60, 99, 100, 120, 149]
    const numeric = finiteDiff((x) => [total(x)], logits, [1], coords, 1e-3)
    assert.ok(fdErr(numeric, dLogits, coords) < 1e-4, `relative error ${fdErr(numeric, dLogits, coords)}`)
    assert.equal(loss[1], 0)
    assert.ok(dLogits.subarray(V, 2 * V).every((g) => g === 0), "ignored row has no gradient")
    // the loss is the forward's value: log Σ exp − logit of the target
    const row0 = Array.from(logits.subarray(0, V), Number)
    assert.ok(Math.abs(loss[0]! - (Math.log(row0.reduce((s, x) => s + Math.exp(x), 0)) - row0[7]!)) < 1e-5)
  })

  it("AdamW reference agrees with the tfjs trainer's AdamW (model/train/adamw.ts) over three steps", async () => {
    await selectBackend("cpu") // registers tfjs' CPU backend on the tfjs-core every module shares (also inside the GPU bundles)
    const n = 257
    const opts: AdamWRefOptions = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, maxNorm: 0 }
    const P0 = random(n, 31)
    const P = Float32Array.from(P0)
    const M = new Float32Array(n)
    const V = new Float32Array(n)
    const opt = new AdamW({ beta1: opts.beta1, beta2: opts.beta2, eps: opts.eps, weightDecay: opts.weightDecay })
    const w = tf.variable(tf.tensor(P0))
    for (let t = 1; t <= 3; t++) {
      const G = random(n, 40 + t)
      adamwRef(P, G, M, V, 0, t, opts)
      const g = tf.tensor(G)
      opt.apply(new Map([["w", w]]), new Map([["w", g]]), opts.lr)
      g.dispose()
    }
    const got = w.dataSync() as Float32Array
    const err = relErr(got.map((x, i) => x - P0[i]!), P.map((x, i) => x - P0[i]!))
    opt.dispose()
    w.dispose()
    assert.ok(err < 1e-5, `relative error of the update ${err}`)
  })
})

const opened = await openTestGpu()

describe("backward kernels on the GPU (SwiftShader where there is none)", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const gpu = opened.gpu
  const device = gpu.device
  after(() => gpu.close())
  const readF32 = async (b: GPUBuffer, n: number) => new Float32Array(await readBuffer(device, b, n * 4))
  const readF16 = async (b: GPUBuffer, n: number) => Float32Array.from(new Uint16Array(await readBuffer(device, b, n * 2)), f16BitsToF32)
  const buf = (data: Float32Array | Uint32Array) => storageBuffer(device, data)

  for (const accumulate of [0, 1]) {
    it(`RMSNorm backward (13 rows × 301, accumulate ${accumulate ? "on: dX +=" : "off: dX ="}) matches the reference`, async () => {
      const k = await backwardKernels(gpu, 128)
      const [rows, H, eps] = [13, 301, 1e-6]
      const X = random(rows * H, 50, 3)
      const W = random(H, 51)
      const dY = random(rows * H, 52)
      const before = random(rows * H, 53)
      const dX = buf(before)
      await runDispatches(device, [k.rmsnormBackward({ X: buf(X), W: buf(W), dY: buf(dY), dX, params: uniformBuffer(device, [rows, H, accumulate, 0], [eps]) }, rows)])
      const ref = rmsnormBackwardRef(X, W, dY, rows, H, eps)
      const want = accumulate ? ref.map((g, i) => g + before[i]!) : ref
      const err = relErr(await readF32(dX, rows * H), want)
      assert.ok(err < 1e-4, `relative error ${err}`)
    })
  }

  for (const D of [128, 48]) {
    it(`q/k norm + RoPE backward (head_dim ${D}, 14 rows × 3 heads, S 7, past 100) matches the reference`, async () => {
      const k = await backwardKernels(gpu, D)
      const [S, heads, past, eps, theta] = [7, 3, 100, 1e-6, 1e6]
      const rows = 2 * S
      const X = random(rows * heads * D, 54, 2)
      const W = random(D, 55)
      const dY = random(rows * heads * D, 56)
      const dX = storageBuffer(device, X.byteLength)
      await runDispatches(device, [k.qkNormRopeBackward({ X: buf(X), W: buf(W), dY: buf(dY), dX, params: uniformBuffer(device, [rows, S, heads, past], [eps, theta]) }, rows, heads)])
      const err = relErr(await readF32(dX, X.length), qkNormRopeBackwardRef(X, W, dY, rows, S, heads, D, past, eps, theta))
      // SwiftShader's sin/cos/pow are coarser: its forward qkNormRopeWgsl is off by 1.3e-4…2e-4 too
      const tolerance = opened.software ? 5e-4 : 1e-4
      assert.ok(err < tolerance, `relative error ${err}`)
    })
  }

  const swigluCase = (n: number) => {
    const G = random(n, 57, 8)
    const U = random(n, 58)
    const dY = random(n, 59)
    return { G, U, dY, ref: swigluBackwardRef(G, U, dY) }
  }

  it("SwiGLU backward (n 3001) matches the reference", async () => {
    const k = await backwardKernels(gpu, 128)
    const n = 3001
    const { G, U, dY, ref } = swigluCase(n)
    const [dG, dU] = [storageBuffer(device, n * 4), storageBuffer(device, n * 4)]
    await runDispatches(device, [k.swigluBackward({ G: buf(G), U: buf(U), dY: buf(dY), dG, dU, params: uniformBuffer(device, [n]) }, n)])
    const [eG, eU] = [relErr(await readF32(dG, n), ref.dG), relErr(await readF32(dU, n), ref.dU)]
    assert.ok(eG < 1e-4 && eU < 1e-4, `relative errors dG ${eG}, dU ${eU}`)
  })

  it("SwiGLU backward → f16 (n 3001) matches the reference", { skip: needs(gpu, "f16") }, async () => {
    const k = await backwardKernels(gpu, 128)
    const n = 3001
    const { G, U, dY, ref } = swigluCase(n)
    const [dG, dU] = [storageBuffer(device, n * 2), storageBuffer(device, n * 2)]
    await runDispatches(device, [k.swigluBackwardF16({ G: buf(G), U: buf(U), dY: buf(dY), dG, dU, params: uniformBuffer(device, [n]) }, n)])
    const [eG, eU] = [relErr(await readF16(dG, n), ref.dG), relErr(await readF16(dU, n), ref.dU)]
    assert.ok(eG < 1e-3 && eU < 1e-3, `relative errors dG ${eG}, dU ${eU}`)
  })

  // 6 rows of 1001 logits, two ignored, targets at both ends of the vocabulary
  const ceCase = () => {
    const [rows, V, scale] = [6, 1001, 1 / 4]
    const logits = random(rows * V, 60, 6)
    const targets = Uint32Array.from([3, IGNORED, 1000, 0, IGNORED, 517])
    return { rows, V, scale, logits, targets, ref: crossEntropyRef(logits, targets, rows, V, scale) }
  }

  it("cross-entropy (6 rows × 1001, two ignored) matches the reference: loss and dLogits", async () => {
    const k = await backwardKernels(gpu, 128)
    const { rows, V, scale, logits, targets, ref } = ceCase()
    const loss = storageBuffer(device, rows * 4)
    const dLogits = buf(random(rows * V, 61)) // garbage first: ignored rows must be zeroed, not skipped
    await runDispatches(device, [k.crossEntropy({ logits: buf(logits), targets: buf(targets), loss, dLogits, params: uniformBuffer(device, [rows, V, 0, 0], [scale]) }, rows)])
    const gotLoss = await readF32(loss, rows)
    const gotD = await readF32(dLogits, rows * V)
    assert.ok(relErr(gotLoss, ref.loss) < 1e-5, `loss ${[...gotLoss]} vs ${[...ref.loss]}`)
    assert.equal(gotLoss[1], 0)
    assert.ok(gotD.subarray(V, 2 * V).every((g) => g === 0) && gotD.subarray(4 * V, 5 * V).every((g) => g === 0), "ignored rows: dLogits all 0")
    const err = relErr(gotD, ref.dLogits)
    assert.ok(err < 1e-4, `dLogits relative error ${err}`)
  })

  it("cross-entropy on long rows of large logits (3 × 20011, |logit| ≤ 60: the online max rescales) matches the reference", async () => {
    const k = await backwardKernels(gpu, 128)
    const [rows, V, scale] = [3, 20011, 1 / 3]
    const logits = random(rows * V, 65, 60)
    const targets = Uint32Array.from([5, 20010, 12345])
    const ref = crossEntropyRef(logits, targets, rows, V, scale)
    const [loss, dLogits] = [storageBuffer(device, rows * 4), storageBuffer(device, rows * V * 4)]
    await runDispatches(device, [k.crossEntropy({ logits: buf(logits), targets: buf(targets), loss, dLogits, params: uniformBuffer(device, [rows, V, 0, 0], [scale]) }, rows)])
    const [eL, eD] = [relErr(await readF32(loss, rows), ref.loss), relErr(await readF32(dLogits, rows * V), ref.dLogits)]
    assert.ok(eL < 1e-5 && eD < 1e-4, `relative errors loss ${eL}, dLogits ${eD}`)
  })

  it("cross-entropy → f16 dLogits matches the reference", { skip: needs(gpu, "f16") }, async () => {
    const k = await backwardKernels(gpu, 128)
    const { rows, V, scale, logits, targets, ref } = ceCase()
    const loss = storageBuffer(device, rows * 4)
    const dLogits = storageBuffer(device, rows * V * 2)
    await runDispatches(device, [k.crossEntropyF16({ logits: buf(logits), targets: buf(targets), loss, dLogits, params: uniformBuffer(device, [rows, V, 0, 0], [scale]) }, rows)])
    assert.ok(relErr(await readF32(loss, rows), ref.loss) < 1e-5, "loss")
    const err = relErr(await readF16(dLogits, rows * V), ref.dLogits)
    assert.ok(err < 1e-3, `dLogits relative error ${err}`)
  })

  for (const n of [5, 5003, 70001]) {
    it(`sum of squares (n ${n}, ${sumOfSquaresPartials(n)} partial sums) matches the reference`, async () => {
      const k = await backwardKernels(gpu, 128)
      const X = random(n, 62, 3)
      const count = sumOfSquaresPartials(n)
      const out = storageBuffer(device, 4)
      await runDispatches(device, k.sumOfSquares({ X: buf(X), partials: storageBuffer(device, count * 4), out, params: uniformBuffer(device, [n, count]) }, n))
      const got = (await readF32(out, 1))[0]!
      const want = sumOfSquaresRef(X)
      assert.ok(Math.abs(got - want) / want < 1e-5, `${got} vs ${want}`)
    })
  }

  it("sum of squares reads and writes windows of larger buffers (Binding offsets, as LoRA gradients packed in one buffer)", async () => {
    const k = await backwardKernels(gpu, 128)
    const n = 1001
    const all = random(64 + n + 50, 64, 2) // 64 floats (256 bytes) before the window, 50 after
    const X = all.subarray(64, 64 + n)
    const count = sumOfSquaresPartials(n)
    const outs = storageBuffer(device, 512)
    const params = uniformBuffer(device, [n, count])
    await runDispatches(device, k.sumOfSquares({ X: { buffer: buf(all), offset: 256, size: n * 4 }, partials: storageBuffer(device, count * 4), out: { buffer: outs, offset: 256, size: 4 }, params }, n))
    const got = (await readF32(outs, 65))[64]!
    assert.ok(Math.abs(got - sumOfSquaresRef(X)) / sumOfSquaresRef(X) < 1e-5, `${got} vs ${sumOfSquaresRef(X)}`)
  })

  for (const maxNorm of [0, 1]) {
    it(`AdamW, three steps after the GPU's sum of squares (n 3001, ${maxNorm > 0 ? "clipped to norm 1" : "no clipping"}) matches the reference`, async () => {
      const k = await backwardKernels(gpu, 128)
      const n = 3001
      const o: AdamWRefOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxNorm }
      const P0 = random(n, 63)
      const [P, M, V] = [Float32Array.from(P0), new Float32Array(n), new Float32Array(n)]
      const [Pb, Mb, Vb] = [buf(P0), storageBuffer(device, n * 4), storageBuffer(device, n * 4)]
      const count = sumOfSquaresPartials(n)
      const [partials, norm] = [storageBuffer(device, count * 4), storageBuffer(device, 4)]
      for (let t = 1; t <= 3; t++) {
        const G = random(n, 70 + t, 0.5)
        const Gb = buf(G)
        await runDispatches(device, [
          ...k.sumOfSquares({ X: Gb, partials, out: norm, params: uniformBuffer(device, [n, count]) }, n),
          k.adamw({ P: Pb, G: Gb, M: Mb, V: Vb, norm, params: uniformBuffer(device, [n, t], [o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.maxNorm]) }, n)
        ])
        adamwRef(P, G, M, V, sumOfSquaresRef(G), t, o)
      }
      if (maxNorm > 0) assert.ok(Math.sqrt(sumOfSquaresRef(random(n, 73, 0.5))) > 10, "the gradients are big enough for clipping to act")
      const gotP = await readF32(Pb, n)
      const eP = relErr(gotP.map((x, i) => x - P0[i]!), P.map((x, i) => x - P0[i]!))
      const [eM, eV] = [relErr(await readF32(Mb, n), M), relErr(await readF32(Vb, n), V)]
      assert.ok(eP < 1e-4 && eM < 1e-4 && eV < 1e-4, `relative errors ΔP ${eP}, M ${eM}, V ${eV}`)
    })
  }
})
