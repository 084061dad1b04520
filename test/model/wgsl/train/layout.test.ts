import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { selectBackend } from "../../../../model/tfjs/backend.ts"
import { loadModelDir } from "../../../../model/qwen3/checkpoint.ts"
import { engineLayout, microBatchTensors } from "../../../../model/train/engine-train.ts"
import { causalLmLoss } from "../../../../model/train/loss.ts"
import { tinyDir } from "../../../helpers/model-fixture.ts"

// Micro-batches padded to the WGSL trainer's shapes: the layout's constraints, and the targets'
// meaning — the loss over them on the padded rows is causalLmLoss on the unpadded ones.
const IGNORE = 0xffffffff

describe("micro-batches in the trainer's shapes", () => {
  it("picks seq a multiple of 16, rows × seq a multiple of 128, with the fewest tokens", () => {
    for (let microBatch = 1; microBatch <= 9; microBatch++) {
      for (let width = 2; width <= 300; width += 7) {
        const { rows, seq } = engineLayout(microBatch, width)
        assert.ok(seq % 16 === 0 && (rows * seq) % 128 === 0 && rows >= microBatch && seq >= width, `${microBatch} × ${width} → ${rows} × ${seq}`)
        // exhaustive search for anything smaller
        for (let s = Math.ceil(width / 16) * 16; s <= seq + 128; s += 16) {
          for (let r = microBatch; r * s < rows * seq; r++) assert.notEqual((r * s) % 128, 0, `${microBatch} × ${width}: ${r} × ${s} is smaller than ${rows} × ${seq}`)
        }
      }
    }
    assert.deepEqual(engineLayout(16, 1024), { rows: 16, seq: 1024 })
    assert.deepEqual(engineLayout(1, 512), { rows: 1, seq: 512 })
    assert.deepEqual(engineLayout(2, 60), { rows: 2, seq: 64 })
    assert.deepEqual(engineLayout(1, 16), { rows: 8, seq: 16 })
    assert.throws(() => engineLayout(0, 16), /need ≥ 1 sequence/)
  })

  it("places ids row by row and targets where causalLmLoss counts them", () => {
    const seqs = [{ ids: [5, 6, 7, 8], targetMask: [0, 0, 1, 1] }, { ids: [9, 10, 11, 12], targetMask: [0, 1, 1, 0] }]
    const { ids, targets } = microBatchTensors(seqs, { rows: 4, seq: 8 })
    assert.deepEqual([...ids], [5, 6, 7, 8, 0, 0, 0, 0, 9, 10, 11, 12, 0, 0, 0, 0, ...new Array(16).fill(0)])
    const X = IGNORE
    assert.deepEqual([...targets], [X, 7, 8, X, X, X, X, X, 10, 11, X, X, X, X, X, X, ...new Array(16).fill(X)])
    // a sequence without a mask: every next token counts, for the whole micro-batch (causalLmLoss's rule)
    const unmasked = microBatchTensors([seqs[0]!, { ids: [1, 2, 3, 4] }], { rows: 2, seq: 8 })
    assert.deepEqual([...unmasked.targets], [6, 7, 8, X, X, X, X, X, 2, 3, 4, X, X, X, X, X])
    assert.throws(() => microBatchTensors([{ ids: new Array(9).fill(1) }], { rows: 1, seq: 8 }), /9 tokens for rows of 8/)
  })

  it("the padded micro-batch's mean loss over its targets is causalLmLoss's (tiny model, tfjs)", async () => {
    await selectBackend("cpu", "training")
    const loaded = loadModelDir(tinyDir)
    const width = 13
    const seqs = [0, 1, 2].map((r) => ({
      ids: Array.from({ length: width }, (_, i) => (i * (31 + 17 * r) + 5 * r + 1) % loaded.model.config.vocabSize),
      targetMask: Array.from({ length: width }, (_, i): number => (i >= 4 + r ? 1 : 0))
    }))
    const want = (await causalLmLoss(loaded.model, seqs.map((s) => s.ids), { targetMask: seqs.map((s) => s.targetMask) }).data())[0]!
    const layout = engineLayout(seqs.length, width)
    const { ids, targets } = microBatchTensors(seqs, layout)
    const rows = Array.from({ length: layout.rows }, (_, r) => [...ids.subarray(r * layout.seq, (r + 1) * layout.seq)])
    const logits = loaded.model.forward(rows).logits
    const logp = (await tf.logSoftmax(logits).data()) as Float32Array
    const V = loaded.model.config.vocabSize
    let sum = 0
    let n = 0
    targets.forEach((t, i) => {
      if (t === IGNORE) return
      sum -= logp[i * V + t]!
      n++
    })
    assert.equal(n, seqs.reduce((a, s) => a + s.targetMask.slice(1).reduce((x, y) => x + y, 0), 0))
    assert.ok(Math.abs(sum / n - want) < 1e-5, `padded ${sum / n} vs causalLmLoss ${want}`)
  })
})

describe("fitting the micro-batch to the GPU", () => {
  it("halves the micro-batch and doubles the accumulation, keeping the sequences a step", async () => {
    const { halveMicroBatch } = await import("../../../../model/train/engine-train.ts")
    const { defaultTrainOptions } = await import("../../../../model/train/trainer.ts")
    const o = { ...defaultTrainOptions, totalSteps: 4, outDir: "/tmp/x", microBatch: 16, gradAccumulation: 1 }
    const h = halveMicroBatch(o)!
    assert.deepEqual([h.microBatch, h.gradAccumulation], [8, 2])
    assert.equal(h.microBatch * h.gradAccumulation, o.microBatch * o.gradAccumulation)
    assert.equal(halveMicroBatch({ ...o, microBatch: 3 }), undefined)
    assert.equal(halveMicroBatch({ ...o, microBatch: 1 }), undefined)
  })
})
