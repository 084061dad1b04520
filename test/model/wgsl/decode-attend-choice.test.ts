// The decoding attention chosen on the device (model/wgsl/decode-attend-choice.ts): each candidate
// must reproduce the default's output and appended key and value on a random problem before it is
// timed; one whose kernels are made wrong (keys and values swapped) and a layout the device cannot
// run are left out, each with its reason; the choice is one of those timed, and it is kept.
// f32 storage and SwiftShader's 4-lane subgroups: runs in CI.
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { attendDecisions, type AttendChoice, chooseDecodeAttention, type MakeDecodeKernels } from "../../../model/wgsl/decode-attend-choice.ts"
import { readBuffer, storageBuffer } from "../../../model/wgsl/kernels/buffers.ts"
import { decodeLayerKernels } from "../../../model/wgsl/kernels/decode-layer.ts"
import type { EngineShape } from "../../../model/wgsl/qwen3-engine.ts"
import { openTestGpu } from "../../helpers/gpu.ts"

const t = await openTestGpu()
after(() => (t.skip === false ? t.gpu.close() : undefined))

describe("decoding attention chosen on the device", { skip: t.skip === false ? false : t.skip }, () => {
  it("times only the forms that reproduce the default, says why the others were left out, and keeps the choice", async () => {
    if (t.skip !== false) return
    const dev = t.gpu.device
    const shape: EngineShape = { hidden: 256, heads: 4, kvHeads: 2, headDim: 64, intermediate: 512, vocab: 512, layers: 2, eps: 1e-6, theta: 1e6 }
    const [rows, positions] = [5, 150]
    const cacheBytes = positions * rows * shape.kvHeads * shape.headDim * 4
    const ones = storageBuffer(dev, new Float32Array(shape.headDim).fill(1))
    const layers = [0, 1].map(() => ({ K: storageBuffer(dev, cacheBytes), V: storageBuffer(dev, cacheBytes), qNorm: ones, kNorm: ones }))
    // "unrolled" made wrong: its keys and values swapped
    const make: MakeDecodeKernels = async (gpu, D, options) => {
      const k = await decodeLayerKernels(gpu, D, options)
      return options?.attend === "unrolled" ? { ...k, attend: (b, r, H, p) => k.attend({ ...b, K: b.V, V: b.K }, r, H, p) } : k
    }
    const candidates: ReadonlyArray<AttendChoice> = [
      { attend: "coalesced" }, { attend: "gqa" }, { attend: "gqa-split" }, { attend: "gqa", gqa: { warps: 8, keys: 3 } }, { attend: "unrolled" }
    ]
    const before = attendDecisions.length
    const chosen = await chooseDecodeAttention(t.gpu, shape, { rows, positions, storage: "f32", layers, options: {} }, candidates, make)
    assert.equal(attendDecisions.length, before + 1)
    const decision = attendDecisions.at(-1)!
    const of = (attend: string, keys?: number) => decision.candidates.find((c) => c.attend === attend && c.gqa?.keys === keys)!
    for (const attend of ["coalesced", "gqa", "gqa-split"]) {
      const c = of(attend)
      assert.ok("ms" in c && c.ms > 0, `${attend} timed: ${JSON.stringify(c)}`)
    }
    const three = of("gqa", 3)
    assert.ok("left" in three && /does not run on this device as written/.test(three.left), JSON.stringify(three))
    const wrong = of("unrolled")
    assert.ok("left" in wrong && /does not reproduce coalesced here \(output: max \|Δ\|/.test(wrong.left), JSON.stringify(wrong))
    assert.ok(["coalesced", "gqa", "gqa-split"].includes(chosen.attend) && chosen.gqa === undefined, JSON.stringify(chosen))
    assert.deepEqual(decision.chosen, chosen)
    // the timing ran over the decoder's caches at its last position: that slot appended, the others untouched
    const slot = rows * shape.kvHeads * shape.headDim
    const cache = new Float32Array(await readBuffer(dev, layers[1]!.K, cacheBytes))
    assert.ok(cache.subarray((positions - 1) * slot).some((v) => v !== 0), "the last position's keys appended")
    assert.ok(cache.subarray(0, (positions - 1) * slot).every((v) => v === 0), "no other position written")
    // kept: a second decoder of these rows (5 to 8) and positions (129 to 256) asks no probe
    assert.equal(await chooseDecodeAttention(t.gpu, shape, { rows: 8, positions: 200, storage: "f32", layers, options: {} }, candidates, make), chosen)
    assert.equal(attendDecisions.length, before + 1)
  })
})
