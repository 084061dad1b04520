// The fused decoding layer's kernels (model/wgsl/kernels/decode-layer.ts) against CPU references
// (test/helpers/kernels/reference.ts): the GEMVs with RMSNorm folded in (qkv over three weights,
// gate/up with SiLU·up, the head) and the one accumulated onto the residual, for 1, 3, 5 and 16 rows;
// the attention with q/k norm, RoPE and the cache append at a position past two key blocks (GQA
// 4:2); and a whole layer of five dispatches against a CPU layer. f32 storage on SwiftShader where
// there is no GPU, f16 where the adapter has shader-f16 (inputs rounded as the GPU holds them).
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { f16BitsToF32, readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { attendPartialBytes, DECODE_ROWS, DEFAULT_GEMV_SHAPE, decodeAttendParams, decodeGemvParams, decodeLayerKernels, type DecodeStorage, type GemvShape, tcGemvUnroll } from "../../../../model/wgsl/kernels/decode-layer.ts"
import { tcGemvKStep } from "../../../../model/wgsl/kernels/decode-gemv-tc.ts"
import { type Gpu, pickMatrixConfig } from "../../../../model/wgsl/kernels/device.ts"
import { subgroupsOf32 } from "../../../../model/wgsl/kernels/matmul.ts"
import { emulateSubgroupMatrices } from "../../../helpers/kernels/subgroup-matrix-emulation.ts"
import { matmulRef, rmsnormRef, swigluRef } from "../../../helpers/kernels/reference.ts"
import { decodeAttendRef } from "../../../helpers/kernels/decode-attend-reference.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { random } from "../../../helpers/numeric.ts"

const t = await openTestGpu()
const skip = t.skip === false ? false : `no WebGPU adapter, nor SwiftShader: ${t.skip}`
after(() => (t.skip === false ? t.gpu.close() : undefined))

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0)
const eps = 1e-6
const theta = 1e6

/** The CPU side of one attend dispatch at this file's eps and theta (test/helpers/kernels/decode-attend-reference.ts). */
const attendRef = (qkv: Float32Array, qn: Float32Array, kn: Float32Array, Kc: Float32Array, Vc: Float32Array, rows: number, pos: number, H: number, KV: number, D: number, held: (x: Float32Array) => Float32Array) =>
  decodeAttendRef(qkv, qn, kn, Kc, Vc, rows, pos, H, KV, D, eps, theta, held)

