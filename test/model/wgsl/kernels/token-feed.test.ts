// The kernels that let the decoder feed its own steps (model/wgsl/kernels/token-feed.ts): each row's
// prompt token while its prompt lasts, then the argmax recorded at the step before; and the
// recording of a step's argmaxes into the [positions, rows] table. On SwiftShader where there is
// no GPU (u32 only).
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { readBuffer, runDispatches, storageBuffer, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { NON_FINITE_TOKEN, tokenFeedKernels } from "../../../../model/wgsl/kernels/token-feed.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"

const t = await openTestGpu()
const skip = t.skip === false ? false : `no WebGPU adapter, nor SwiftShader: ${t.skip}`
after(() => (t.skip === false ? t.gpu.close() : undefined))

describe("token feed kernels", { skip }, () => {
  it("feed each row its prompt, then what the step before picked; record a step's argmaxes", async () => {
    if (t.skip !== false) return
    const dev = t.gpu.device
    const k = await tokenFeedKernels(t.gpu)
    const prompts = [[5, 6, 7], [8], [9, 10]]
    const [rows, width, steps] = [3, 3, 5]
    const table = new Uint32Array(rows * width)
    prompts.forEach((p, r) => table.set(p, r * width))
    // what steps 0 … 4 "picked": 100 + 10·step + row
    const picked = Uint32Array.from({ length: steps * rows }, (_, i) => 100 + 10 * Math.floor(i / rows) + (i % rows))
    const [promptBuf, lens, generated, ids] = [storageBuffer(dev, table), storageBuffer(dev, Uint32Array.from(prompts, (p) => p.length)), storageBuffer(dev, picked), storageBuffer(dev, 4 * 4)]
    const params = uniformBuffer(dev, [rows, width, 0, 0])
    const feed = k.feedIds({ prompts: promptBuf, lens, generated, ids, params }, rows)
    for (let s = 0; s < steps; s++) {
      dev.queue.writeBuffer(params, 8, Uint32Array.of(s))
      await runDispatches(dev, [feed])
      const got = [...new Uint32Array(await readBuffer(dev, ids, rows * 4))]
      const want = prompts.map((p, r) => (s < p.length ? p[s]! : 100 + 10 * (s - 1) + r))
      assert.deepEqual(got, want, `step ${s}`)
    }
    // record: picks are (log-prob, argmax) pairs
    const picks = storageBuffer(dev, Uint32Array.from([0, 41, 0, 42, 0, 43, 0, 44]))
    const recordParams = uniformBuffer(dev, [rows, 2, 0, 0])
    await runDispatches(dev, [k.recordArgmax({ picks, generated, params: recordParams }, rows)])
    const table2 = new Uint32Array(await readBuffer(dev, generated, steps * rows * 4))
    assert.deepEqual([...table2.subarray(2 * rows, 3 * rows)], [41, 42, 43])
    assert.deepEqual([...table2.subarray(rows, 2 * rows)], [110, 111, 112], "other steps untouched")
    for (const b of [promptBuf, lens, generated, ids, params, picks, recordParams]) b.destroy()
  })

  // Issue 20: the argmax of NaN or infinite logits was recorded as a token and generation went
  // on. A pick whose log-prob is NaN or ±Inf records NON_FINITE_TOKEN instead (the host fails the row).
  it("record NON_FINITE_TOKEN for a pick whose log-prob is NaN or infinite, the argmax otherwise", async () => {
    if (t.skip !== false) return
    const dev = t.gpu.device
    const k = await tokenFeedKernels(t.gpu)
    const logprobs = [-1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -3.4e38, 0]
    const rows = logprobs.length
    const pairs = new Uint32Array(2 * rows)
    const f = new Float32Array(pairs.buffer)
    logprobs.forEach((lp, r) => {
      f[2 * r] = lp
      pairs[2 * r + 1] = 7 + r
    })
    const picks = storageBuffer(dev, pairs)
    const generated = storageBuffer(dev, new Uint32Array(rows))
    const params = uniformBuffer(dev, [rows, 0, 0, 0])
    await runDispatches(dev, [k.recordArgmax({ picks, generated, params }, rows)])
    const got = [...new Uint32Array(await readBuffer(dev, generated, rows * 4))]
    assert.deepEqual(got, [7, NON_FINITE_TOKEN, NON_FINITE_TOKEN, NON_FINITE_TOKEN, 11, 12])
    for (const b of [picks, generated, params]) b.destroy()
  })
})
