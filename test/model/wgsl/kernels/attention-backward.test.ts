import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { attentionBackward, AttentionBackwardShapeError, type AttentionBackwardBuffers, type AttentionBackwardVariant } from "../../../../model/wgsl/kernels/attention-backward.ts"
import { attentionBackwardFor, tensorCoreAttentionBackward, type AttentionBackwardTcVariant, type MatrixMode } from "../../../../model/wgsl/kernels/attention-backward-tc.ts"
import type { Dispatch } from "../../../../model/wgsl/kernels/buffers.ts"
import { attentionBackwardRef, attentionLseRef } from "../../../helpers/kernels/attention-backward-reference.ts"
import { attentionRef } from "../../../helpers/kernels/reference.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { random, relErr } from "../../../helpers/numeric.ts"

// The causal GQA attention backward: first the CPU reference against central finite differences
// of the forward reference (so the reference is proven), then the WGSL kernels against the
// reference, f32 on SwiftShader where there is no GPU, f16 inputs where shader-f16 is there.

interface Shape { readonly B: number; readonly S: number; readonly T: number; readonly H: number; readonly KV: number; readonly D: number }
const SHAPES: ReadonlyArray<Shape & { readonly name: string }> = [
  { name: "B=2, S=24, T=40 (a cache of 16), GQA 4:2, D=64", B: 2, S: 24, T: 40, H: 4, KV: 2, D: 64 },
  { name: "B=1, S=T=33 (blocks not full), GQA 4:2, D=64", B: 1, S: 33, T: 33, H: 4, KV: 2, D: 64 }
]

/** Inputs of a problem: spread wide enough that softmax rows are far from uniform. */
const problem = ({ B, S, T, H, KV, D }: Shape, seed: number) => ({
  Q: random(B * S * H * D, seed, 2),
  K: random(B * T * KV * D, seed + 1, 2),
  V: random(B * T * KV * D, seed + 2),
  R: random(B * S * H * D, seed + 3), // the loss Σ O∘R, so dO = R
  scale: 1 / Math.sqrt(D)
})

describe("attention backward CPU reference", () => {
  for (const shape of SHAPES) {
    it(`matches central finite differences of attentionRef's loss Σ O∘R (${shape.name})`, () => {
      const { B, S, T, H, KV, D } = shape
      const { Q, K, V, R, scale } = problem(shape, 11)
      const loss = (q: Float32Array, k: Float32Array, v: Float32Array) => {
        const O = attentionRef(q, k, v, B, S, T, H, KV, D, scale)
        let l = 0
        for (let i = 0; i < O.length; i++) l += O[i]! * R[i]!
        return l
      }
      const grads = attentionBackwardRef(Q, K, V, R, B, S, T, H, KV, D, scale)
      const eps = 1e-2
      const checks: Array<[string, Float32Array, Float32Array, number]> = []
      // a few coordinates of each input, spread over batches, heads, positions (first, cached, last)
      const pick = (n: number, seed: number) => [...Array.from(random(5, seed), (x) => Math.floor(((x + 1) / 2) * n)), 0, n - 1]
      for (const i of pick(Q.length, 21)) checks.push(["Q", Q, grads.dQ, i])
      for (const i of pick(K.length, 22)) checks.push(["K", K, grads.dK, i])
      for (const i of pick(V.length, 23)) checks.push(["V", V, grads.dV, i])
      let worst = 0
      for (const [name, x, g, i] of checks) {
        const at = (delta: number) => {
          const y = Float32Array.from(x)
          y[i] = x[i]! + delta
          return { y, moved: y[i]! - x[i]! } // what f32 really holds
        }
        const plus = at(eps)
        const minus = at(-eps)
        const f = (y: Float32Array) => (name === "Q" ? loss(y, K, V) : name === "K" ? loss(Q, y, V) : loss(Q, K, y))
        const fd = (f(plus.y) - f(minus.y)) / (plus.moved - minus.moved)
        const err = Math.abs(fd - g[i]!) / Math.max(1, Math.abs(fd))
        worst = Math.max(worst, err)
        assert.ok(err < 2e-3, `d${name}[${i}]: finite difference ${fd}, reference ${g[i]}`)
      }
      // the check must not pass on zeros: the gradients it looked at are not all vanishing
      assert.ok(checks.some(([, , g, i]) => Math.abs(g[i]!) > 1e-2), "all checked gradients are ~0")
      assert.ok(worst < 2e-3)
    })
  }

  it("sums dK/dV of a kv head over its query heads (GQA)", () => {
    // S=2 queries after a cache of 3, four query heads on one kv head
    const [B, S, T, H, KV, D] = [1, 2, 5, 4, 1, 32]
    const { Q, K, V, R, scale } = problem({ B, S, T, H, KV, D }, 31)
    const all = attentionBackwardRef(Q, K, V, R, B, S, T, H, KV, D, scale)
    // each query head alone (its own kv head copy) must add up to the shared kv head's gradient
    const sum = new Float64Array(all.dK.length)
    for (let h = 0; h < H; h++) {
      const Qh = new Float32Array(B * S * D)
      const Rh = new Float32Array(B * S * D)
      for (let s = 0; s < S; s++) {
        Qh.set(Q.subarray((s * H + h) * D, (s * H + h + 1) * D), s * D)
        Rh.set(R.subarray((s * H + h) * D, (s * H + h + 1) * D), s * D)
      }
      const one = attentionBackwardRef(Qh, K, V, Rh, B, S, T, 1, 1, D, scale)
      one.dK.forEach((x, i) => (sum[i] += x))
    }
    assert.ok(relErr(all.dK, sum) < 1e-6)
  })
})

