import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { random } from "../../../helpers/numeric.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"
import { tableShards, tokenKernels } from "../../../../model/wgsl/token-kernels.ts"
import { readBuffer, runDispatches, storageBuffer, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"

// The scoring engine's log-prob pick, whole-row and merged over vocabulary shards, against the
// log-softmax computed on the CPU. f32 kernels: they run on SwiftShader where there is no GPU.
const opened = await openTestGpu()

describe("log-prob pick kernels", { skip: "gpu" in opened ? false : opened.skip }, () => {
  if (!("gpu" in opened)) return
  const gpu = opened.gpu
  after(() => gpu.close())

  it("splits a table into row shards of whole 128-row tiles within the binding", () => {
    assert.deepEqual(tableShards(512, 256, 128 * 256 * 2), [0, 128, 256, 384].map((row0) => ({ row0, rows: 128 })))
    assert.deepEqual(tableShards(151936, 1024, 2 ** 31 - 4), [{ row0: 0, rows: 151936 }])
    assert.deepEqual(tableShards(300, 64, 256 * 64 * 2), [{ row0: 0, rows: 256 }, { row0: 256, rows: 44 }])
    assert.throws(() => tableShards(512, 4096, 1000), /fewer than 128 rows/)
  })

  for (const widths of [[1000], [384, 384, 232]]) {
    it(`gives log-softmax at the target and the argmax (lowest id on ties), vocabulary in ${widths.length} shard(s)`, async () => {
      const [rows, V] = [37, 1000]
      const logits = random(rows * V, 61, 8)
      logits[5 * V + 700] = logits[5 * V + 10] = 50 // a tie: the lower id wins
      const targets = Uint32Array.from({ length: rows }, (_, r) => (r * 97) % V)
      const dev = gpu.device
      const tok = await tokenKernels(gpu)
      const state = storageBuffer(dev, rows * 16)
      const out = storageBuffer(dev, rows * 8)
      const tb = storageBuffer(dev, targets)
      const ds = []
      let col0 = 0
      for (const [i, cols] of widths.entries()) {
        const shard = new Float32Array(rows * cols)
        for (let r = 0; r < rows; r++) shard.set(logits.subarray(r * V + col0, r * V + col0 + cols), r * cols)
        ds.push(tok.pickPartial({ logits: storageBuffer(dev, shard), targets: tb, state, params: uniformBuffer(dev, [rows, cols, col0, i === 0 ? 1 : 0]) }, rows))
        col0 += cols
      }
      ds.push(tok.pickFinish({ state, out, params: uniformBuffer(dev, [rows]) }, rows))
      await runDispatches(dev, ds)
      const raw = await readBuffer(dev, out, rows * 8)
      const f = new Float32Array(raw)
      const u = new Uint32Array(raw)
      for (let r = 0; r < rows; r++) {
        const row = logits.subarray(r * V, (r + 1) * V)
        const m = Math.max(...row)
        const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0))
        assert.ok(Math.abs(f[2 * r]! - (row[targets[r]!]! - lse)) < 1e-4, `row ${r}: ${f[2 * r]} vs ${row[targets[r]!]! - lse}`)
        assert.equal(u[2 * r + 1], row.indexOf(m), `argmax of row ${r}`)
      }
    })
  }
})
