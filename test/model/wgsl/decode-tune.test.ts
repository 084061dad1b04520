// The decoder's GEMV layouts timed on the device (model/wgsl/decode-tune.ts) over a small model's
// weights: every kind gets one of the candidates, and the choice is kept (the second call times
// nothing); with the split attention's combination folded into the o GEMV, that GEMV is timed apart;
// the blocked GEMVs' layouts (decode-gemv-blocked.ts) at 8 rows beside the CUDA-core ones, a choice of their own;
// the tensor-core GEMVs' depth and prefetch (decode-gemv-tc.ts) at 16 rows, fragments emulated.
// f32 storage: runs on SwiftShader.
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { storageBuffer } from "../../../model/wgsl/kernels/buffers.ts"
import { attendPartialBytes, decodeLayerKernels, gemvColumnsPerGroup } from "../../../model/wgsl/kernels/decode-layer.ts"
import { BLOCKED_CANDIDATES, blockedColumnsPerGroup } from "../../../model/wgsl/kernels/decode-gemv-blocked.ts"
import { GEMV_CANDIDATES, leftOutLayouts, tuneBlockedShapes, tuneDecodeShapes, tuneTensorCoreShapes } from "../../../model/wgsl/decode-tune.ts"
import { emulateSubgroupMatrices } from "../../helpers/kernels/subgroup-matrix-emulation.ts"
import type { EngineShape, EngineWeights } from "../../../model/wgsl/qwen3-engine.ts"
import { openTestGpu } from "../../helpers/gpu.ts"
import { random } from "../../helpers/numeric.ts"

const t = await openTestGpu()
after(() => (t.skip === false ? t.gpu.close() : undefined))

/** A two-layer model's shape, random weights (f32 storage) and the decoder buffers the tuner writes into. */
const smallModel = () => {
  if (t.skip !== false) throw new Error("no GPU")
  const dev = t.gpu.device
  const shape: EngineShape = { hidden: 128, heads: 2, kvHeads: 1, headDim: 64, intermediate: 256, vocab: 512, layers: 2, eps: 1e-6, theta: 1e6 }
  const w = (n: number, seed: number) => ({ B: storageBuffer(dev, random(n, seed, 0.05)) })
  const ones = (n: number) => storageBuffer(dev, new Float32Array(n).fill(1))
  const weights = {
    format: "f16", embed: ones(512 * 128), lmHead: storageBuffer(dev, random(512 * 128, 3, 0.05)), finalNorm: ones(128),
    layers: [0, 1].map((l) => ({
      q: w(128 * 128, 10 + l), k: w(64 * 128, 20 + l), v: w(64 * 128, 30 + l), o: w(128 * 128, 40 + l), gate: w(256 * 128, 50 + l), up: w(256 * 128, 60 + l), down: w(128 * 256, 70 + l),
      inputNorm: ones(128), postNorm: ones(128), qNorm: ones(64), kNorm: ones(64)
    }))
  } as unknown as EngineWeights
  const buffers = { x: storageBuffer(dev, random(16 * 256, 5, 1)), qkv: storageBuffer(dev, 16 * 256 * 4), atth: storageBuffer(dev, random(16 * 256, 6, 1)), acth: storageBuffer(dev, random(16 * 256, 7, 1)), logits: storageBuffer(dev, 16 * 512 * 4) }
  return { shape, weights, buffers }
}

