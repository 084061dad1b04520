import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { random } from "../../../helpers/numeric.ts"
import { selectBackend } from "../../../../model/tfjs/backend.ts"
import { engineShape, Qwen3Engine, uploadQwen3Weights, weightBuffers } from "../../../../model/wgsl/qwen3-engine.ts"
import { roundF16 } from "../../../../model/wgsl/kernels/buffers.ts"
import { openGpu } from "../../../../model/wgsl/kernels/device.ts"
import type { WeightFormat } from "../../../../model/wgsl/kernels/matmul.ts"
import { dequantizeNf4, quantizeNf4 } from "../../../../model/formats/nf4.ts"
import { parseQwen3Config } from "../../../../model/qwen3/config.ts"
import { expectedShapes, Qwen3Model } from "../../../../model/tfjs/qwen3-model.ts"

// fleuve's WGSL scoring engine against the tfjs Qwen3 model on tfjs' f32 CPU kernels (the
// reference implementation, itself held to transformers' log-probs by the parity tests), on a
// 128-aligned random Qwen3 whose weights the reference sees exactly as the GPU holds them
// (f16-rounded; NF4 dequantised). Skips, saying why, where there is no adapter.
const opened = await openGpu()
const skip = opened._tag === "Unavailable" ? opened.reason : false

