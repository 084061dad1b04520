import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { random, relErr } from "../../../helpers/numeric.ts"
import { describe, it } from "node:test"
import { selectBackend } from "../../../../model/tfjs/backend.ts"
import { batchMatmulRef } from "../../../../model/wgsl/kernels/batch-matmul.ts"
import { roundF16 } from "../../../../model/wgsl/kernels/buffers.ts"
import { loadModelDir } from "../../../../model/qwen3/checkpoint.ts"
import { scoreContinuations } from "../../../../model/runtime/scoring.ts"
import { ensureGradients } from "../../../../model/tfjs/gradients.ts"
import { kernelUse, webgpuKernelsRegistered } from "../../../../model/tfjs/webgpu-kernels.ts"
import { fixturesDir } from "../../../helpers/paths.ts"

// fleuve's tensor-core matmul registered as tfjs' webgpu BatchMatMul, on a real adapter; the
// suite skips, saying why, where there is none (CPU-only CI).
let skip: string | false = false
try {
  const choice = await selectBackend("webgpu")
  if (!webgpuKernelsRegistered()) skip = `the adapter lacks subgroup matrices: ${choice.device}`
} catch (e) {
  skip = e instanceof Error ? e.message : String(e)
}

describe("tfjs webgpu BatchMatMul on fleuve's tensor-core kernel", { skip }, () => {
  for (const [transposeA, transposeB] of [[false, false], [false, true], [true, false], [true, true]] as const) {
    it(`matches the f16-rounded reference (transposeA ${transposeA}, transposeB ${transposeB}, batch 3 with a broadcast operand)`, async () => {
      const [batch, M, N, K] = [3, 128, 192, 96]
      const a = random(batch * M * K, 1)
      const b = random(K * N, 2, 0.1) // one B for the whole batch (tfjs broadcasts a batch of 1)
      const before = kernelUse.tensorCore
      const at = tf.tensor3d(a, transposeA ? [batch, K, M] : [batch, M, K])
      const bt = tf.tensor3d(b, transposeB ? [1, N, K] : [1, K, N])
      const c = tf.matMul(at, bt, transposeA, transposeB)
      const got = await c.data()
      tf.dispose([at, bt, c])
      assert.equal(kernelUse.tensorCore, before + 1, "the tensor-core kernel ran")
      const want = batchMatmulRef(a, b, { batch, M, N, K }, transposeA, transposeB, batch, 1, roundF16)
      const err = relErr(got, want)
      assert.ok(err < 1e-4, `relative error ${err}`)
    })
  }

  it("leaves shapes it does not take to the stock kernel, with f32 results", async () => {
    const [M, N, K] = [100, 70, 30]
    const a = random(M * K, 3)
    const b = random(N * K, 4)
    const before = kernelUse.stock
    const c = tf.matMul(tf.tensor2d(a, [M, K]), tf.tensor2d(b, [N, K]), false, true)
    const got = await c.data()
    assert.ok(kernelUse.stock > before)
    const want = batchMatmulRef(a, b, { batch: 1, M, N, K }, false, true, 1, 1, (x) => x)
    assert.ok(relErr(got, want) < 1e-5)
  })

  it("gives the gradients of a linear layer within f16 rounding of the f32 ones", async () => {
    await ensureGradients()
    const [M, N, K] = [128, 64, 256]
    const x = tf.tensor2d(random(M * K, 5), [M, K])
    const w = tf.tensor2d(random(N * K, 6, 0.1), [N, K])
    const dy = tf.tensor2d(random(M * N, 7), [M, N])
    const [gx, gw] = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.matMul(xx, ww, false, true), dy)))([x, w])
    const before = kernelUse.tensorCore
    // dL/dx = dy · W, dL/dW = dyᵀ · x, both taken by the tensor-core kernel
    const wantX = batchMatmulRef(await dy.data() as Float32Array, await w.data() as Float32Array, { batch: 1, M, N: K, K: N }, false, false, 1, 1, (v) => v)
    const wantW = batchMatmulRef(await dy.data() as Float32Array, await x.data() as Float32Array, { batch: 1, M: N, N: K, K: M }, true, false, 1, 1, (v) => v)
    assert.ok(relErr(await gx!.data(), wantX) < 2e-3, "dx")
    assert.ok(relErr(await gw!.data(), wantW) < 2e-3, "dW")
    assert.ok(kernelUse.tensorCore >= before)
  })

  it("keeps the tiny Qwen3 fixture's log-probs within 1e-2 of transformers' (and scores through it)", async () => {
    // bundled onto a GPU host the test runs from elsewhere: FLEUVE_TEST_FIXTURES says where the fixtures are
    const dir = join(fixturesDir, "qwen3-tiny")
    const ref = JSON.parse(readFileSync(join(dir, "reference.json"), "utf8")) as { scoring: Array<{ context: string; continuation: string; token_logprobs: Array<number> }> }
    const { model, tokenizer } = loadModelDir(dir)
    let maxAbs = 0
    for (const row of ref.scoring) {
      const s = await scoreContinuations(model, tokenizer, row.context, [row.continuation])
      s.options[0]!.tokenLogprobs.forEach((lp, j) => (maxAbs = Math.max(maxAbs, Math.abs(lp - row.token_logprobs[j]!))))
    }
    model.dispose()
    assert.ok(maxAbs < 1e-2, `max |Δ log-prob| ${maxAbs}`)
  })

  it("keeps a 64-aligned random Qwen3's log-probs within 1e-2 of tfjs' f32 CPU kernels", async () => {
    const { parseQwen3Config } = await import("../../../../model/qwen3/config.ts")
    const { expectedShapes, Qwen3Model } = await import("../../../../model/tfjs/qwen3-model.ts")
    const config = parseQwen3Config({
      model_type: "qwen3", vocab_size: 512, hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4,
      num_key_value_heads: 2, head_dim: 64, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 256, tie_word_embeddings: true
    })
    const host = [...expectedShapes(config)].map(([name, shape], i) => [name, shape, name.includes("norm") ? new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1) : random(shape.reduce((a, b) => a * b, 1), 100 + i, 0.08)] as const)
    const ids = [Array.from({ length: 64 }, (_, i) => (i * 37) % 512), Array.from({ length: 64 }, (_, i) => (i * 91 + 5) % 512)]
    const logProbs = async () => {
      const model = new Qwen3Model(config, new Map(host.map(([n, s, d]) => [n, tf.tensor(d, [...s])])))
      const { logits } = model.forward(ids)
      const lp = tf.logSoftmax(logits)
      const out = await lp.data()
      tf.dispose([logits, lp])
      model.dispose()
      return out
    }
    const before = kernelUse.tensorCore
    const gpu = await logProbs()
    assert.ok(kernelUse.tensorCore > before, "the linears ran on the tensor-core kernel")
    await tf.setBackend("cpu")
    const cpu = await logProbs()
    await tf.setBackend("webgpu")
    let maxAbs = 0
    for (let i = 0; i < cpu.length; i++) maxAbs = Math.max(maxAbs, Math.abs(gpu[i]! - cpu[i]!))
    assert.ok(maxAbs < 1e-2, `max |Δ log-prob| ${maxAbs}`)
  })
})