describe("fused decoding layer", { skip }, () => {
  for (const storage of ["f32", "f16"] as const satisfies ReadonlyArray<DecodeStorage>) {
    const noF16 = storage === "f16" && t.skip === false ? needs(t.gpu, "f16") : false
    const held = (x: Float32Array) => (storage === "f16" ? roundF16(x) : x)
    const bytes = storage === "f16" ? 2 : 4
    const tol = storage === "f16" ? 2e-2 : 1e-3
    const upload = (x: Float32Array) => storageBuffer(t.skip === false ? t.gpu.device : (undefined as never), storage === "f16" ? toF16(x) : x)
    const readStored = async (b: GPUBuffer, n: number) => {
      if (t.skip !== false) throw new Error("no gpu")
      const raw = await readBuffer(t.gpu.device, b, n * bytes)
      return storage === "f16" ? Float32Array.from(new Uint16Array(raw), f16BitsToF32) : new Float32Array(raw)
    }

    // the default layout at every row count; others (more columns a thread, K split over more
    // threads) at one (on SwiftShader the 8-slice tree of barriers is slow: f16 on the GPU only)
    const shapes: ReadonlyArray<GemvShape> = storage === "f16" ? [DEFAULT_GEMV_SHAPE, { columns: 4, slices: 2 }, { columns: 1, slices: 8 }, { columns: 4, slices: 1 }] : [DEFAULT_GEMV_SHAPE, { columns: 4, slices: 2 }]
    for (const shape of shapes) it(`GEMVs with RMSNorm folded in (qkv, gate/up + SiLU·up, head) and accumulated, ${shape === DEFAULT_GEMV_SHAPE ? `1, 3, 5 and ${DECODE_ROWS}` : shape.slices === 1 ? "1 and 3" : "5"} rows, ${shape.columns} columns a thread × ${shape.slices} slices of K (${storage} storage)`, { skip: noF16 }, async () => {
      if (t.skip !== false) return
      const gpu = t.gpu
      const dev = gpu.device
      const all = { qkv: shape, gateUp: shape, accumulate: shape, head: shape }
      const K = 528
      // kernels written for 16 rows, and for the rows used (rounded up to a power of two: 1; 3 → 4; 5 → 8
      // below; up to 4 rows with one warp a column, on a card with 32-lane subgroups, the sums are subgroupAdds)
      const cases = shape === DEFAULT_GEMV_SHAPE
        ? [[1, { rows: 1 }], [3, { rows: 3 }], [5, {}], [DECODE_ROWS, {}]] as const
        : shape.slices === 1 ? [[1, { rows: 1 }], [3, { rows: 3 }]] as const : [[5, { rows: 5 }]] as const
      for (const [M, rows] of cases) {
        // f16 (a card): up to 4 rows with one warp a column, the sums by subgroupAdd where the subgroups are 32 wide
        const k = await decodeLayerKernels(gpu, 64, { storage, shapes: all, subgroupReduce: storage === "f16", ...rows })
        const X = random(M * K, 3 + M, 2)
        const G = random(K, 5, 0.3).map((v) => 1 + v)
        const normed = rmsnormRef(X, G, M, K, eps)
        const [x, g] = [storageBuffer(dev, X), storageBuffer(dev, G)]
        const made: Array<GPUBuffer> = [x, g]
        const keep = <T extends GPUBuffer>(b: T) => (made.push(b), b)
        // qkv: three weights of 64, 32 and 32 rows side by side
        const [Wq, Wk, Wv] = [held(random(64 * K, 11, 0.05)), held(random(32 * K, 12, 0.05)), held(random(32 * K, 13, 0.05))]
        const C = keep(storageBuffer(dev, M * 128 * 4))
        const pq = keep(uniformBuffer(dev, ...decodeGemvParams(M, 128, K, 64, 96, eps)))
        // gate/up: 200 columns (off the workgroup's 8)
        const [Wg, Wu] = [held(random(200 * K, 14, 0.05)), held(random(200 * K, 15, 0.05))]
        const Y = keep(storageBuffer(dev, M * 200 * bytes))
        const pg = keep(uniformBuffer(dev, ...decodeGemvParams(M, 200, K, 0, 0, eps)))
        // head: 203 columns (off the workgroup's 16)
        const Wh = held(random(203 * K, 16, 0.05))
        const Ch = keep(storageBuffer(dev, M * 203 * 4))
        const ph = keep(uniformBuffer(dev, ...decodeGemvParams(M, 203, K, 0, 0, eps)))
        // accumulate: C0 += A·Bᵀ, A in storage, 203 columns
        const A = held(random(M * K, 17 + M, 1))
        const Wa = held(random(203 * K, 18, 0.05))
        const C0 = random(M * 203, 19 + M, 1)
        const Ca = keep(storageBuffer(dev, C0))
        const pa = keep(uniformBuffer(dev, ...decodeGemvParams(M, 203, K)))
        const [bq, bk, bv, bg, bu, bh, a, ba] = [Wq, Wk, Wv, Wg, Wu, Wh, A, Wa].map((w) => keep(upload(w)))
        await runDispatches(dev, [
          k.qkv({ A: x, B0: bq!, B1: bk!, B2: bv!, C, G: g, params: pq }, 128),
          k.gateUp({ A: x, B0: bg!, B1: bu!, Y, G: g, params: pg }, 200),
          k.head({ A: x, B: bh!, C: Ch, G: g, params: ph }, 203),
          k.accumulate({ A: a!, B: ba!, C: Ca, params: pa }, 203)
        ])
        const gotQkv = new Float32Array(await readBuffer(dev, C, M * 128 * 4))
        const gotY = await readStored(Y, M * 200)
        const gotH = new Float32Array(await readBuffer(dev, Ch, M * 203 * 4))
        const gotA = new Float32Array(await readBuffer(dev, Ca, M * 203 * 4))
        for (const b of made) b.destroy()
        const wantQkv = matmulRef(normed, Float32Array.from([...Wq, ...Wk, ...Wv]), M, 128, K)
        const wantY = held(swigluRef(matmulRef(normed, Wg, M, 200, K), matmulRef(normed, Wu, M, 200, K)))
        const wantH = matmulRef(normed, Wh, M, 203, K)
        const wantA = matmulRef(A, Wa, M, 203, K).map((v, i) => v + C0[i]!)
        assert.ok(maxDiff(gotQkv, wantQkv) < tol, `${M} rows, qkv: max |Δ| ${maxDiff(gotQkv, wantQkv)}`)
        assert.ok(maxDiff(gotY, wantY) < tol, `${M} rows, gate/up: max |Δ| ${maxDiff(gotY, wantY)}`)
        assert.ok(maxDiff(gotH, wantH) < tol, `${M} rows, head: max |Δ| ${maxDiff(gotH, wantH)}`)
        assert.ok(maxDiff(gotA, wantA) < tol, `${M} rows, accumulate: max |Δ| ${maxDiff(gotA, wantA)}`)
      }
    })

    // positions past two key blocks, at a block's first key (128; 64 for the coalesced one's blocks) and the first position (0)
    for (const [D, attend, pos] of [
      [64, "simple", 150], [128, "simple", 150], [64, "unrolled", 150], [128, "unrolled", 128], [64, "unrolled", 0],
      [64, "coalesced", 150], [128, "coalesced", 150], [128, "coalesced", 64], [64, "coalesced", 0],
      // the split one: a chunk's first key (128), a partial last chunk (150), one chunk (31), the first position
      [64, "split", 150], [128, "split", 150], [128, "split", 128], [128, "split", 31], [64, "split", 0]
    ] as const) {
      it(`attention (${attend}) with q/k norm, RoPE and the cache append: 3 rows at position ${pos}, GQA 4:2, D=${D} (${storage} storage)`, { skip: noF16 }, async () => {
        if (t.skip !== false) return
        const gpu = t.gpu
        const dev = gpu.device
        const [rows, H, KV, positions] = [3, 4, 2, 160]
        const qkv = random(rows * (H + 2 * KV) * D, 21, 2)
        const [qn, kn] = [random(D, 22, 0.3).map((v) => 1 + v), random(D, 23, 0.3).map((v) => 1 + v)]
        const Kc = held(random(positions * rows * KV * D, 24, 1))
        const Vc = held(random(positions * rows * KV * D, 25, 1))
        const k = await decodeLayerKernels(gpu, D, { storage, rows: rows, attend })
        const [bqkv, bqn, bkn] = [storageBuffer(dev, qkv), storageBuffer(dev, qn), storageBuffer(dev, kn)]
        const [bK, bV] = [upload(Kc), upload(Vc)]
        const O = storageBuffer(dev, rows * H * D * bytes)
        const params = uniformBuffer(dev, ...decodeAttendParams(rows, pos, H, KV, 1 / Math.sqrt(D), eps, theta))
        // the split attention's partials, filled with NaN: a chunk the combination reads and no workgroup wrote would show
        const Part = storageBuffer(dev, new Float32Array(attendPartialBytes(rows, H, D, positions) / 4).fill(Number.NaN))
        await runDispatches(dev, k.attend({ QKV: bqkv, QN: bqn, KN: bkn, K: bK, V: bV, O, Part, params }, rows, H, positions))
        Part.destroy()
        const got = await readStored(O, rows * H * D)
        const gotK = await readStored(bK, positions * rows * KV * D)
        const gotV = await readStored(bV, positions * rows * KV * D)
        for (const b of [bqkv, bqn, bkn, bK, bV, O, params]) b.destroy()
        const want = attendRef(qkv, qn, kn, Kc, Vc, rows, pos, H, KV, D, held)
        assert.ok(maxDiff(got, want.O) < (storage === "f16" ? 5e-3 : 1e-4), `attention: max |Δ| ${maxDiff(got, want.O)}`)
        const at = (c: Float32Array) => c.subarray(pos * rows * KV * D, (pos + 1) * rows * KV * D)
        // RoPE's angles reach 150 rad here: f32 sin/cos of those (SwiftShader's too) are good to ~1e-4
        assert.ok(maxDiff(at(gotK), want.k) < (storage === "f16" ? 5e-3 : 1e-3), `the new keys in the cache: max |Δ| ${maxDiff(at(gotK), want.k)}`)
        assert.deepEqual([...at(gotV)], [...want.v], "the new values in the cache")
        // every other position of the caches is untouched
        const others = (c: Float32Array) => [...c.subarray(0, pos * rows * KV * D), ...c.subarray((pos + 1) * rows * KV * D)]
        assert.deepEqual(others(gotK), others(Kc))
        assert.deepEqual(others(gotV), others(Vc))
      })
    }

    // the split attention's chunks combined in the o GEMV's prologue (foldCombine): 1 row and 3
    // (kernels of 4), several chunks with a partial last one and a remainder past the prologue's
    // 4-chunk loads (150: 5 chunks), one chunk (31), a chunk's first key (128), the first position
    for (const [D, rows, pos] of [[64, 1, 150], [128, 3, 150], [128, 1, 31], [64, 3, 128], [128, 3, 0]] as const) {
      it(`o GEMV folding the split attention's chunks: ${rows} row(s) at position ${pos}, GQA 4:2, D=${D}, against the CPU and the combine pass (${storage} storage)`, { skip: noF16 }, async () => {
        if (t.skip !== false) return
        const gpu = t.gpu
        const dev = gpu.device
        const [H, KV, positions, N] = [4, 2, 160, 203]
        const qkv = random(rows * (H + 2 * KV) * D, 31, 2)
        const [qn, kn] = [random(D, 32, 0.3).map((v) => 1 + v), random(D, 33, 0.3).map((v) => 1 + v)]
        const Kc = held(random(positions * rows * KV * D, 34, 1))
        const Vc = held(random(positions * rows * KV * D, 35, 1))
        const Wo = held(random(N * H * D, 36, 0.05))
        const C0 = random(rows * N, 37, 1)
        // up to 4 rows on a card with 32-lane subgroups the o GEMV's sums are subgroupAdds (as the decoder's with :sg)
        const options = { storage, rows, attend: "split", subgroupReduce: storage === "f16" } as const
        const folded = await decodeLayerKernels(gpu, D, { ...options, foldCombine: { heads: H } })
        const plain = await decodeLayerKernels(gpu, D, options)
        assert.equal(folded.folds, true, "the combined activations fit the workgroup memory here")
        assert.equal(plain.folds, false)
        const made: Array<GPUBuffer> = []
        const keep = <T extends GPUBuffer>(b: T) => (made.push(b), b)
        const [bqkv, bqn, bkn, bWo] = [keep(storageBuffer(dev, qkv)), keep(storageBuffer(dev, qn)), keep(storageBuffer(dev, kn)), keep(upload(Wo))]
        const params = keep(uniformBuffer(dev, ...decodeAttendParams(rows, pos, H, KV, 1 / Math.sqrt(D), eps, theta)))
        const po = keep(uniformBuffer(dev, ...decodeGemvParams(rows, N, H * D)))
        const run = async (k: typeof folded) => {
          const [bK, bV] = [keep(upload(Kc)), keep(upload(Vc))]
          const O = keep(storageBuffer(dev, rows * H * D * bytes))
          const C = keep(storageBuffer(dev, C0))
          // partials filled with NaN: a chunk the prologue reads and no workgroup wrote would show
          const Part = keep(storageBuffer(dev, new Float32Array(attendPartialBytes(rows, H, D, positions) / 4).fill(Number.NaN)))
          const attend = k.attend({ QKV: bqkv, QN: bqn, KN: bkn, K: bK, V: bV, O, Part, params }, rows, H, positions)
          const o = k.folds ? k.oCombined({ Part, B: bWo, C, params: po, step: params }, N) : k.accumulate({ A: O, B: bWo, C, params: po }, N)
          await runDispatches(dev, [...attend, o])
          return { dispatches: attend.length + 1, C: new Float32Array(await readBuffer(dev, C, rows * N * 4)), K: await readStored(bK, positions * rows * KV * D) }
        }
        const got = await run(folded)
        const base = await run(plain)
        for (const b of made) b.destroy()
        assert.deepEqual([got.dispatches, base.dispatches], [2, 3], "attention + o: one dispatch less folded")
        const want = attendRef(qkv, qn, kn, Kc, Vc, rows, pos, H, KV, D, held)
        const wantC = matmulRef(held(want.O), Wo, rows, N, H * D).map((v, i) => v + C0[i]!)
        assert.ok(maxDiff(got.C, wantC) < (storage === "f16" ? 2e-2 : 1e-3), `folded against the CPU: max |Δ| ${maxDiff(got.C, wantC)}`)
        // the same activations as the combine pass writes (same sums in the same order), so ~the same products
        assert.ok(maxDiff(got.C, base.C) < 1e-4, `folded against the combine pass: max |Δ| ${maxDiff(got.C, base.C)}`)
        assert.deepEqual([...got.K], [...base.K], "the caches appended alike")
      })
    }
  }
})