describe("decoder GEMV layouts timed on the device", { skip: t.skip === false ? false : t.skip }, () => {
  it("picks a candidate for each kind and keeps the choice", async () => {
    if (t.skip !== false) return
    const dev = t.gpu.device
    const { shape, weights, buffers } = smallModel()
    // two candidates (SwiftShader compiles slowly); the decoder times all of GEMV_CANDIDATES
    const candidates = [GEMV_CANDIDATES[1]!, GEMV_CANDIDATES[5]!]
    const first = await tuneDecodeShapes(t.gpu, shape, weights, 1, buffers, true, "f32", candidates)
    for (const kind of ["qkv", "gateUp", "accumulate", "head"] as const) assert.ok(candidates.includes(first[kind]), `${kind}: ${JSON.stringify(first[kind])}`)
    assert.equal(await tuneDecodeShapes(t.gpu, shape, weights, 1, buffers, true, "f32", candidates), first, "the choice kept")
    assert.equal(first.oCombined, undefined, "no folded o GEMV to time without the fold")
    // the fold: the o GEMV that combines the chunks too, over 64 positions' partials (a separate choice)
    const fold = { part: storageBuffer(dev, attendPartialBytes(1, 2, 64, 64)), positions: 64 }
    const folded = await tuneDecodeShapes(t.gpu, shape, weights, 1, { ...buffers, fold }, true, "f32", candidates)
    assert.ok(folded !== first && folded.oCombined !== undefined && candidates.includes(folded.oCombined), `oCombined: ${JSON.stringify(folded.oCombined)}`)
    // the blocked GEMVs at 8 rows: their layouts beside a CUDA-core one, each kind the faster, kept
    // for every decoder of 5 to 8 rows (the fold is not theirs: no oCombined)
    const mixed = [GEMV_CANDIDATES[1]!, BLOCKED_CANDIDATES[0]!]
    const blocked = await tuneBlockedShapes(t.gpu, shape, weights, 8, { ...buffers, fold }, true, "f32", mixed)
    for (const kind of ["qkv", "gateUp", "accumulate", "head"] as const) assert.ok(mixed.includes(blocked[kind]), `blocked ${kind}: ${JSON.stringify(blocked[kind])}`)
    assert.equal(blocked.oCombined, undefined)
    assert.equal(await tuneBlockedShapes(t.gpu, shape, weights, 5, { ...buffers, fold }, true, "f32", mixed), blocked, "the choice kept")
    // the choice is the kernels' option as it is: a blocked layout runs that kind blocked, a CUDA-core
    // one on decodeGemvWgsl (each kind's workgroups are its own family's)
    const chosen = { qkv: BLOCKED_CANDIDATES[0]!, gateUp: GEMV_CANDIDATES[1]! }
    const k = await decodeLayerKernels(t.gpu, 64, { storage: "f32", rows: 8, gemv: "blocked", shapes: chosen })
    const b = storageBuffer(dev, 4)
    assert.equal(k.qkv({ A: b, B0: b, B1: b, B2: b, C: b, G: b, params: b }, 256).groups[0], 256 / blockedColumnsPerGroup(BLOCKED_CANDIDATES[0]!))
    assert.equal(k.gateUp({ A: b, B0: b, B1: b, Y: b, G: b, params: b }, 512).groups[0], 512 / gemvColumnsPerGroup(GEMV_CANDIDATES[1]!))
  })

  it("times the tensor-core GEMVs' depth and prefetch per kind (fragments emulated), leaving out depths the widths refuse and kernels whose products differ, and keeps the choice", async () => {
    if (t.skip !== false) return
    const { shape, weights, buffers } = smallModel()
    // the prefetching kernels made wrong (their sums scaled by 1.5): left out by the check, never timed
    const emulate = (w: string) => {
      const e = emulateSubgroupMatrices(w, 16)
      return w.includes("if (kk + ") ? e.replaceAll(") * inv;", ") * inv * 1.5;") : e
    }
    // unroll 1 with and without prefetch (SwiftShader's 32 KB of workgroup memory); unroll 2 needs
    // K a multiple of 256, which the 128 hidden values refuse
    const candidates = [{ unroll: 1, prefetch: false }, { unroll: 1, prefetch: true }, { unroll: 2, prefetch: true }]
    const before = leftOutLayouts.length
    // without the head (SwiftShader runs the emulated fragments slowly): it keeps the first that fits
    const first = await tuneTensorCoreShapes(t.gpu, shape, weights, 16, buffers, false, "f32", candidates, { emulate })
    for (const kind of ["qkv", "gateUp", "accumulate", "head"] as const) assert.equal(first[kind], candidates[0], kind)
    assert.equal(leftOutLayouts.length, before + 1)
    assert.deepEqual(leftOutLayouts.at(-1)!.layout, candidates[1])
    assert.match(leftOutLayouts.at(-1)!.why, /does not reproduce the first layout's products here \(qkv: max \|Δ\|/)
    assert.equal(await tuneTensorCoreShapes(t.gpu, shape, weights, 9, buffers, false, "f32", candidates, { emulate }), first, "the choice kept")
    await assert.rejects(tuneTensorCoreShapes(t.gpu, shape, weights, 16, buffers, false, "f32", [candidates[2]!], { emulate }), /no tensor-core GEMV layout .* divides the widths 128, 128, 256/)
  })
})
