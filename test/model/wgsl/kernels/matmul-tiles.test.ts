import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { f16BitsToF32, pipeline, readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { pickFinishWgsl, pickMergeWgsl } from "../../../../model/wgsl/token-kernels.ts"
import { TILE_CONFIGS, gateUpSharedBytes, gateUpValid, parseTileName, pickBlockWidth, tileName, tileSharedBytes, tileSupports, tileThreads, tileValid, tiledTensorCoreWgsl, type TileConfig } from "../../../../model/wgsl/kernels/matmul-tiles.ts"
import { SHORTLIST, type WeightFormat, type WeightLayout } from "../../../../model/wgsl/kernels/matmul.ts"
import { dequantizeNf4, nf4Absmax, quantizeNf4 } from "../../../../model/formats/nf4.ts"
import { transpose } from "../../../helpers/kernels/general-matmul-reference.ts"
import { matmulRef } from "../../../helpers/kernels/reference.ts"
import { fragmentsOf } from "../../../helpers/kernels/subgroup-matrix-emulation.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"
import { random, relErr } from "../../../helpers/numeric.ts"

// The multi-subgroup tensor-core matmul (matmul-tiles.ts) against the CPU reference. On an adapter
// with f16 subgroup matrices the kernels run as generated; elsewhere (SwiftShader, CPU-only CI)
// each runs with its fragments emulated in scalar f32 (test/helpers/kernels/subgroup-matrix-
// emulation.ts), which checks everything but the tensor-core instructions themselves: the global
// loads, the workgroup-memory staging and its two stages, the grouped tile walk, every offset.
const opened = await openTestGpu()

describe("tile names", () => {
  it("name every exploration configuration and parse back to it", () => {
    for (const c of TILE_CONFIGS) assert.deepEqual(parseTileName(tileName(c)), c)
    assert.equal(tileName(parseTileName("t128x128x32-sg2x2-s2-g16-p16-cf-bkn-w4")!), "t128x128x32-sg2x2-s2-g16-p16-cf-bkn-w4")
    assert.equal(parseTileName("t128x128x32-sg2x2-s3-g8"), undefined)
    assert.equal(parseTileName("sm16x1"), undefined)
  })
})

describe("tensor-core matmul with multi-subgroup tiles", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const gpu = opened.gpu
  const device = gpu.device
  after(() => gpu.close())
  const { F, emulated, emulate } = fragmentsOf(gpu)
  // 3 rows of tiles (a ragged last group when walked 2 at a time), several slabs: every stage swap.
  // Emulated, every lane computes whole fragments: a smaller problem keeps SwiftShader to seconds
  // (and 64-row tiles get 192 rows). On the card 768 rows: 3 rows of 256-row tiles, 6 of 128 (a
  // ragged last group of 8).
  const limit = device.limits.maxComputeWorkgroupStorageSize
  const problem = (BM: number) => (!emulated ? [768, 512, 320] : BM <= 64 ? [192, 128, 64] : [384, 128, 64]) as [number, number, number]
  // operands and the reference of each problem, weight format and layout, made once
  const operands = new Map<string, ReturnType<typeof makeOperands>>()
  const makeOperands = (M: number, N: number, K: number) => {
    const A = roundF16(random(M * K, 1))
    const Wf = roundF16(random(N * K, 2, 0.05)) // [N,K] for "nk", [K,N] for "kn"
    const q = quantizeNf4(random(N * K, 2, 0.05), [N, K])
    const nf4Words = new Uint32Array(q.packed.buffer.slice(0), 0, q.packed.length / 4)
    const nf4Values = emulated ? dequantizeNf4(q) : roundF16(dequantizeNf4(q)) // the tensor-core path rounds each dequantised weight to f16
    const refs = new Map<string, Float32Array>()
    const reference = (format: WeightFormat, layout: WeightLayout) => {
      const key = `${format} ${layout}`
      if (!refs.has(key)) {
        // the stored weight read as [N,K] ("nk") or [K,N] ("kn"): the same values, transposed for the reference
        const stored = format === "f16" ? Wf : nf4Values
        refs.set(key, matmulRef(A, layout === "nk" ? stored : transpose(stored, K, N), M, N, K))
      }
      return refs.get(key)!
    }
    return { A, Wf, q, nf4Words, C0: random(M * N, 3), reference }
  }
  const operandsFor = (M: number, N: number, K: number) => {
    const key = `${M} ${N} ${K}`
    if (!operands.has(key)) operands.set(key, makeOperands(M, N, K))
    return operands.get(key)!
  }

  const run = async (c: TileConfig, format: WeightFormat, layout: WeightLayout, accumulate: boolean) => {
    const [M, N, K] = problem(c.BM)
    const { A, Wf, q, nf4Words, C0, reference } = operandsFor(M, N, K)
    const code = tiledTensorCoreWgsl(c, F, format, accumulate, layout)
    const p = await pipeline(device, emulate ? emulate(code) : code, `${tileName(c)}-${format}-${layout}${accumulate ? "-acc" : ""}${emulated ? "-emulated" : ""}`)
    const C = storageBuffer(device, accumulate ? C0 : new Float32Array(M * N).fill(Number.NaN))
    const B = storageBuffer(device, format === "f16" ? toF16(Wf) : nf4Words)
    const buffers = [storageBuffer(device, toF16(A)), B, C, uniformBuffer(device, [M, N, K, 0])]
    if (format === "nf4") buffers.push(storageBuffer(device, nf4Absmax(q.stats)))
    await runDispatches(device, [{ pipeline: p, buffers, groups: [N / c.BN, M / c.BM] }])
    const got = new Float32Array(await readBuffer(device, C, M * N * 4))
    const want = reference(format, layout).map((v, i) => v + (accumulate ? C0[i]! : 0))
    for (const b of buffers) b.destroy()
    return relErr(got, want)
  }

  // Emulated, workgroup arrays are f32 (twice the bytes) under SwiftShader's 32 KB: small tiles
  // that still take the code paths (8, 4 and 2 subgroups, 1 and 2 stages, both layouts, f16 and
  // NF4, accumulation, a ragged last group of tile rows: 3 rows of tiles walked 2 at a time; lanes
  // and fragment-copy staging, B's slab transposed, padding, fragments straight from storage, producer subgroups, rotated stores).
  // One case a configuration: SwiftShader takes seconds to tens of seconds a kernel here.
  const small = { BM: 64, BN: 64, BK: 16, SGM: 2, SGN: 2, group: 2 } as const
  const emulatedCases: ReadonlyArray<readonly [TileConfig, WeightFormat, WeightLayout, boolean]> = [
    [{ BM: 128, BN: 128, BK: 16, SGM: 2, SGN: 4, stages: 1, group: 2 }, "f16", "nk", false],
    [{ ...small, stages: 2 }, "nf4", "kn", true],
    [{ ...small, stages: 1, copy: "frag" }, "f16", "nk", true],
    [{ ...small, stages: 2, copy: "frag", bSlab: "kn" }, "f16", "nk", false],
    [{ ...small, stages: 1, bSlab: "kn", pad: 16 }, "nf4", "nk", false],
    [{ ...small, stages: 1, direct: "b" }, "f16", "kn", true],
    [{ ...small, stages: 1, direct: "ab" }, "f16", "nk", false],
    [{ ...small, stages: 2, producers: 2 }, "nf4", "kn", true],
    [{ ...small, stages: 2, rotate: true }, "nf4", "nk", true],
    [{ ...small, stages: 1, rotate: true }, "f16", "kn", false]
  ]
  // On the card: every case for the plan's shortlist and the one-stage rotated tiles (candidates
  // for it); for the rest of the exploration list the [K,N] layout accumulating and NF4 (the tuner
  // checks f16 [N,K] before it times them).
  const shortlisted = new Set(SHORTLIST.map(tileName))
  const gpuAll: ReadonlyArray<readonly [WeightFormat, WeightLayout, boolean]> = [["f16", "nk", false], ["f16", "nk", true], ["f16", "kn", false], ["f16", "kn", true], ["nf4", "nk", false], ["nf4", "kn", true]]
  const gpuSome: ReadonlyArray<readonly [WeightFormat, WeightLayout, boolean]> = [["f16", "kn", true], ["nf4", "nk", false]]
  const cases: ReadonlyArray<readonly [TileConfig, WeightFormat, WeightLayout, boolean]> = emulated
    ? emulatedCases
    : [...new Map([...SHORTLIST, ...TILE_CONFIGS].map((c) => [tileName(c), c])).values()].flatMap((c) =>
      (shortlisted.has(tileName(c)) || (c.rotate === true && c.stages === 1) ? gpuAll : gpuSome).map(([f, l, a]) => [c, f, l, a] as const))
  for (const [c, format, layout, accumulate] of cases) {
    const [M, N, K] = problem(c.BM)
    if (!tileValid(c, F) || !tileSupports(c, format) || M % c.BM !== 0 || N % c.BN !== 0 || K % c.BK !== 0) continue
    const bytes = tileSharedBytes(c, layout) * (emulated ? 2 : 1)
    const tooBig = bytes > limit ? `${bytes} bytes of workgroup memory, over this adapter's ${limit}`
      : tileThreads(c) > Math.min(device.limits.maxComputeInvocationsPerWorkgroup, device.limits.maxComputeWorkgroupSizeX) ? `${tileThreads(c)} invocations, over this device's limit` : false
    it(`${tileName(c)}: ${format} weight stored ${layout === "nk" ? "[N,K]" : "[K,N]"}${accumulate ? ", accumulating onto C" : ""}${emulated ? " (fragments emulated in f32)" : ""}`, { skip: tooBig }, async () => {
      const err = await run(c, format, layout, accumulate)
      assert.ok(err < 1e-4, `relative error ${err}`)
    })
  }

  // The SwiGLU epilogue (the scoring engine's up projection): C = A·Bᵀ as ever, and Y = silu(G)·C
  // in f16 pairs. Gates of both signs and large magnitudes (silu's two tails). Emulated: the small
  // tile, one stage and two (producers); on the card the shortlist, f16 and NF4.
  const epilogueCases: ReadonlyArray<readonly [TileConfig, WeightFormat]> = emulated
    ? [[{ ...small, stages: 1 }, "f16"], [{ ...small, stages: 2, producers: 2 }, "nf4"]]
    : SHORTLIST.flatMap((c) => [[c, "f16"], [c, "nf4"]] as const)
  for (const [c, format] of epilogueCases) {
    const [M, N, K] = problem(c.BM)
    if (M % c.BM !== 0 || N % c.BN !== 0 || K % c.BK !== 0) continue
    const bytes = tileSharedBytes(c, "nk") * (emulated ? 2 : 1)
    it(`${tileName(c)}: ${format} weight, SwiGLU epilogue: C = A·Bᵀ and Y = silu(G)·C in f16${emulated ? " (fragments emulated in f32)" : ""}`, { skip: bytes > limit ? `${bytes} bytes of workgroup memory` : false }, async () => {
      const { A, Wf, q, nf4Words, reference } = operandsFor(M, N, K)
      const G = random(M * N, 7, 6)
      const code = tiledTensorCoreWgsl(c, F, format, false, "nk", false, "swiglu")
      const p = await pipeline(device, emulate ? emulate(code) : code, `${tileName(c)}-${format}-swiglu${emulated ? "-emulated" : ""}`)
      const C = storageBuffer(device, new Float32Array(M * N).fill(Number.NaN))
      const Y = storageBuffer(device, new Uint32Array((M * N) / 2).fill(0xffffffff))
      const buffers = [storageBuffer(device, toF16(A)), storageBuffer(device, format === "f16" ? toF16(Wf) : nf4Words), C, uniformBuffer(device, [M, N, K, 0]),
        ...(format === "nf4" ? [storageBuffer(device, nf4Absmax(q.stats))] : []), storageBuffer(device, G), Y]
      await runDispatches(device, [{ pipeline: p, buffers, groups: [N / c.BN, M / c.BM] }])
      const got = new Float32Array(await readBuffer(device, C, M * N * 4))
      const want = reference(format, "nk")
      assert.ok(relErr(got, want) < 1e-4, `C: relative error ${relErr(got, want)}`)
      const y = Float32Array.from(new Uint16Array(await readBuffer(device, Y, M * N * 2)), f16BitsToF32)
      const yWant = roundF16(Float32Array.from(want, (u, i) => (G[i]! / (1 + Math.exp(-G[i]!))) * u))
      assert.ok(relErr(y, yWant) < 2e-3, `Y: relative error ${relErr(y, yWant)}`)
      for (const b of buffers) b.destroy()
    })
  }

  // The gate-up epilogue (the scoring engine's MLP): B holds gate and up rows interleaved F at a
  // time (any [N, K] weight is such a merge: its rows 2bF…2bF+F−1 are gate's, the next F up's),
  // and Y = silu(gate)·up comes out as f16 pairs [M, N/2]; nothing else is written.
  const gateUpCases: ReadonlyArray<readonly [TileConfig, WeightFormat]> = emulated
    ? [[{ ...small, stages: 1 }, "f16"], [{ ...small, stages: 1, rotate: true }, "nf4"]] // two stages and the slots pass SwiftShader's 32 KB
    : SHORTLIST.flatMap((c) => [[c, "f16"], [c, "nf4"]] as const)
  for (const [c, format] of gateUpCases) {
    const [M, N, K] = problem(c.BM)
    if (M % c.BM !== 0 || N % c.BN !== 0 || K % c.BK !== 0 || !gateUpValid(c, F)) continue
    const bytes = tileSharedBytes(c, "nk") * (emulated ? 2 : 1) + gateUpSharedBytes(c, F)
    it(`${tileName(c)}: ${format} weight, gate-up epilogue: silu(gate)·up in f16 from one product over interleaved rows${emulated ? " (fragments emulated in f32)" : ""}`, { skip: bytes > limit ? `${bytes} bytes of workgroup memory` : false }, async () => {
      const { A, Wf, q, nf4Words, reference } = operandsFor(M, N, K)
      const C = reference(format, "nk")
      const code = tiledTensorCoreWgsl(c, F, format, false, "nk", false, "gate-up")
      const p = await pipeline(device, emulate ? emulate(code) : code, `${tileName(c)}-${format}-gate-up${emulated ? "-emulated" : ""}`)
      const Y = storageBuffer(device, new Uint32Array((M * N) / 4).fill(0xffffffff))
      const buffers = [storageBuffer(device, toF16(A)), storageBuffer(device, format === "f16" ? toF16(Wf) : nf4Words), Y, uniformBuffer(device, [M, N, K, 0]),
        ...(format === "nf4" ? [storageBuffer(device, nf4Absmax(q.stats))] : [])]
      await runDispatches(device, [{ pipeline: p, buffers, groups: [N / c.BN, M / c.BM] }])
      const got = Float32Array.from(new Uint16Array(await readBuffer(device, Y, M * N)), f16BitsToF32)
      const half = N / 2
      const want = roundF16(Float32Array.from({ length: M * half }, (_, i) => {
        const [r, j] = [Math.floor(i / half), i % half]
        const at = r * N + 2 * F * Math.floor(j / F) + (j % F)
        const g = C[at]!
        return (g / (1 + Math.exp(-g))) * C[at + F]!
      }))
      assert.ok(relErr(got, want) < 2e-3, `Y: relative error ${relErr(got, want)}`)
      for (const b of buffers) b.destroy()
    })
  }

  // The pick epilogue (the lm_head's): no logits stored, a log-softmax partial a row and block of
  // WN columns, folded by pick-merge and pick-finish into (log-prob of the target, argmax) a row.
  // The shard starts at column id 3: targets below it or past its end are outside (log-prob ≈ −3e38).
  const pickCases: ReadonlyArray<readonly [TileConfig, WeightFormat]> = emulated
    ? [[{ ...small, stages: 1 }, "f16"], [{ ...small, stages: 2, rotate: true }, "nf4"]]
    : SHORTLIST.flatMap((c) => [[c, "f16"], [c, "nf4"]] as const)
  for (const [c, format] of pickCases) {
    const [M, N, K] = problem(c.BM)
    if (M % c.BM !== 0 || N % c.BN !== 0 || K % c.BK !== 0) continue
    const bytes = tileSharedBytes(c, "nk") * (emulated ? 2 : 1) + c.SGM * c.SGN * Math.max(F * F, 128) * 4
    it(`${tileName(c)}: ${format} weight, pick epilogue: each row's log-prob of its target and argmax, no logits stored${emulated ? " (fragments emulated in f32)" : ""}`, { skip: bytes > limit ? `${bytes} bytes of workgroup memory` : false }, async () => {
      const { A, Wf, q, nf4Words, reference } = operandsFor(M, N, K)
      const logits = reference(format, "nk")
      const col0 = 3
      const targets = Uint32Array.from({ length: M }, (_, r) => (r * 7919) % (N + 8))
      const W = pickBlockWidth(c)
      const code = tiledTensorCoreWgsl(c, F, format, false, "nk", false, "pick")
      const [mm, merge, finish] = await Promise.all([
        pipeline(device, emulate ? emulate(code) : code, `${tileName(c)}-${format}-pick${emulated ? "-emulated" : ""}`),
        pipeline(device, pickMergeWgsl, "pick-merge"), pipeline(device, pickFinishWgsl, "pick-finish")
      ])
      const partials = storageBuffer(device, new Uint32Array(M * (N / W) * 4).fill(0xffffffff))
      const T = storageBuffer(device, targets)
      const state = storageBuffer(device, M * 16)
      const out = storageBuffer(device, M * 8)
      const buffers = [storageBuffer(device, toF16(A)), storageBuffer(device, format === "f16" ? toF16(Wf) : nf4Words), partials, uniformBuffer(device, [M, N, K, col0]),
        ...(format === "nf4" ? [storageBuffer(device, nf4Absmax(q.stats))] : []), T]
      const mergeParams = uniformBuffer(device, [M, N, col0, 1, N / W, W])
      const finishParams = uniformBuffer(device, [M])
      await runDispatches(device, [
        { pipeline: mm, buffers, groups: [N / c.BN, M / c.BM] },
        { pipeline: merge, buffers: [partials, T, state, mergeParams], groups: [M, 1] },
        { pipeline: finish, buffers: [state, out, finishParams], groups: [Math.ceil(M / 256), 1] }
      ])
      const raw = await readBuffer(device, out, M * 8)
      const logprob = new Float32Array(raw)
      const argmax = new Uint32Array(raw)
      let inShard = 0
      for (let r = 0; r < M; r++) {
        const row = logits.subarray(r * N, (r + 1) * N)
        let best = 0
        for (let i = 1; i < N; i++) if (row[i]! > row[best]!) best = i
        const lse = row[best]! + Math.log(row.reduce((s, v) => s + Math.exp(v - row[best]!), 0))
        assert.equal(argmax[r * 2 + 1], best + col0, `row ${r}: argmax`)
        const t = targets[r]! - col0
        if (t >= 0 && t < N) {
          inShard++
          assert.ok(Math.abs(logprob[r * 2]! - (row[t]! - lse)) < 2e-4 * Math.max(1, Math.abs(lse)), `row ${r}: log-prob ${logprob[r * 2]} against ${row[t]! - lse}`)
        } else assert.ok(logprob[r * 2]! < -1e37, `row ${r}: a target outside the shard gives ${logprob[r * 2]}`)
      }
      assert.ok(inShard > M / 2 && inShard < M, `${inShard} of ${M} rows have their target in the shard`)
      for (const b of [...buffers, state, out, mergeParams, finishParams]) b.destroy()
    })
  }
})
