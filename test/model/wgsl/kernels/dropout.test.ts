import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { random } from "../../../helpers/numeric.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { f16BitsToF32, readBuffer, runDispatches, storageBuffer, toF16 } from "../../../../model/wgsl/kernels/buffers.ts"
import { dropoutKernels, dropoutMask, dropoutParams, dropoutThreshold, mix32 } from "../../../../model/wgsl/kernels/dropout.ts"
import { loraDropoutSite } from "../../../../model/wgsl/qwen3-trainer.ts"

// LoRA dropout's masks: a hash of (seed, site, element), the same on the CPU and in the kernels.

describe("dropout masks (CPU rule)", () => {
  it("mix32 is the lowbias32 hash, in u32 arithmetic (values from an independent Python implementation)", () => {
    const want: Array<[number, number]> = [[0, 0], [1, 1753845952], [2, 3507691905], [12345, 2435775735], [0xdeadbeef, 3861431939], [0xffffffff, 1734902346]]
    for (const [x, h] of want) assert.equal(mix32(x), h, `mix32(${x})`)
    assert.equal(mix32(-1), mix32(0xffffffff))
  })

  it("keeps 1 − p of the elements, scaled by 1/(1 − p), and draws a different mask per seed and site", () => {
    const n = 1 << 20
    for (const p of [0.05, 0.1, 0.5]) {
      const mask = dropoutMask(7, loraDropoutSite(3, "q_proj"), n, p)
      const kept = mask.reduce((a, m) => a + (m !== 0 ? 1 : 0), 0)
      // binomial: 5 standard deviations
      const sd = Math.sqrt(n * p * (1 - p))
      assert.ok(Math.abs(kept - n * (1 - p)) < 5 * sd, `p ${p}: kept ${kept} of ${n}`)
      assert.ok(mask.every((m) => m === 0 || m === Math.fround(1 / (1 - p))))
    }
    const base = dropoutMask(7, loraDropoutSite(0, "q_proj"), 4096, 0.5)
    for (const other of [dropoutMask(8, loraDropoutSite(0, "q_proj"), 4096, 0.5), dropoutMask(7, loraDropoutSite(0, "k_proj"), 4096, 0.5), dropoutMask(7, loraDropoutSite(1, "q_proj"), 4096, 0.5)]) {
      const same = base.reduce((a, m, i) => a + (m === other[i] ? 1 : 0), 0)
      // independent masks at p = 0.5 agree on half the elements
      assert.ok(Math.abs(same - 2048) < 5 * 32, `${same} of 4096 equal`)
    }
    assert.deepEqual(dropoutMask(7, 11, 100, 0.3), dropoutMask(7, 11, 100, 0.3))
  })

  it("p = 0 keeps everything; p outside [0, 1) is refused", () => {
    assert.ok(dropoutMask(1, 2, 1000, 0).every((m) => m === 1))
    assert.equal(dropoutThreshold(0), 0)
    assert.throws(() => dropoutThreshold(1), /not in \[0, 1\)/)
    assert.throws(() => dropoutThreshold(-0.1), /not in \[0, 1\)/)
  })
})

const opened = await openTestGpu()

describe("dropout kernels", { skip: opened.skip }, () => {
  if (!("gpu" in opened)) return
  const gpu = opened.gpu
  after(() => gpu.close())
  const n = 70_000 // not a multiple of the 1024 elements a workgroup
  const [seedValue, site, p] = [123456, loraDropoutSite(5, "down_proj"), 0.1]
  const want = dropoutMask(seedValue, site, n, p)

  it("D += S·mask/(1 − p) with the CPU's mask (f32; dropped elements untouched)", async () => {
    const dev = gpu.device
    const k = await dropoutKernels(gpu)
    const S = random(n, 3)
    const D0 = random(n, 4)
    const [Sb, Db, seed] = [storageBuffer(dev, S), storageBuffer(dev, D0), storageBuffer(dev, new Uint32Array([seedValue]))]
    await runDispatches(dev, [k.accumulate({ S: Sb, D: Db, seed, params: dropoutParams(dev, n, site, p) }, n)])
    const got = new Float32Array(await readBuffer(dev, Db, n * 4))
    // dropped elements keep D exactly; kept ones get D + S/(1 − p) to one rounding (a GPU may
    // fuse the multiply-add: the H200 rounds once where the CPU rounds twice)
    let bad = 0
    for (let i = 0; i < n; i++) {
      const exact = D0[i]! + S[i]! * want[i]!
      const ulps = want[i] === 0 ? 0 : 2 ** -23 * (Math.abs(D0[i]!) + Math.abs(S[i]! * want[i]!))
      if (Math.abs(got[i]! - exact) > ulps) bad++
    }
    assert.equal(bad, 0, `${bad} of ${n} elements differ from D + S·mask`)
  })

  it("Y = X·mask/(1 − p) in f16 with the CPU's mask", { skip: needs(gpu, "f16") }, async () => {
    const dev = gpu.device
    const k = await dropoutKernels(gpu)
    const X = random(n, 5)
    const bits = toF16(X)
    const held = Float32Array.from(bits, f16BitsToF32)
    const [Xb, Yb, seed] = [storageBuffer(dev, bits), storageBuffer(dev, n * 2), storageBuffer(dev, new Uint32Array([seedValue]))]
    await runDispatches(dev, [k.forwardF16({ X: Xb, Y: Yb, seed, params: dropoutParams(dev, n, site, p) }, n)])
    const got = Array.from(new Uint16Array(await readBuffer(dev, Yb, n * 2)), f16BitsToF32)
    let zerosWrong = 0
    let worst = 0
    for (let i = 0; i < n; i++) {
      if ((want[i] === 0) !== (got[i] === 0) && held[i] !== 0) zerosWrong++
      worst = Math.max(worst, Math.abs(got[i]! - held[i]! * want[i]!) / Math.max(1e-3, Math.abs(held[i]! * want[i]!)))
    }
    assert.equal(zerosWrong, 0, `${zerosWrong} elements dropped where the CPU keeps them, or kept where it drops`)
    assert.ok(worst < 1e-3, `largest relative error ${worst} (one f16 rounding)`)
  })
})