/**
 * A tensor-core case's setting on this adapter: f16 subgroup matrices where it has 16 × 16 ones and
 * 32-lane subgroups, else f32 storage with the fragments emulated; values as storage holds them,
 * uploaded and read back in it, and the tolerance against the CPU that goes with it.
 */
const tensorCoreCase = (gpu: Gpu) => {
  const dev = gpu.device
  const real = pickMatrixConfig(gpu)?.M === 16 && gpu.hasF16 && subgroupsOf32(gpu)
  const storage: DecodeStorage = real ? "f16" : "f32"
  const bytes = storage === "f16" ? 2 : 4
  return {
    gpu, dev, real, storage, bytes,
    emulate: real ? undefined : (w: string) => emulateSubgroupMatrices(w, 16),
    held: (x: Float32Array) => (storage === "f16" ? roundF16(x) : x),
    upload: (x: Float32Array) => storageBuffer(dev, storage === "f16" ? toF16(x) : x),
    tol: storage === "f16" ? 2e-2 : 1e-3,
    readStored: async (b: GPUBuffer, n: number) => {
      const raw = await readBuffer(dev, b, n * bytes)
      return storage === "f16" ? Float32Array.from(new Uint16Array(raw), f16BitsToF32) : new Float32Array(raw)
    }
  }
}

