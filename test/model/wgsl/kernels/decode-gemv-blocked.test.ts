// The blocked decoding GEMVs (model/wgsl/kernels/decode-gemv-blocked.ts, through decode-layer.ts
// decodeLayerKernels with gemv "blocked") against CPU references (test/helpers/kernels/reference.ts):
// qkv over three weights (its boundaries between workgroups), gate/up + SiLU·up and the head with
// RMSNorm folded in, and the GEMV accumulated onto the residual; 1, 5 and 8 rows of kernels written
// for 8, 5 and 16 of kernels for 16; N off every workgroup's columns (gate/up, head, accumulate);
// K of Qwen3-0.6B's widths (1024, 2048, 3072) and a small odd multiple of 8 (264). f32 storage on
// SwiftShader (4-wide subgroups: the kernel uses none), f16 where the adapter has shader-f16; the
// f16 kinds that write f32 (qkv, head, accumulate: f16 read as u32 pairs, no extension) everywhere.
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { type Dispatch, f16BitsToF32, pipeline, readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { BLOCKED_CANDIDATES, blockedColumnsPerGroup, type BlockedGemvShape, DEFAULT_BLOCKED_SHAPE, decodeGemvBlockedWgsl, isBlockedShape } from "../../../../model/wgsl/kernels/decode-gemv-blocked.ts"
import { grid } from "../../../../model/wgsl/kernels/fused.ts"
import { DEFAULT_GEMV_SHAPE, decodeGemvParams, decodeLayerKernels, type DecodeStorage, gemvColumnsPerGroup, type GemvShape } from "../../../../model/wgsl/kernels/decode-layer.ts"
import { matmulRef, rmsnormRef, swigluRef } from "../../../helpers/kernels/reference.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { random } from "../../../helpers/numeric.ts"

const t = await openTestGpu()
const skip = t.skip === false ? false : `no WebGPU adapter, nor SwiftShader: ${t.skip}`
after(() => (t.skip === false ? t.gpu.close() : undefined))

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0)
const eps = 1e-6

/** [M, rows the kernels are written for, K]: 3 rows keep decodeGemvWgsl (the blocked GEMVs start at 8) */
const CASES: ReadonlyArray<readonly [number, number, number]> = [
  [1, 8, 264], [5, 8, 1024], [8, 8, 3072], [5, 16, 264], [16, 16, 1024], [16, 16, 2048], [16, 16, 3072], [3, 4, 264]
]