describe("WGSL Qwen3 scoring engine", { skip }, () => {
  if (opened._tag !== "Ready") return
  const gpu = opened.gpu
  after(() => gpu.close())
  const config = parseQwen3Config({
    model_type: "qwen3", vocab_size: 512, hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: 64, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 256, tie_word_embeddings: true
  })
  const host = new Map([...expectedShapes(config)].map(([name, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1)
    return [name, { shape, values: name.includes("norm") ? random(n, 50 + i, 0.2).map((v) => 1 + v) : random(n, 100 + i, 0.08) }] as const
  }))
  const [batch, seq] = [2, 64]
  // two rows; the second is 40 real tokens right-padded to 64 (padding must not change them)
  const ids = [Array.from({ length: seq }, (_, i) => (i * 37) % 512), Array.from({ length: seq }, (_, i) => (i < 40 ? (i * 91 + 5) % 512 : 0))]
  const targets = ids.map((row) => row.map((_, j) => row[(j + 1) % seq]!))

  /** What the GPU holds of a weight: f16-rounded, or NF4-dequantised then f16-rounded for the projections. */
  const asHeld = (format: WeightFormat, name: string, values: Float32Array, shape: ReadonlyArray<number>) =>
    name.includes("norm") ? values : format === "nf4" && name.includes("_proj") ? roundF16(dequantizeNf4(quantizeNf4(values, shape))) : roundF16(values)

  const reference = async (format: WeightFormat) => {
    await selectBackend("cpu")
    const model = new Qwen3Model(config, new Map([...host].map(([n, t]) => [n, tf.tensor(asHeld(format, n, t.values, t.shape), [...t.shape])])))
    const { logits } = model.forward(ids)
    const lp = tf.logSoftmax(logits)
    const [values, top] = [await lp.data(), await tf.argMax(logits, 2).data()]
    tf.dispose([logits, lp])
    model.dispose()
    const V = config.vocabSize
    return {
      logprob: targets.flatMap((row, b) => row.map((t, j) => values[(b * seq + j) * V + t]!)),
      argmax: [...top],
      // the gap between the best and second-best log-prob: argmaxes are compared only where it is clear
      margin: Array.from({ length: batch * seq }, (_, r) => {
        const row = [...values.subarray(r * V, (r + 1) * V)].sort((a, b) => b - a)
        return row[0]! - row[1]!
      })
    }
  }

  for (const format of ["f16", "nf4"] as const) {
    it(`scores log-probs within 1e-2 of the reference, padded rows included (${format} weights)`, async () => {
      const shape = engineShape(config)
      const weights = uploadQwen3Weights(gpu, shape, format, (name) => host.get(name)!.values, config.tieWordEmbeddings)
      const engine = await Qwen3Engine.create(gpu, shape, weights, batch, seq)
      const got = await engine.score(Uint32Array.from(ids.flat()), Uint32Array.from(targets.flat()))
      engine.dispose()
      for (const b of weightBuffers(weights)) b.destroy()
      const want = await reference(format)
      let maxAbs = 0
      let compared = 0
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < (b === 1 ? 39 : seq - 1); j++) {
          const t = b * seq + j
          maxAbs = Math.max(maxAbs, Math.abs(got.logprob[t]! - want.logprob[t]!))
          if (want.margin[t]! > 0.05) {
            compared++
            assert.equal(got.argmax[t], want.argmax[t], `argmax at row ${b}, position ${j}`)
          }
        }
      }
      assert.ok(maxAbs < 1e-2, `max |Δ log-prob| ${maxAbs}`)
      assert.ok(compared > 50, `argmaxes compared at ${compared} positions`)
    })
  }

  it("scores long rows over several lm_head chunks and many attention blocks like the reference (8 × 272 tokens, 6 layers)", async () => {
    const deep = parseQwen3Config({
      model_type: "qwen3", vocab_size: 512, hidden_size: 256, intermediate_size: 512, num_hidden_layers: 6, num_attention_heads: 4,
      num_key_value_heads: 2, head_dim: 64, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 512, tie_word_embeddings: true
    })
    const weightsHost = new Map([...expectedShapes(deep)].map(([name, shape], i) => {
      const n = shape.reduce((a, b) => a * b, 1)
      return [name, { shape, values: name.includes("norm") ? random(n, 70 + i, 0.2).map((v) => 1 + v) : random(n, 900 + i, 0.08) }] as const
    }))
    const [B, S] = [8, 272] // 2176 tokens: lm_head chunks of 1024, 1024 and 128; 17 query blocks a sequence
    const rows = Array.from({ length: B }, (_, r) => Array.from({ length: S }, (_, i) => (i * (31 + 2 * r) + 7 * r) % 512))
    const tg = rows.map((row) => row.map((_, j) => row[(j + 1) % S]!))
    const shape = engineShape(deep)
    const weights = uploadQwen3Weights(gpu, shape, "f16", (name) => weightsHost.get(name)!.values, true)
    const engine = await Qwen3Engine.create(gpu, shape, weights, B, S)
    const got = await engine.score(Uint32Array.from(rows.flat()), Uint32Array.from(tg.flat()))
    engine.dispose()
    for (const b of weightBuffers(weights)) b.destroy()
    await selectBackend("cpu")
    const model = new Qwen3Model(deep, new Map([...weightsHost].map(([n, t]) => [n, tf.tensor(n.includes("norm") ? t.values : roundF16(t.values), [...t.shape])])))
    const { logits } = model.forward(rows)
    const lp = await tf.logSoftmax(logits).data()
    tf.dispose(logits)
    model.dispose()
    let maxAbs = 0
    for (let r = 0; r < B; r++) for (let j = 0; j < S - 1; j++) maxAbs = Math.max(maxAbs, Math.abs(got.logprob[r * S + j]! - lp[(r * S + j) * 512 + tg[r]![j]!]!))
    assert.ok(maxAbs < 2e-2, `max |Δ log-prob| ${maxAbs}`)
  })

  it("gives the same scores with the embedding / lm_head bound in 4 shards (as a table over 2 GiB would be)", async () => {
    const shape = engineShape(config)
    const weights = uploadQwen3Weights(gpu, shape, "f16", (name) => host.get(name)!.values, config.tieWordEmbeddings)
    const score = async (maxBindingBytes?: number) => {
      const engine = await Qwen3Engine.create(gpu, shape, weights, batch, seq, maxBindingBytes ? { maxBindingBytes } : {})
      const out = await engine.score(Uint32Array.from(ids.flat()), Uint32Array.from(targets.flat()))
      engine.dispose()
      return out
    }
    const whole = await score()
    const sharded = await score(128 * config.hiddenSize * 2) // 128 rows a shard: 4 shards of the 512-token table
    for (const b of weightBuffers(weights)) b.destroy()
    let maxAbs = 0
    for (let t = 0; t < whole.logprob.length; t++) maxAbs = Math.max(maxAbs, Math.abs(whole.logprob[t]! - sharded.logprob[t]!))
    assert.ok(maxAbs < 1e-5, `max |Δ log-prob| sharded vs whole ${maxAbs}`)
    assert.deepEqual([...sharded.argmax], [...whole.argmax])
  })
})