const opened = await openTestGpu()

describe("attention backward kernels (WGSL)", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const { gpu } = opened
  const device = gpu.device
  after(() => gpu.close())
  const readF32 = async (b: GPUBuffer, n: number) => new Float32Array(await readBuffer(device, b, n * 4))

  type Record = (b: AttentionBackwardBuffers, B: number, S: number, H: number, KV: number, T: number) => Array<Dispatch>
  const runCase = async (shape: Shape, inputType: "f32" | "f16", seed: number, variant?: AttentionBackwardVariant, kernels?: Record) => {
    const { B, S, T, H, KV, D } = shape
    const raw = problem(shape, seed)
    // f16 inputs: the reference sees the values the buffers really hold
    const [Q, K, V] = inputType === "f16" ? [roundF16(raw.Q), roundF16(raw.K), roundF16(raw.V)] : [raw.Q, raw.K, raw.V]
    const O32 = attentionRef(Q, K, V, B, S, T, H, KV, D, raw.scale)
    const O = inputType === "f16" ? roundF16(O32) : O32
    const LSE = attentionLseRef(Q, K, B, S, T, H, KV, D, raw.scale)
    // Dlt is computed by the kernel from the stored O: the reference's dS uses the exact rowsum(dO∘O) = rowsum(dP∘P)
    const want = attentionBackwardRef(Q, K, V, raw.R, B, S, T, H, KV, D, raw.scale)
    const input = (x: Float32Array) => storageBuffer(device, inputType === "f16" ? toF16(x) : x)
    const dQ = storageBuffer(device, B * S * H * D * 4)
    const dK = storageBuffer(device, B * T * KV * D * 4)
    const dV = storageBuffer(device, B * T * KV * D * 4)
    const backward = kernels ?? await attentionBackward(gpu, D, inputType, variant)
    await runDispatches(device, backward({
      Q: input(Q), K: input(K), V: input(V), O: input(O), dO: storageBuffer(device, raw.R), LSE: storageBuffer(device, LSE),
      dQ, dK, dV, params: uniformBuffer(device, [B, S, T, H, KV, 0, 0, 0], [raw.scale])
    }, B, S, H, KV, T))
    return {
      dQ: relErr(await readF32(dQ, want.dQ.length), want.dQ),
      dK: relErr(await readF32(dK, want.dK.length), want.dK),
      dV: relErr(await readF32(dV, want.dV.length), want.dV)
    }
  }

  for (const shape of SHAPES) {
    it(`f32 inputs match the reference (${shape.name})`, async () => {
      const err = await runCase(shape, "f32", 41)
      for (const [name, e] of Object.entries(err)) assert.ok(e < 1e-4, `${name}: relative error ${e}`)
    })
  }

  it("two rows a thread (the 128-thread variant) matches the reference on both shapes", async () => {
    for (const shape of SHAPES) {
      const err = await runCase(shape, "f32", 45, { rowsPerThread: 2 })
      for (const [name, e] of Object.entries(err)) assert.ok(e < 1e-4, `${shape.name}: ${name}: relative error ${e}`)
    }
  })

  it("D=128 (f32 inputs, B=1, S=T=40, GQA 4:2) matches the reference", async () => {
    const err = await runCase({ B: 1, S: 40, T: 40, H: 4, KV: 2, D: 128 }, "f32", 51)
    for (const [name, e] of Object.entries(err)) assert.ok(e < 1e-4, `${name}: relative error ${e}`)
  })

  it("writes dK/dV rather than accumulating onto them, and takes a Dlt scratch binding (4 query heads on one kv head)", async () => {
    const [B, S, T, H, KV, D] = [1, 8, 12, 4, 1, 64] // D=64: the pipelines compiled above (SwiftShader compiles slowly)
    const { Q, K, V, R, scale } = problem({ B, S, T, H, KV, D }, 61)
    const want = attentionBackwardRef(Q, K, V, R, B, S, T, H, KV, D, scale)
    const dK = storageBuffer(device, random(B * T * KV * D, 62, 100)) // garbage that must be overwritten
    const dQ = storageBuffer(device, random(B * S * H * D, 63, 100))
    const dV = storageBuffer(device, random(B * T * KV * D, 64, 100))
    const backward = await attentionBackward(gpu, D, "f32")
    await runDispatches(device, backward({
      Q: storageBuffer(device, Q), K: storageBuffer(device, K), V: storageBuffer(device, V),
      O: storageBuffer(device, attentionRef(Q, K, V, B, S, T, H, KV, D, scale)), dO: storageBuffer(device, R),
      LSE: storageBuffer(device, attentionLseRef(Q, K, B, S, T, H, KV, D, scale)), dQ, dK, dV,
      params: uniformBuffer(device, [B, S, T, H, KV, 0, 0, 0], [scale]), Dlt: storageBuffer(device, B * S * H * 4)
    }, B, S, H, KV, T))
    assert.ok(relErr(await readF32(dK, want.dK.length), want.dK) < 1e-4)
    assert.ok(relErr(await readF32(dV, want.dV.length), want.dV) < 1e-4)
    assert.ok(relErr(await readF32(dQ, want.dQ.length), want.dQ) < 1e-4)
  })

  it("refuses a head_dim that is not a multiple of 32 and H not a multiple of KV", async () => {
    await assert.rejects(attentionBackward(gpu, 48, "f32"), AttentionBackwardShapeError)
    const backward = await attentionBackward(gpu, 64, "f32")
    const b = storageBuffer(device, 64)
    assert.throws(() => backward({ Q: b, K: b, V: b, O: b, dO: b, LSE: b, dQ: b, dK: b, dV: b, params: b }, 1, 8, 3, 2, 8), /multiple of KV/)
  })

  for (const shape of SHAPES) {
    it(`f16 Q/K/V/O match the reference on f16-rounded inputs (${shape.name})`, { skip: needs(gpu, "f16") }, async () => {
      const err = await runCase(shape, "f16", 71)
      // O is rounded to f16 before Dlt = rowsum(dO∘O): 1.3–2.9e-4 relative when the f32 kernel is fed the same f16-rounded values on SwiftShader
      for (const [name, e] of Object.entries(err)) assert.ok(e < 2e-3, `${name}: relative error ${e}`)
    })
  }

  // The tensor-core backward (attention-backward-tc.ts). Its emulated form (fragments as private
  // arrays, f32 storage) runs the same kernel text on any adapter, SwiftShader included, and checks
  // the indexing, causal masking, GQA and partial steps; the subgroup-matrix form needs tensor cores.
  const TC_SHAPES: ReadonlyArray<Shape & { readonly name: string }> = [
    { name: "B=2, S=32, T=48 (a cache of 16), GQA 2:1", B: 2, S: 32, T: 48, H: 4, KV: 2, D: 64 },
    { name: "B=1, S=T=48 (a half 32-row step), GQA 2:1", B: 1, S: 48, T: 48, H: 2, KV: 1, D: 128 },
    { name: "B=1, S=T=16 (one block: the causal edge on the diagonal), GQA 4:1", B: 1, S: 16, T: 16, H: 4, KV: 1, D: 64 },
    { name: "B=1, S=T=80, GQA 16:8 (Qwen3-0.6B heads)", B: 1, S: 80, T: 80, H: 16, KV: 8, D: 128 }
  ]
  const tcCase = async (shape: Shape, mode: MatrixMode, seed: number, variant?: AttentionBackwardTcVariant) =>
    runCase(shape, mode === "subgroup" ? "f16" : "f32", seed, undefined, await tensorCoreAttentionBackward(gpu, shape.D, mode, variant))
  // 32-query and 32-key steps with Q held in registers (the default), 16-wide steps (the other
  // half of the lanes' layout) with Q reloaded every step, and two subgroups splitting D
  const TC_VARIANTS: ReadonlyArray<AttentionBackwardTcVariant> = [{ kvStep: 32, qStep: 32, holdQ: true }, { kvStep: 16, qStep: 16, holdQ: false }, { kvStep: 32, qStep: 32, holdQ: true, splitD: 2 }]

  // Only where the kernels themselves cannot run: on the H100 the driver fails to compile the
  // emulated dQ kernel (VK_ERROR_UNKNOWN: every lane holds dozens of 256-float arrays), and the
  // subgroup-matrix tests below check the same shapes there.
  const emulationSkip = needs(gpu, "tensor-cores") || needs(gpu, "f16") ? false : "the tensor-core kernels run on this adapter (tested below)"
  it("tensor-core backward, emulated fragments (f32): matches the reference with a cache, GQA, a half step and the diagonal block", { skip: emulationSkip }, async () => {
    // D=32 keeps SwiftShader's emulated products cheap; the shapes' structure is the same as below
    // (the other variants on one shape only: SwiftShader takes ~5 s a case)
    for (const variant of TC_VARIANTS) {
      for (const shape of TC_SHAPES.slice(0, variant === TC_VARIANTS[0] ? 3 : 1)) {
        const err = await tcCase({ ...shape, D: 32 }, "emulated", 81, variant)
        for (const [name, e] of Object.entries(err)) assert.ok(e < 1e-4, `${shape.name}, ${JSON.stringify(variant)}: ${name}: relative error ${e}`)
      }
    }
  })

  for (const shape of TC_SHAPES) {
    it(`tensor-core backward (f16 operands, f32 accumulation) matches the reference on f16-rounded inputs (${shape.name}, D=${shape.D})`, { skip: needs(gpu, "tensor-cores") || needs(gpu, "f16") }, async () => {
      for (const variant of TC_VARIANTS) {
        const err = await tcCase(shape, "subgroup", 91, variant)
        // dO, P and dS are rounded to f16 on top of the inputs: a few 1e-3 of the largest gradient
        console.log(`tensor-core attention backward ${shape.name}, D=${shape.D}, ${JSON.stringify(variant)}: relative errors ${JSON.stringify(err)}`)
        for (const [name, e] of Object.entries(err)) assert.ok(e < 1e-2, `${JSON.stringify(variant)}: ${name}: relative error ${e}`)
      }
    })
  }

  it("attentionBackwardFor picks the tensor-core kernels exactly where the adapter has f16 subgroup matrices", async () => {
    // both choices take f16 Q/K/V/O (the trainer's): without shader-f16 there is none
    if (needs(gpu, "f16")) return void await assert.rejects(attentionBackwardFor(gpu, 64), /shader-f16/)
    const chosen = await attentionBackwardFor(gpu, 64)
    assert.equal(chosen.kind, needs(gpu, "tensor-cores") ? "f32" : "tensor-core")
  })

  it("the tensor-core backward refuses S or T not a multiple of 16 and a head_dim not a multiple of 16", async () => {
    await assert.rejects(tensorCoreAttentionBackward(gpu, 40, emulationSkip ? "subgroup" : "emulated"), AttentionBackwardShapeError)
    const backward = await tensorCoreAttentionBackward(gpu, 32, emulationSkip ? "subgroup" : "emulated")
    const b = storageBuffer(device, 64)
    const all = { Q: b, K: b, V: b, O: b, dO: b, LSE: b, dQ: b, dK: b, dV: b, params: b }
    assert.throws(() => backward(all, 1, 24, 2, 1, 32), /multiples of 16/)
    assert.throws(() => backward(all, 1, 16, 2, 1, 40), /multiples of 16/)
  })
})
