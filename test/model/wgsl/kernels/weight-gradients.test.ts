import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { random, relErr } from "../../../helpers/numeric.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"
import { rmsnormRef, ropeRef } from "../../../helpers/kernels/reference.ts"
import { readBuffer, runDispatches, storageBuffer, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { normGradGroups, normGradParams, tokenSegments, weightGradientKernels } from "../../../../model/wgsl/kernels/weight-gradients.ts"

// The kernels full-parameter training adds (model/wgsl/kernels/weight-gradients.ts), f32 variants
// (they run on SwiftShader too): transpose, the RMSNorm and q/k-norm weight gradients against the
// forward references (the output is linear in the weight, so ∂/∂W_j of Σ dY·y is Σ dY·y at W = e_j,
// exactly), and the embedding lookup's deterministic scatter-add.

describe("tokenSegments", () => {
  it("groups positions by token, in order", () => {
    const s = tokenSegments(Uint32Array.from([5, 2, 5, 9, 2, 5]))
    assert.equal(s.count, 3)
    assert.deepEqual([...s.tokens.slice(0, 3)], [2, 5, 9])
    assert.deepEqual([...s.order], [1, 4, 0, 2, 5, 3])
    assert.deepEqual([...s.starts.slice(0, 4)], [0, 2, 5, 6])
  })
})

const opened = await openTestGpu()

describe("weight-gradient kernels on the GPU (SwiftShader where there is none)", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const gpu = opened.gpu
  const device = gpu.device
  after(() => gpu.close())
  const readF32 = async (b: GPUBuffer, n: number) => new Float32Array(await readBuffer(device, b, n * 4))

  it("transposes [rows, cols] → [cols, rows] (f32, ragged edges)", async () => {
    const k = await weightGradientKernels(gpu)
    await k.prepare({ transposes: [["f32", "f32"]] })
    const [rows, cols] = [70, 45]
    const X = random(rows * cols, 3)
    const Y = storageBuffer(device, rows * cols * 4)
    await runDispatches(device, [k.transpose("f32", "f32", { X: storageBuffer(device, X), Y, params: uniformBuffer(device, [rows, cols]) }, rows, cols)])
    const got = await readF32(Y, rows * cols)
    const want = new Float32Array(rows * cols)
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want[c * rows + r] = X[r * cols + c]!
    assert.deepEqual([...got], [...want])
  })

  /** Σ dY·f(e_j) for each j: the exact gradient of Σ dY·f(W) for f linear in W. */
  const linearGradient = (f: (W: Float32Array) => Float32Array, dY: Float32Array, H: number) =>
    Float32Array.from({ length: H }, (_, j) => {
      const e = new Float32Array(H)
      e[j] = 1
      const y = f(e)
      let s = 0
      for (let i = 0; i < y.length; i++) s += dY[i]! * y[i]!
      return s
    })

  // 301: the row-at-a-time kernel; 64 and 200: the eight-rows-at-once one (≤ 256), rows not a multiple of 8 or of the groups
  for (const [rows, H] of [[300, 301], [1000, 64], [2051, 200]] as const) {
    it(`RMSNorm weight gradient (${rows} rows × ${H}; ${normGradGroups(rows)} partial rows) adds the reference's to dW`, async () => {
      const k = await weightGradientKernels(gpu)
      await k.prepare({ norms: [[H, false]] })
      const eps = 1e-6
      const X = random(rows * H, 60, 3)
      const dY = random(rows * H, 61)
      const before = random(H, 62)
      const dW = storageBuffer(device, before)
      const p = normGradParams(rows, H, eps)
      await runDispatches(device, k.normWeight(H, false, {
        X: storageBuffer(device, X), dY: storageBuffer(device, dY), partials: storageBuffer(device, normGradGroups(rows) * H * 4), dW,
        params: [uniformBuffer(device, p.partial.words, p.partial.floats), uniformBuffer(device, p.finish.words)]
      }, rows))
      const want = linearGradient((W) => rmsnormRef(X, W, rows, H, eps), dY, H).map((g, i) => g + before[i]!)
      const err = relErr(await readF32(dW, H), want)
      assert.ok(err < 1e-4, `relative error ${err}`)
    })
  }

  // the last: 2240 rows, so each workgroup takes several batches of eight rows
  for (const [D, S, heads, tokens] of [[128, 7, 3, 14], [48, 7, 3, 14], [64, 35, 8, 280]] as const) {
    it(`q/k norm weight gradient through RoPE (head_dim ${D}, ${tokens} tokens × ${heads} heads, S ${S}) matches the reference`, async () => {
      const k = await weightGradientKernels(gpu)
      await k.prepare({ norms: [[D, true]] })
      const [eps, theta] = [1e-6, 1e6]
      const rows = tokens * heads
      const X = random(rows * D, 64, 2)
      const dY = random(rows * D, 65)
      const dW = storageBuffer(device, D * 4)
      const p = normGradParams(rows, D, eps, { S, heads, theta })
      await runDispatches(device, k.normWeight(D, true, {
        X: storageBuffer(device, X), dY: storageBuffer(device, dY), partials: storageBuffer(device, normGradGroups(rows) * D * 4), dW,
        params: [uniformBuffer(device, p.partial.words, p.partial.floats), uniformBuffer(device, p.finish.words)]
      }, rows))
      const want = linearGradient((W) => ropeRef(rmsnormRef(X, W, rows, D, eps), tokens, S, heads, D, 0, theta), dY, D)
      const err = relErr(await readF32(dW, D), want)
      assert.ok(err < 1e-4, `relative error ${err}`)
    })
  }

  it("embedding gradient: dE[id] += Σ dX over the positions holding id, other rows untouched", async () => {
    const k = await weightGradientKernels(gpu)
    const [V, H] = [40, 300]
    const ids = Uint32Array.from({ length: 97 }, (_, i) => (i * i * 7 + 3) % 23)
    const T = ids.length
    const dX = random(T * H, 70)
    const before = random(V * H, 71)
    const dE = storageBuffer(device, before)
    const s = tokenSegments(ids)
    await runDispatches(device, [k.embedding({
      dX: storageBuffer(device, dX), order: storageBuffer(device, s.order), starts: storageBuffer(device, s.starts), tokens: storageBuffer(device, s.tokens),
      count: storageBuffer(device, Uint32Array.from([s.count])), dE, params: uniformBuffer(device, [H])
    }, T)])
    const want = Float32Array.from(before)
    for (let t = 0; t < T; t++) for (let j = 0; j < H; j++) want[ids[t]! * H + j]! += dX[t * H + j]!
    const err = relErr(await readF32(dE, V * H), want)
    assert.ok(err < 1e-6, `relative error ${err}`)
  })
})
