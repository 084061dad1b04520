// The decoding attention for many rows (model/wgsl/kernels/decode-attend-gqa.ts, decode-layer.ts's
// "gqa" variant: a workgroup a (row, kv head), subgroup butterflies instead of barriers; "gqa-split":
// the same over chunks of the positions, then the split attention's combine pass) against the
// CPU reference and against the coalesced kernel (the default it would replace): 1, 3 and 16 rows,
// positions around the first 64-key block and a card's 256-key sweep (0, 1, 63, 64, 65, 200, 255, 300), query
// heads a kv head 16/8, 2/2 and 4/1, head_dim 128; the new key and value appended at pos for every
// (row, kv head) and nothing else of the caches touched. f32 on SwiftShader (4-lane subgroups),
// f16 where the adapter has shader-f16 (a card: 32-lane subgroups).
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { f16BitsToF32, pipeline, readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { decodeAttendGqaWgsl, gqaSubgroupWidth } from "../../../../model/wgsl/kernels/decode-attend-gqa.ts"
import { attendPartialBytes, decodeAttendParams, decodeLayerKernels, type DecodeStorage } from "../../../../model/wgsl/kernels/decode-layer.ts"
import { decodeAttendRef } from "../../../helpers/kernels/decode-attend-reference.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { random } from "../../../helpers/numeric.ts"

const t = await openTestGpu()
const skip = t.skip === false ? false : `no WebGPU adapter, nor SwiftShader: ${t.skip}`
after(() => (t.skip === false ? t.gpu.close() : undefined))

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0)
/** The first index where two arrays differ (bit for bit, NaN equal to NaN), or -1. */
const firstDifference = (a: Float32Array, b: Float32Array) => (a.length !== b.length ? 0 : a.findIndex((x, i) => !Object.is(x, b[i])))
const eps = 1e-6
const theta = 1e6
const POSITIONS = 320 // the caches' positions (the decoder's prompt 128 + 128 new tokens, and past a card's first 256-key sweep)