describe("blocked decoding GEMVs", { skip }, () => {
  it("refuses rows other than 8 or 16 (the decoder keeps the CUDA-core GEMV there)", () => {
    assert.throws(() => decodeGemvBlockedWgsl({ storage: "f32", rows: 4, norm: false, weights: "one", out: "accumulate" }), /8 or 16 rows/)
  })

  // the f16 kernels' unpacking (16-byte loads of 8 values) checked where there is no shader-f16 too
  for (const [M, R, K, shape] of [[16, 16, 1024, DEFAULT_BLOCKED_SHAPE], [5, 8, 264, BLOCKED_CANDIDATES[5]!], [16, 16, 264, BLOCKED_CANDIDATES[8]!], [5, 8, 1024, BLOCKED_CANDIDATES[7]!]] as const) {
    it(`f16 weights and activations unpacked in the kernel: qkv, head and accumulate, ${M} rows of ${R}, K ${K}, ${shape.columns} column(s) a thread × ${shape.warpColumns} lanes${shape.squaresApart ? ", squares apart" : ""}`, async () => {
      if (t.skip !== false) return
      const dev = t.gpu.device
      const per = blockedColumnsPerGroup(shape)
      const made: Array<GPUBuffer> = []
      const keep = <T extends GPUBuffer>(b: T) => (made.push(b), b)
      const f16 = (x: Float32Array) => keep(storageBuffer(dev, toF16(x)))
      const kernel = (norm: boolean, weights: "one" | "qkv", out: "store" | "accumulate") => pipeline(dev, decodeGemvBlockedWgsl({ storage: "f16", rows: R, shape, norm, weights, out }), `blocked-f16-${weights}-${out}`)
      const X = random(M * K, 41, 2)
      const G = random(K, 42, 0.3).map((v) => 1 + v)
      const normed = rmsnormRef(X, G, M, K, eps)
      const [x, g] = [keep(storageBuffer(dev, X)), keep(storageBuffer(dev, G))]
      const [Wq, Wk, Wv, Wh, Wa] = [64, 32, 32, 203, 203].map((n, i) => roundF16(random(n * K, 43 + i, 0.05)))
      const A = roundF16(random(M * K, 48, 1))
      const C0 = random(M * 203, 49, 1)
      const [C, Ch, Ca] = [keep(storageBuffer(dev, M * 128 * 4)), keep(storageBuffer(dev, M * 203 * 4)), keep(storageBuffer(dev, C0))]
      const [pq, ph, pa] = [decodeGemvParams(M, 128, K, 64, 96, eps), decodeGemvParams(M, 203, K, 0, 0, eps), decodeGemvParams(M, 203, K)].map((u) => keep(uniformBuffer(dev, ...u)))
      await runDispatches(dev, [
        { pipeline: await kernel(true, "qkv", "store"), buffers: [x, f16(Wq!), f16(Wk!), f16(Wv!), C, pq!, g], groups: grid(128 / per) },
        { pipeline: await kernel(true, "one", "store"), buffers: [x, f16(Wh!), Ch, ph!, g], groups: grid(Math.ceil(203 / per)) },
        { pipeline: await kernel(false, "one", "accumulate"), buffers: [f16(A), f16(Wa!), Ca, pa!], groups: grid(Math.ceil(203 / per)) }
      ])
      const [gotQkv, gotH, gotA] = [new Float32Array(await readBuffer(dev, C, M * 128 * 4)), new Float32Array(await readBuffer(dev, Ch, M * 203 * 4)), new Float32Array(await readBuffer(dev, Ca, M * 203 * 4))]
      for (const b of made) b.destroy()
      const wantQkv = matmulRef(normed, Float32Array.from([...Wq!, ...Wk!, ...Wv!]), M, 128, K)
      const wantH = matmulRef(normed, Wh!, M, 203, K)
      const wantA = matmulRef(A, Wa!, M, 203, K).map((v, i) => v + C0[i]!)
      // the weights and activations are exactly the f16-rounded values: f32 sums' tolerance
      assert.ok(maxDiff(gotQkv, wantQkv) < 1e-3, `qkv: max |Δ| ${maxDiff(gotQkv, wantQkv)}`)
      assert.ok(maxDiff(gotH, wantH) < 1e-3, `head: max |Δ| ${maxDiff(gotH, wantH)}`)
      assert.ok(maxDiff(gotA, wantA) < 1e-3, `accumulate: max |Δ| ${maxDiff(gotA, wantA)}`)
    })
  }

  for (const storage of ["f32", "f16"] as const satisfies ReadonlyArray<DecodeStorage>) {
    const noF16 = storage === "f16" && t.skip === false ? needs(t.gpu, "f16") : false
    const held = (x: Float32Array) => (storage === "f16" ? roundF16(x) : x)
    const bytes = storage === "f16" ? 2 : 4
    const tol = storage === "f16" ? 2e-2 : 1e-3
    type Kinds = Readonly<Record<"qkv" | "gateUp" | "accumulate" | "head", BlockedGemvShape | GemvShape>>
    const every = (shape: BlockedGemvShape): Kinds => ({ qkv: shape, gateUp: shape, accumulate: shape, head: shape })
    const named = (shape: BlockedGemvShape) => `${shape.columns} column(s) a thread, ${shape.warpColumns} lanes a block, ${shape.unroll} loads ahead${shape.squaresApart ? ", the norm's squares summed apart" : ""}`
    // the default layout at every case; every other candidate at one (f16 on a card only); and each
    // kind blocked or not as the tuner may choose (a GemvShape: that kind on decodeGemvWgsl)
    const layouts: ReadonlyArray<readonly [string, Kinds, ReadonlyArray<readonly [number, number, number]>]> = [
      [named(DEFAULT_BLOCKED_SHAPE), every(DEFAULT_BLOCKED_SHAPE), CASES],
      ...BLOCKED_CANDIDATES.filter((c) => JSON.stringify(c) !== JSON.stringify(DEFAULT_BLOCKED_SHAPE))
        .map((c) => [named(c), every(c), storage === "f16" ? [[16, 16, 1024], [5, 8, 264]] as const : [[5, 16, 264]] as const] as const),
      ["qkv and accumulate on the CUDA-core GEMV, gate/up and head blocked", { qkv: DEFAULT_GEMV_SHAPE, gateUp: DEFAULT_BLOCKED_SHAPE, accumulate: DEFAULT_GEMV_SHAPE, head: BLOCKED_CANDIDATES[5]! }, [[16, 16, 264]]]
    ]
    for (const [name, kinds, cases] of layouts) it(`qkv, gate/up + SiLU·up, head (RMSNorm folded in) and accumulate, ${cases.map(([M, R, K]) => `${M}/${R} rows × K ${K}`).join(", ")}; ${name} (${storage} storage)`, { skip: noF16 }, async () => {
      if (t.skip !== false) return
      const gpu = t.gpu
      const dev = gpu.device
      const upload = (x: Float32Array) => storageBuffer(dev, storage === "f16" ? toF16(x) : x)
      const readStored = async (b: GPUBuffer, n: number) => {
        const raw = await readBuffer(dev, b, n * bytes)
        return storage === "f16" ? Float32Array.from(new Uint16Array(raw), f16BitsToF32) : new Float32Array(raw)
      }
      for (const [M, rows, K] of cases) {
        const k = await decodeLayerKernels(gpu, 64, { storage, rows, gemv: "blocked", shapes: kinds })
        const X = random(M * K, 3 + M + K, 2)
        const G = random(K, 5 + K, 0.3).map((v) => 1 + v)
        const normed = rmsnormRef(X, G, M, K, eps)
        const made: Array<GPUBuffer> = []
        const keep = <T extends GPUBuffer>(b: T) => (made.push(b), b)
        const [x, g] = [keep(storageBuffer(dev, X)), keep(storageBuffer(dev, G))]
        // qkv: three weights of 64, 32 and 32 rows side by side (boundaries 64 and 96)
        const [Wq, Wk, Wv] = [held(random(64 * K, 11, 0.05)), held(random(32 * K, 12, 0.05)), held(random(32 * K, 13, 0.05))]
        const C = keep(storageBuffer(dev, M * 128 * 4))
        const pq = keep(uniformBuffer(dev, ...decodeGemvParams(M, 128, K, 64, 96, eps)))
        // gate/up: 197 columns, head and accumulate 203 (off every layout's workgroup columns)
        const [Wg, Wu] = [held(random(197 * K, 14, 0.05)), held(random(197 * K, 15, 0.05))]
        const Y = keep(storageBuffer(dev, M * 197 * bytes))
        const pg = keep(uniformBuffer(dev, ...decodeGemvParams(M, 197, K, 0, 0, eps)))
        const Wh = held(random(203 * K, 16, 0.05))
        const Ch = keep(storageBuffer(dev, M * 203 * 4))
        const ph = keep(uniformBuffer(dev, ...decodeGemvParams(M, 203, K, 0, 0, eps)))
        // accumulate: C0 += A·Bᵀ, A in storage
        const A = held(random(M * K, 17 + M, 1))
        const Wa = held(random(203 * K, 18, 0.05))
        const C0 = random(M * 203, 19 + M, 1)
        const Ca = keep(storageBuffer(dev, C0))
        const pa = keep(uniformBuffer(dev, ...decodeGemvParams(M, 203, K)))
        const [bq, bk, bv, bg, bu, bh, a, ba] = [Wq, Wk, Wv, Wg, Wu, Wh, A, Wa].map((w) => keep(upload(w)))
        const dispatches = {
          qkv: k.qkv({ A: x, B0: bq!, B1: bk!, B2: bv!, C, G: g, params: pq }, 128),
          gateUp: k.gateUp({ A: x, B0: bg!, B1: bu!, Y, G: g, params: pg }, 197),
          head: k.head({ A: x, B: bh!, C: Ch, G: g, params: ph }, 203),
          accumulate: k.accumulate({ A: a!, B: ba!, C: Ca, params: pa }, 203)
        }
        // each kind ran where asked: its workgroups are the blocked layout's (8 or 16 rows) or the CUDA-core GEMV's
        for (const [kind, d] of Object.entries(dispatches) as Array<[keyof Kinds, Dispatch]>) {
          const shape = kinds[kind]
          const per = isBlockedShape(shape) && rows >= 8 ? blockedColumnsPerGroup(shape) : gemvColumnsPerGroup(DEFAULT_GEMV_SHAPE)
          assert.equal(d.groups[0], Math.ceil(({ qkv: 128, gateUp: 197, head: 203, accumulate: 203 })[kind] / per), `${kind}: workgroups`)
        }
        await runDispatches(dev, Object.values(dispatches))
        const gotQkv = new Float32Array(await readBuffer(dev, C, M * 128 * 4))
        const gotY = await readStored(Y, M * 197)
        const gotH = new Float32Array(await readBuffer(dev, Ch, M * 203 * 4))
        const gotA = new Float32Array(await readBuffer(dev, Ca, M * 203 * 4))
        for (const b of made) b.destroy()
        const wantQkv = matmulRef(normed, Float32Array.from([...Wq, ...Wk, ...Wv]), M, 128, K)
        const wantY = held(swigluRef(matmulRef(normed, Wg, M, 197, K), matmulRef(normed, Wu, M, 197, K)))
        const wantH = matmulRef(normed, Wh, M, 203, K)
        const wantA = matmulRef(A, Wa, M, 203, K).map((v, i) => v + C0[i]!)
        const label = `${M} rows (kernels of ${rows}), K ${K}`
        assert.ok(maxDiff(gotQkv, wantQkv) < tol, `${label}, qkv: max |Δ| ${maxDiff(gotQkv, wantQkv)}`)
        assert.ok(maxDiff(gotY, wantY) < tol, `${label}, gate/up: max |Δ| ${maxDiff(gotY, wantY)}`)
        assert.ok(maxDiff(gotH, wantH) < tol, `${label}, head: max |Δ| ${maxDiff(gotH, wantH)}`)
        assert.ok(maxDiff(gotA, wantA) < tol, `${label}, accumulate: max |Δ| ${maxDiff(gotA, wantA)}`)
      }
    })
  }
})