// The GEMVs on the tensor cores (model/wgsl/kernels/decode-gemv-tc.ts): f16 subgroup matrices where
// the adapter has 16 × 16 ones and 32-lane subgroups (the H100), else f32 with the fragments emulated
// (SwiftShader: test/helpers/kernels/subgroup-matrix-emulation.ts), against the same CPU references.
describe("fused decoding GEMVs on the tensor cores", { skip }, () => {
  // prefetch (each step's loads issued before the previous step's products): three steps of K a warp,
  // so that the first, a middle and the last step (which loads nothing ahead) all run
  for (const prefetch of [false, true]) it(`qkv, gate/up + SiLU·up, head (RMSNorm folded in) and accumulate, 5 and 16 rows (and 1 on a card)${prefetch ? ", loads a step ahead" : ""}`, async () => {
    if (t.skip !== false) return
    const { gpu, dev, real, storage, emulate, held, upload, bytes, tol, readStored } = tensorCoreCase(t.gpu)
    const K = tcGemvKStep(tcGemvUnroll(storage)) * (prefetch ? 3 : real ? 1 : 2) // 512: one step of K a warp in f16; 2 × 128 emulated
    const k = await decodeLayerKernels(gpu, 64, { storage, gemv: "tensor-cores", tcPrefetch: prefetch, ...(emulate ? { emulate } : {}) })
    for (const M of real ? [1, 5, DECODE_ROWS] : [5, DECODE_ROWS]) {
      const X = random(M * K, 3 + M, 2)
      const G = random(K, 5, 0.3).map((v) => 1 + v)
      const normed = rmsnormRef(X, G, M, K, eps)
      const [x, g] = [storageBuffer(dev, X), storageBuffer(dev, G)]
      const made: Array<GPUBuffer> = [x, g]
      const keep = <T extends GPUBuffer>(b: T) => (made.push(b), b)
      const [Wq, Wk, Wv] = [held(random(64 * K, 11, 0.05)), held(random(32 * K, 12, 0.05)), held(random(32 * K, 13, 0.05))]
      const C = keep(storageBuffer(dev, M * 128 * 4))
      const pq = keep(uniformBuffer(dev, ...decodeGemvParams(M, 128, K, 64, 96, eps)))
      const [Wg, Wu] = [held(random(208 * K, 14, 0.05)), held(random(208 * K, 15, 0.05))]
      const Y = keep(storageBuffer(dev, M * 208 * bytes))
      const pg = keep(uniformBuffer(dev, ...decodeGemvParams(M, 208, K, 0, 0, eps)))
      const Wh = held(random(208 * K, 16, 0.05))
      const Ch = keep(storageBuffer(dev, M * 208 * 4))
      const ph = keep(uniformBuffer(dev, ...decodeGemvParams(M, 208, K, 0, 0, eps)))
      const A = held(random(M * K, 17 + M, 1))
      const Wa = held(random(208 * K, 18, 0.05))
      const C0 = random(M * 208, 19 + M, 1)
      const Ca = keep(storageBuffer(dev, C0))
      const pa = keep(uniformBuffer(dev, ...decodeGemvParams(M, 208, K)))
      const [bq, bk, bv, bg, bu, bh, a, ba] = [Wq, Wk, Wv, Wg, Wu, Wh, A, Wa].map((w) => keep(upload(w)))
      await runDispatches(dev, [
        k.qkv({ A: x, B0: bq!, B1: bk!, B2: bv!, C, G: g, params: pq }, 128),
        k.gateUp({ A: x, B0: bg!, B1: bu!, Y, G: g, params: pg }, 208),
        k.head({ A: x, B: bh!, C: Ch, G: g, params: ph }, 208),
        k.accumulate({ A: a!, B: ba!, C: Ca, params: pa }, 208)
      ])
      const gotQkv = new Float32Array(await readBuffer(dev, C, M * 128 * 4))
      const gotY = await readStored(Y, M * 208)
      const gotH = new Float32Array(await readBuffer(dev, Ch, M * 208 * 4))
      const gotA = new Float32Array(await readBuffer(dev, Ca, M * 208 * 4))
      for (const b of made) b.destroy()
      const wantQkv = matmulRef(normed, Float32Array.from([...Wq, ...Wk, ...Wv]), M, 128, K)
      const wantY = held(swigluRef(matmulRef(normed, Wg, M, 208, K), matmulRef(normed, Wu, M, 208, K)))
      const wantH = matmulRef(normed, Wh, M, 208, K)
      const wantA = matmulRef(A, Wa, M, 208, K).map((v, i) => v + C0[i]!)
      const label = `${M} rows (${real ? "f16 subgroup matrices" : "f32, fragments emulated"})`
      assert.ok(maxDiff(gotQkv, wantQkv) < tol, `${label}, qkv: max |Δ| ${maxDiff(gotQkv, wantQkv)}`)
      assert.ok(maxDiff(gotY, wantY) < tol, `${label}, gate/up: max |Δ| ${maxDiff(gotY, wantY)}`)
      assert.ok(maxDiff(gotH, wantH) < tol, `${label}, head: max |Δ| ${maxDiff(gotH, wantH)}`)
      assert.ok(maxDiff(gotA, wantA) < tol, `${label}, accumulate: max |Δ| ${maxDiff(gotA, wantA)}`)
    }
  })
  // tcSplit: a layer's chain as the decoder runs it with K split in 2 (o and down each leave a part
  // pending, which gate/up, qkv, the head and the next accumulate read), against the CPU chain
  it("K split over 2 workgroups: o, gate/up, down, then qkv and the head read the partials left pending, 16 rows (and 5 on a card)", async () => {
    if (t.skip !== false) return
    const { gpu, dev, real, storage, emulate, held, upload, bytes, tol, readStored } = tensorCoreCase(t.gpu)
    const split = 2
    const Hd = tcGemvKStep(tcGemvUnroll(storage), undefined, split) // the residual's width: one step of K a warp in each part
    const Ia = 2 * Hd // the activations the accumulates read (o's heads · D, down's intermediate)
    const k = await decodeLayerKernels(gpu, 64, { storage, gemv: "tensor-cores", tcSplit: split, ...(emulate ? { emulate } : {}) })
    assert.equal(k.tcSplit, split)
    // emulated, 16 rows only (decode-gemv-tc.test.ts splits at 5 rows too): SwiftShader runs these slowly
    for (const M of real ? [5, DECODE_ROWS] : [DECODE_ROWS]) {
      const X = random(M * Hd, 3 + M, 2)
      const G = random(Hd, 5, 0.3).map((v) => 1 + v)
      const [Ao, Wo, Wg, Wu, Ad, Wd, Wq, Wh] = [held(random(M * Ia, 7 + M, 1)), held(random(Hd * Ia, 8, 0.05)), held(random(Ia * Hd, 9, 0.05)), held(random(Ia * Hd, 10, 0.05)), held(random(M * Ia, 11 + M, 1)), held(random(Hd * Ia, 12, 0.05)), held(random(128 * Hd, 13, 0.05)), held(random(64 * Hd, 14, 0.05))]
      const made: Array<GPUBuffer> = []
      const keep = <T extends GPUBuffer>(b: T) => (made.push(b), b)
      const [x, g] = [keep(storageBuffer(dev, X)), keep(storageBuffer(dev, G))]
      const [ao, wo, wg, wu, ad, wd, wq, wh] = [Ao, Wo, Wg, Wu, Ad, Wd, Wq, Wh].map((w) => keep(upload(w!)))
      const [po, pd] = [keep(storageBuffer(dev, (split - 1) * M * Hd * 4)), keep(storageBuffer(dev, (split - 1) * M * Hd * 4))]
      const [Y, C, Ch] = [keep(storageBuffer(dev, M * Ia * bytes)), keep(storageBuffer(dev, M * 128 * 4)), keep(storageBuffer(dev, M * 64 * 4))]
      const pAcc = keep(uniformBuffer(dev, ...decodeGemvParams(M, Hd, Ia)))
      const pGate = keep(uniformBuffer(dev, ...decodeGemvParams(M, Ia, Hd, 0, 0, eps)))
      const pQkv = keep(uniformBuffer(dev, ...decodeGemvParams(M, 128, Hd, 64, 96, eps)))
      const pHead = keep(uniformBuffer(dev, ...decodeGemvParams(M, 64, Hd, 0, 0, eps)))
      // down reads activations of its own (Ad), not gate/up's Y, so that each kind's check stands alone
      await runDispatches(dev, [
        k.accumulate({ A: ao!, B: wo!, C: x, params: pAcc, Part: po }, Hd), // the step's first: nothing pending
        k.gateUp({ A: x, B0: wg!, B1: wu!, Y, G: g, params: pGate, Pend: po }, Ia),
        k.accumulate({ A: ad!, B: wd!, C: x, params: pAcc, Pend: po, Part: pd }, Hd),
        k.qkv({ A: x, B0: wq!, B1: wq!, B2: wq!, C, G: g, params: pQkv, Pend: pd }, 128),
        k.head({ A: x, B: wh!, C: Ch, G: g, params: pHead, Pend: pd }, 64)
      ])
      const gotX = new Float32Array(await readBuffer(dev, x, M * Hd * 4))
      const gotPd = new Float32Array(await readBuffer(dev, pd, M * Hd * 4))
      const gotY = await readStored(Y, M * Ia)
      const gotQkv = new Float32Array(await readBuffer(dev, C, M * 128 * 4))
      const gotH = new Float32Array(await readBuffer(dev, Ch, M * 64 * 4))
      for (const b of made) b.destroy()
      // the CPU chain: the residual after o, after down
      const afterO = matmulRef(Ao!, Wo!, M, Hd, Ia).map((v, i) => v + X[i]!)
      const afterDown = matmulRef(Ad!, Wd!, M, Hd, Ia).map((v, i) => v + afterO[i]!)
      const normedO = rmsnormRef(afterO, G, M, Hd, eps)
      const normedDown = rmsnormRef(afterDown, G, M, Hd, eps)
      const wantY = held(swigluRef(matmulRef(normedO, Wg!, M, Ia, Hd), matmulRef(normedO, Wu!, M, Ia, Hd)))
      const wantQkv = matmulRef(normedDown, Float32Array.from([...Wq!.subarray(0, 64 * Hd), ...Wq!.subarray(0, 32 * Hd), ...Wq!.subarray(0, 32 * Hd)]), M, 128, Hd)
      const wantH = matmulRef(normedDown, Wh!, M, 64, Hd)
      const label = `${M} rows (${real ? "f16 subgroup matrices" : "f32, fragments emulated"})`
      // the residual is x plus the part still pending: whole, it is the CPU's
      const whole = gotX.map((v, i) => v + gotPd[i]!)
      assert.ok(maxDiff(whole, afterDown) < tol, `${label}, residual + pending: max |Δ| ${maxDiff(whole, afterDown)}`)
      assert.ok(maxDiff(gotPd, new Float32Array(gotPd.length)) > 0.01, `${label}: the down GEMV's second part left nothing pending`)
      assert.ok(maxDiff(gotY, wantY) < tol, `${label}, gate/up: max |Δ| ${maxDiff(gotY, wantY)}`)
      assert.ok(maxDiff(gotQkv, wantQkv) < tol, `${label}, qkv: max |Δ| ${maxDiff(gotQkv, wantQkv)}`)
      assert.ok(maxDiff(gotH, wantH) < tol, `${label}, head: max |Δ| ${maxDiff(gotH, wantH)}`)
    }
  })
})
