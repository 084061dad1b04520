// The scoring path's last step, log-softmax at each row's target and the argmax, on tfjs' WebGPU
// backend, past 2^24 logits: 120 rows of Qwen3's 151936-token vocabulary, as a batch of 4
// options × 30 tokens makes. Gathering from the flattened matrix went wrong there (indices lose
// precision in tfjs' gather; found on the H200 by bench/engine/cached-batch.ts, reproduced on
// SwiftShader). Runs on the real adapter or SwiftShader; skips, saying why, where neither opens.
import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { before, describe, it } from "node:test"
import { openTestGpu } from "../helpers/gpu.ts"

const opened = await openTestGpu()
if ("gpu" in opened) opened.gpu.close()
const skip = "gpu" in opened ? false : `no WebGPU adapter, nor SwiftShader: ${opened.skip}`

const { selectBackend } = await import("../../model/tfjs/backend.ts")
const { pickTargets } = await import("../../model/runtime/scoring.ts")

describe("pickTargets on webgpu", { skip }, () => {
  before(async () => {
    await selectBackend("webgpu")
  })

  it("gives every row's log-prob and argmax as the host computes them, rows past 2^24 logits included", async () => {
    const rows = 120
    const vocab = 151936
    assert.ok(rows * vocab > 2 ** 24)
    const logits = tf.randomNormal([rows, vocab], 0, 1, "float32", 3) as tf.Tensor2D
    const host = (await logits.data()) as Float32Array
    const targets = Array.from({ length: rows }, (_, r) => (r * 7919 + 13) % vocab)
    const got = await pickTargets(logits, targets)
    logits.dispose()
    for (let r = 0; r < rows; r++) {
      const row = host.subarray(r * vocab, (r + 1) * vocab)
      let max = -Infinity
      let argmax = 0
      row.forEach((x, i) => {
        if (x > max) [max, argmax] = [x, i]
      })
      let sum = 0
      for (const x of row) sum += Math.exp(x - max)
      const want = row[targets[r]!]! - max - Math.log(sum)
      assert.ok(Math.abs(got.logprobs[r]! - want) < 1e-4, `row ${r} (logits from ${r * vocab}): ${got.logprobs[r]} vs ${want}`)
      assert.equal(got.argmax[r], argmax, `row ${r}`)
    }
  })
})