describe("gqa decoding attention", { skip }, () => {
  it("is written for this adapter's subgroups (one fixed width: SwiftShader's 4, a card's 32)", () => {
    if (t.skip !== false) return
    const width = gqaSubgroupWidth(t.gpu, 128)
    assert.ok(width !== undefined, `subgroup sizes ${JSON.stringify(t.gpu.subgroupSizes)}`)
    assert.equal(width, t.gpu.subgroupSizes!.min)
  })

  // the card's kernels compile here too (they would run wrong on 4-lane subgroups): one team of 32
  // lanes a key at head_dim 128, two teams of 16 at 64 (the engine tests' model), group 5 (Qwen3-14B)
  for (const [d, group] of [[128, 2], [64, 2], [128, 5]] as const) {
    it(`its WGSL for 32-lane subgroups compiles, whole and split: head_dim ${d}, ${group} query heads a kv head`, async () => {
      if (t.skip !== false) return
      for (const storage of t.gpu.hasF16 ? (["f32", "f16"] as const) : (["f32"] as const)) {
        await pipeline(t.gpu.device, decodeAttendGqaWgsl({ D: d, storage, group, width: 32 }), `gqa-compile-${d}-${group}-${storage}`)
        // the split form as decode-layer.ts makes it: 4 subgroups, a chunk of 128 keys
        await pipeline(t.gpu.device, decodeAttendGqaWgsl({ D: d, storage, group, width: 32, warps: 4, split: true }), `gqa-split-compile-${d}-${group}-${storage}`)
        // fewer keys a team (8 of a team's 32 or 16 lanes' keys), whole and split in 8 subgroups (SwiftShader takes 256 threads a workgroup, not 1,024)
        await pipeline(t.gpu.device, decodeAttendGqaWgsl({ D: d, storage, group, width: 32, warps: 8, keys: 8 }), `gqa-compile-${d}-${group}-${storage}-k8`)
        await pipeline(t.gpu.device, decodeAttendGqaWgsl({ D: d, storage, group, width: 32, warps: 8, keys: 8, split: true }), `gqa-split-compile-${d}-${group}-${storage}-k8`)
      }
    })
  }

  // a layout the generator can't write is refused where the kernels are made, with the reason,
  // and the coalesced (or split) attention runs instead: no exception, no kernel of another layout
  it("falls back to the coalesced or split attention, saying why, for a layout it can't write (3 keys a team, 0 subgroups, more keys than a team's lanes)", async () => {
    if (t.skip !== false) return
    const said: Array<string> = []
    const write = process.stderr.write.bind(process.stderr)
    process.stderr.write = ((chunk: string | Uint8Array) => (said.push(String(chunk)), true)) as typeof process.stderr.write
    try {
      const dummy = storageBuffer(t.gpu.device, new Float32Array(4))
      const params = uniformBuffer(t.gpu.device, ...decodeAttendParams(3, 0, 4, 2, 1, eps, theta))
      for (const [attend, gqa, grid] of [["gqa", { keys: 3 }, [3, 4]], ["gqa", { warps: 0 }, [3, 4]], ["gqa-split", { keys: 64 }, [3, 4]]] as const) {
        const k = await decodeLayerKernels(t.gpu, 32, { storage: "f32", attend, queryGroup: 2, gqa })
        const ds = k.attend({ QKV: dummy, QN: dummy, KN: dummy, K: dummy, V: dummy, O: dummy, Part: dummy, params }, 3, 4, 64)
        // a workgroup a (row, query head): the coalesced kernel's grid, or the split one's chunks then its combination
        assert.deepEqual(ds[0]!.groups.slice(0, 2), grid, `${attend} ${JSON.stringify(gqa)}: the grid`)
      }
      dummy.destroy()
      params.destroy()
    } finally {
      process.stderr.write = write
    }
    assert.ok(said.some((l) => l.includes("not 3") && l.includes("coalesced attention instead")), said.join(""))
    assert.ok(said.some((l) => l.includes("subgroups a workgroup, not 0")), said.join(""))
    assert.ok(said.some((l) => l.includes("not 64") && l.includes("split attention instead")), said.join(""))
  })

  for (const storage of ["f32", "f16"] as const satisfies ReadonlyArray<DecodeStorage>) {
    const noF16 = storage === "f16" && t.skip === false ? needs(t.gpu, "f16") : false
    const held = (x: Float32Array) => (storage === "f16" ? roundF16(x) : x)
    const bytes = storage === "f16" ? 2 : 4
    const upload = (dev: GPUDevice, x: Float32Array) => storageBuffer(dev, storage === "f16" ? toF16(x) : x)
    const readStored = async (dev: GPUDevice, b: GPUBuffer, n: number) => {
      const raw = await readBuffer(dev, b, n * bytes)
      return storage === "f16" ? Float32Array.from(new Uint16Array(raw), f16BitsToF32) : new Float32Array(raw)
    }
    // head_dim 128 on the model's groups; head_dim 8, where a subgroup of 4 lanes reads two keys at
    // once (teams of 2 lanes, as 32 lanes do at head_dim 64: their sums added at the end)
    const cases = [
      ...[[16, 8], [2, 2], [4, 1]].flatMap(([H, KV]) => [1, 3, 16].map((rows) => ({ D: 128, H: H!, KV: KV!, rows, positions: [0, 1, 63, 64, 65, 200, 255, 300] }))),
      ...[[4, 2], [8, 1]].map(([H, KV]) => ({ D: 8, H: H!, KV: KV!, rows: 3, positions: [0, 1, 65, 255] }))
    ]
    for (const { D, H, KV, rows, positions } of cases) {
      it(`${H} heads on ${KV} kv heads, ${rows} row(s), positions ${positions.join(", ")}${D === 128 ? "" : `, head_dim ${D}`}: gqa and gqa-split against the CPU and the coalesced kernel, the cache appended at pos (${storage} storage)`, { skip: noF16 }, async () => {
        if (t.skip !== false) return
        const dev = t.gpu.device
        // and, at 3 rows (the suite's time), with fewer keys a team than its lanes (the butterfly's last
        // rounds adding, several lanes ending with each score): 2 of 4 whole, 1 split (head_dim 8:
        // teams of 2 lanes, 1 key either way)
        const variants = [
          ["gqa", await decodeLayerKernels(t.gpu, D, { storage, attend: "gqa", queryGroup: H / KV })],
          ["gqa-split", await decodeLayerKernels(t.gpu, D, { storage, attend: "gqa-split", queryGroup: H / KV })],
          ...(rows === 3 ? [
            ["gqa 16x2", await decodeLayerKernels(t.gpu, D, { storage, attend: "gqa", queryGroup: H / KV, gqa: { warps: 16, keys: D === 8 ? 1 : 2 } })],
            ["gqa-split 8x1", await decodeLayerKernels(t.gpu, D, { storage, attend: "gqa-split", queryGroup: H / KV, gqa: { warps: 8, keys: 1 } })]
          ] as const : [])
        ] as const
        const coalesced = await decodeLayerKernels(t.gpu, D, { storage, attend: "coalesced" })
        const Kc = held(random(POSITIONS * rows * KV * D, 24 + rows, 1))
        const Vc = held(random(POSITIONS * rows * KV * D, 25 + rows, 1))
        const [qn, kn] = [random(D, 22, 0.3).map((v) => 1 + v), random(D, 23, 0.3).map((v) => 1 + v)]
        const [bqn, bkn] = [storageBuffer(dev, qn), storageBuffer(dev, kn)]
        for (const pos of positions) {
          const qkv = random(rows * (H + 2 * KV) * D, 21 + pos, 2)
          const bqkv = storageBuffer(dev, qkv)
          const params = uniformBuffer(dev, ...decodeAttendParams(rows, pos, H, KV, 1 / Math.sqrt(D), eps, theta))
          const run = async (k: typeof coalesced) => {
            const [bK, bV] = [upload(dev, Kc), upload(dev, Vc)]
            const O = storageBuffer(dev, rows * H * D * bytes)
            // the split form's partials, filled with NaN: a chunk the combination reads and no workgroup wrote would show
            const Part = storageBuffer(dev, new Float32Array(attendPartialBytes(rows, H, D, POSITIONS) / 4).fill(Number.NaN))
            const dispatches = k.attend({ QKV: bqkv, QN: bqn, KN: bkn, K: bK, V: bV, O, Part, params }, rows, H, POSITIONS)
            await runDispatches(dev, dispatches)
            const out = { dispatches, O: await readStored(dev, O, rows * H * D), K: await readStored(dev, bK, POSITIONS * rows * KV * D), V: await readStored(dev, bV, POSITIONS * rows * KV * D) }
            for (const b of [bK, bV, O, Part]) b.destroy()
            return out
          }
          const base = await run(coalesced)
          const want = decodeAttendRef(qkv, qn, kn, Kc, Vc, rows, pos, H, KV, D, eps, theta, held)
          for (const [variant, k] of variants) {
            const got = await run(k)
            const label = `${variant}, position ${pos}`
            // a workgroup a (row, kv head) (split: and a chunk of the positions), then the combination a (row, head)
            assert.deepEqual(got.dispatches.map((d) => d.groups.slice(0, 2)), variant.startsWith("gqa-split") ? [[rows, KV], [rows, H]] : [[rows, KV]], `${label}: the grid`)
            // at position 1 (two keys) the output moves most with the scores: the coalesced kernel is 1.2e-4 off the CPU there too (SwiftShader)
            assert.ok(maxDiff(got.O, want.O) < (storage === "f16" ? 5e-3 : 3e-4), `${label}, against the CPU: max |Δ| ${maxDiff(got.O, want.O)}`)
            // the coalesced kernel sums in another order; in f16 both outputs are rounded (an ulp apart at most)
            assert.ok(maxDiff(got.O, base.O) < (storage === "f16" ? 2e-3 : 1e-5), `${label}, against the coalesced kernel: max |Δ| ${maxDiff(got.O, base.O)}`)
            // the new key and value at pos, every (row, kv head) of it; RoPE's angles reach 255 rad (f32 sin/cos good to ~1e-4)
            const at = (c: Float32Array) => c.subarray(pos * rows * KV * D, (pos + 1) * rows * KV * D)
            assert.ok(maxDiff(at(got.K), want.k) < (storage === "f16" ? 5e-3 : 1e-3), `${label}, the new keys in the cache: max |Δ| ${maxDiff(at(got.K), want.k)}`)
            assert.equal(firstDifference(at(got.V), want.v), -1, `${label}, the new values in the cache`)
            // the q/k norms' squares are summed in another order than the coalesced kernel's (an f16 ulp at ~4 in f16)
            assert.ok(maxDiff(at(got.K), at(base.K)) < (storage === "f16" ? 4e-3 : 1e-5), `${label}, the new keys against the coalesced kernel's: max |Δ| ${maxDiff(at(got.K), at(base.K))}`)
            // every other position of the caches untouched
            const [before, past] = [(c: Float32Array) => c.subarray(0, pos * rows * KV * D), (c: Float32Array) => c.subarray((pos + 1) * rows * KV * D)]
            for (const [name, c, was] of [["keys", got.K, Kc], ["values", got.V, Vc]] as const) {
              assert.equal(firstDifference(before(c), before(was)), -1, `${label}: ${name} before pos untouched`)
              assert.equal(firstDifference(past(c), past(was)), -1, `${label}: ${name} past pos untouched`)
            }
          }
          for (const b of [bqkv, params]) b.destroy()
        }
        for (const b of [bqn, bkn]) b.destroy()
      })
    }
  }
})
