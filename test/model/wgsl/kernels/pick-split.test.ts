// The decoder's log-prob pick over vocabulary chunks (model/wgsl/kernels/pick-split.ts) against the
// log-softmax computed on the CPU: three rows over a vocabulary of three chunks (the last one
// short), ties inside a chunk and across chunks (the lowest id wins, as torch.argmax), and a row
// with a NaN logit and one with +Inf, whose log-probs must not be finite (NON_FINITE_TOKEN); and the
// merge that also feeds the next step (pickFeed: the record, the next token, its embedding). f32:
// runs on SwiftShader.
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { readBuffer, runDispatches, storageBuffer, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { pickChunks, pickFeed, pickFeedParams, pickSplit, pickSplitParams, PICK_CHUNK } from "../../../../model/wgsl/kernels/pick-split.ts"
import { NON_FINITE_TOKEN } from "../../../../model/wgsl/kernels/token-feed.ts"
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

  it("picks as pickSplit does and then records the argmax, feeds the next step's token (the prompt's while it lasts) and writes its embedding (a non-finite row: NON_FINITE_TOKEN, the table's last row)", async () => {
    if (t.skip !== false) return
    const dev = t.gpu.device
    const [rows, V, hidden, width, step] = [4, 2 * PICK_CHUNK + 700, 300, 5, 1]
    const logits = random(rows * V, 72, 8)
    logits[2 * V + 77] = Number.NaN
    const targets = Uint32Array.of(3, 4000, 7, 9)
    // lens [rows], then the prompts [rows, width]: row 1's prompt goes on past the next step, the others' end before it
    const lens = [2, 5, 1, 2]
    const prompts = Array.from({ length: rows * width }, (_, i) => 100 + i)
    const E = random(V * hidden, 73, 1)
    const made: Array<GPUBuffer> = []
    const keep = <T extends GPUBuffer>(b: T) => (made.push(b), b)
    const [L, tb] = [keep(storageBuffer(dev, logits)), keep(storageBuffer(dev, targets))]
    const run = async (feeding: boolean): Promise<{ out: Uint32Array; generated?: Uint32Array; X?: Float32Array }> => {
      const states = keep(storageBuffer(dev, rows * pickChunks(V) * 16))
      const out = keep(storageBuffer(dev, rows * 8))
      if (!feeding) {
        await runDispatches(dev, (await pickSplit(t.gpu))({ logits: L, states, targets: tb, out, params: keep(uniformBuffer(dev, pickSplitParams(rows, V))) }, rows, V))
        return { out: new Uint32Array(await readBuffer(dev, out, rows * 8)) }
      }
      const generated = keep(storageBuffer(dev, new Uint32Array(3 * rows).fill(7)))
      const X = keep(storageBuffer(dev, rows * hidden * 4))
      const params = keep(uniformBuffer(dev, pickFeedParams(rows, V, step, width, hidden)))
      const feed = keep(storageBuffer(dev, Uint32Array.from([...lens, ...prompts])))
      await runDispatches(dev, (await pickFeed(t.gpu, "f32"))({ logits: L, states, targets: tb, out, generated, feed, E: keep(storageBuffer(dev, E)), X, params }, rows, V))
      return { out: new Uint32Array(await readBuffer(dev, out, rows * 8)), generated: new Uint32Array(await readBuffer(dev, generated, 3 * rows * 4)), X: new Float32Array(await readBuffer(dev, X, rows * hidden * 4)) }
    }
    const plain = await run(false)
    const fed = await run(true)
    for (const b of made) b.destroy()
    assert.deepEqual([...fed.out], [...plain.out], "the same (log-prob, argmax) pairs, bit for bit")
    const argmax = [0, 1, 2, 3].map((r) => plain.out[2 * r + 1]!)
    const recorded = argmax.map((a, r) => (r === 2 ? NON_FINITE_TOKEN : a))
    assert.deepEqual([...fed.generated!], [...Array(rows).fill(7), ...recorded, ...Array(rows).fill(7)], "the argmaxes recorded at the step's row of the table, NON_FINITE_TOKEN for the NaN row")
    const next = recorded.map((tok, r) => (step + 1 < lens[r]! ? prompts[r * width + step + 1]! : tok))
    assert.equal(next[1], prompts[1 * width + 2], "row 1 is still in its prompt")
    for (let r = 0; r < rows; r++) {
      const id = Math.min(next[r]!, V - 1)
      assert.deepEqual([...fed.X!.subarray(r * hidden, (r + 1) * hidden)], [...E.subarray(id * hidden, (id + 1) * hidden)], `row ${r}: the embedding of token ${next[r]}`)
    }
  })
})
