// The decoder's log-prob pick over vocabulary chunks (model/wgsl/kernels/pick-split.ts) against the
// log-softmax computed on the CPU: three rows over a vocabulary of three chunks (the last one
// short), ties inside a chunk and across chunks (the lowest id wins, as torch.argmax), and a row
// with a NaN logit and one with +Inf, whose log-probs must not be finite (NON_FINITE_TOKEN). f32:
// runs on SwiftShader.
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { readBuffer, runDispatches, storageBuffer, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { pickChunks, pickSplit, pickSplitParams, PICK_CHUNK } from "../../../../model/wgsl/kernels/pick-split.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"
import { random } from "../../../helpers/numeric.ts"

const t = await openTestGpu()
after(() => (t.skip === false ? t.gpu.close() : undefined))

describe("log-prob pick over vocabulary chunks", { skip: t.skip === false ? false : t.skip }, () => {
  it("gives log-softmax at the target and the argmax (lowest id on ties), and a non-finite log-prob for a NaN logit", async () => {
    if (t.skip !== false) return
    const dev = t.gpu.device
    const [rows, V] = [5, 2 * PICK_CHUNK + 700]
    const logits = random(rows * V, 71, 8)
    logits[0 * V + 4500] = logits[0 * V + 10] = 50 // across chunks
    logits[1 * V + 2100] = logits[1 * V + 2050] = 40 // inside the second chunk
    logits[2 * V + 4000] = 60 // in the short last chunk
    logits[3 * V + 123] = Number.NaN
    logits[4 * V + 3000] = Number.POSITIVE_INFINITY
    logits[4 * V + 4] = Number.NEGATIVE_INFINITY // no harm: its exponential is 0
    const targets = Uint32Array.of(4500, 7, 4000, 5, 4)
    const [L, tb] = [storageBuffer(dev, logits), storageBuffer(dev, targets)]
    const states = storageBuffer(dev, rows * pickChunks(V) * 16)
    const out = storageBuffer(dev, rows * 8)
    const params = uniformBuffer(dev, pickSplitParams(rows, V))
    await runDispatches(dev, (await pickSplit(t.gpu))({ logits: L, states, targets: tb, out, params }, rows, V))
    const raw = await readBuffer(dev, out, rows * 8)
    for (const b of [L, tb, states, out, params]) b.destroy()
    const f = new Float32Array(raw)
    const u = new Uint32Array(raw)
    for (let r = 0; r < 3; r++) {
      const row = logits.subarray(r * V, (r + 1) * V)
      const m = Math.max(...row)
      const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0))
      assert.ok(Math.abs(f[2 * r]! - (row[targets[r]!]! - lse)) < 1e-4, `row ${r}: ${f[2 * r]} vs ${row[targets[r]!]! - lse}`)
      assert.equal(u[2 * r + 1], row.indexOf(m), `argmax of row ${r}`)
    }
    assert.deepEqual([u[1], u[3], u[5]], [10, 2050, 4000])
    assert.ok(!Number.isFinite(f[6]!), `the NaN row's log-prob: ${f[6]}`)
    assert.ok(!Number.isFinite(f[8]!), `the +Inf row's log-prob: ${f[8]}`)
  })
})
