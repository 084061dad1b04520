import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { random, relErr } from "../../../helpers/numeric.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { selectBackend } from "../../../../model/tfjs/backend.ts"
import { engineShape, uploadQwen3Weights, weightBuffers } from "../../../../model/wgsl/qwen3-engine.ts"
import { loraDropoutSite, Qwen3LoraTrainer, type TrainerOptions } from "../../../../model/wgsl/qwen3-trainer.ts"
import { dropoutMask } from "../../../../model/wgsl/kernels/dropout.ts"
import { roundF16 } from "../../../../model/wgsl/kernels/buffers.ts"
import type { WeightFormat } from "../../../../model/wgsl/kernels/matmul.ts"
import { defaultLoraConfig } from "../../../../model/qwen3/lora-config.ts"
import { dequantizeNf4, quantizeNf4 } from "../../../../model/formats/nf4.ts"
import { parseQwen3Config } from "../../../../model/qwen3/config.ts"
import { expectedShapes, type ForwardOptions, Qwen3Model } from "../../../../model/tfjs/qwen3-model.ts"
import { causalLmLoss } from "../../../../model/train/loss.ts"

// LoRA training on fleuve's WGSL kernels against tfjs autodiff of the reference model (f32 CPU
// kernels, fed the base weights as the GPU holds them): the loss and every LoRA gradient of a
// batch, then loss going down over steps on an f16 and on an NF4 base (QLoRA).
const opened = await openTestGpu()
const skip = "gpu" in opened ? needs(opened.gpu, "tensor-cores") : opened.skip

describe("WGSL LoRA trainer", { skip }, () => {
  if (!("gpu" in opened)) return
  const gpu = opened.gpu
  after(() => gpu.close())
  const config = parseQwen3Config({
    model_type: "qwen3", vocab_size: 512, hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: 64, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 256, tie_word_embeddings: true
  })
  const shape = engineShape(config)
  const host = new Map([...expectedShapes(config)].map(([name, s], i) => {
    const n = s.reduce((a, b) => a * b, 1)
    return [name, { shape: s, values: name.includes("norm") ? random(n, 50 + i, 0.2).map((v) => 1 + v) : random(n, 100 + i, 0.08) }] as const
  }))
  const lora = { ...defaultLoraConfig, dropout: 0 }
  const [batch, seq] = [2, 64]
  const ids = [Array.from({ length: seq }, (_, i) => (i * 37 + 3) % 512), Array.from({ length: seq }, (_, i) => (i * 91 + 5) % 512)]
  const flatIds = Uint32Array.from(ids.flat())
  const targets = Uint32Array.from(ids.flatMap((row) => row.map((_, j) => (j + 1 < seq ? row[j + 1]! : 0xffffffff))))
  const asHeld = (format: WeightFormat, name: string, values: Float32Array, s: ReadonlyArray<number>) =>
    name.includes("norm") ? values : format === "nf4" && name.includes("_proj") ? roundF16(dequantizeNf4(quantizeNf4(values, s))) : roundF16(values)

  const trainerFor = async (format: WeightFormat, options = {}, config = lora) => {
    const weights = uploadQwen3Weights(gpu, shape, format, (name) => host.get(name)!.values, true)
    const trainer = await Qwen3LoraTrainer.create(gpu, shape, weights, config, batch, seq, { seed: 7, ...options })
    return { trainer, free: () => { trainer.dispose(); for (const b of weightBuffers(weights)) b.destroy() } }
  }

  /** tfjs autodiff of the reference model (CPU) with the given pairs: the loss and each pair's A and B gradients. */
  const referenceGradients = async (format: WeightFormat, pairs: ReadonlyMap<string, { a: Float32Array; b: Float32Array }>, dropout: number, masks?: ForwardOptions["dropoutMasks"]) => {
    await selectBackend("cpu")
    const model = new Qwen3Model(config, new Map([...host].map(([n, t]) => [n, tf.tensor(asHeld(format, n, t.values, t.shape), [...t.shape])])))
    const vars: Array<tf.Variable> = []
    for (const [path, pair] of pairs) {
      const a = tf.variable(tf.tensor2d(pair.a, [lora.r, pair.a.length / lora.r]))
      const b = tf.variable(tf.tensor2d(pair.b, [pair.b.length / lora.r, lora.r]))
      model.lora.set(path, { a, b, scale: lora.alpha / lora.r, dropout })
      vars.push(a, b)
    }
    const { value, grads } = tf.variableGrads(() => causalLmLoss(model, ids, masks ? { dropoutMasks: masks } : {}), vars)
    const loss = (await value.data())[0]!
    const out = new Map<string, { a: Float32Array; b: Float32Array }>()
    let i = 0
    for (const path of pairs.keys()) out.set(path, { a: (await grads[vars[i++]!.name]!.data()) as Float32Array, b: (await grads[vars[i++]!.name]!.data()) as Float32Array })
    model.dispose()
    return { loss, grads: out }
  }
  const worstError = (got: ReadonlyMap<string, { a: Float32Array; b: Float32Array }>, want: ReadonlyMap<string, { a: Float32Array; b: Float32Array }>) => {
    let worst = 0
    let where = ""
    for (const [path, pair] of got) {
      for (const which of ["a", "b"] as const) {
        const e = relErr(pair[which], want.get(path)![which])
        if (e > worst) [worst, where] = [e, `${path} ${which.toUpperCase()}`]
      }
    }
    return { worst, where }
  }

  /** The loss and every LoRA gradient of one batch (B ≠ 0, so A gets gradients too) against tfjs autodiff. */
  const gradientCheck = async (format: WeightFormat, options: TrainerOptions = {}) => {
    const { trainer, free } = await trainerFor(format, options)
    const pairs = await trainer.readPairs()
    let seed = 300
    for (const pair of pairs.values()) pair.b.set(random(pair.b.length, seed++, 0.05))
    trainer.writePairs(pairs)
    const { loss } = await trainer.gradients([{ ids: flatIds, targets }])
    const grads = await trainer.readPairs("grads")
    free()
    const want = await referenceGradients(format, pairs, 0)
    assert.ok(Math.abs(loss - want.loss) < 1e-2, `loss ${loss} vs reference ${want.loss}`)
    const { worst, where } = worstError(grads, want.grads)
    assert.ok(worst < 3e-2, `worst LoRA gradient relative error ${worst} (${where})`)
  }

  for (const format of ["f16", "nf4"] as const) {
    it(`gives the reference's loss and LoRA gradients (${format} base, B ≠ 0 so A gets gradients too)`, () => gradientCheck(format))

    if (format === "f16") {
      it("with LoRA dropout 0.1: the reference's loss and LoRA gradients under the same masks (PEFT: dropout on the LoRA input only)", async () => {
        const p = 0.1
        const dropoutSeed = 4242
        const { trainer, free } = await trainerFor(format, {}, { ...lora, dropout: p })
        const pairs = await trainer.readPairs()
        let seed = 300
        for (const pair of pairs.values()) pair.b.set(random(pair.b.length, seed++, 0.05))
        trainer.writePairs(pairs)
        const { loss } = await trainer.gradients([{ ids: flatIds, targets, dropoutSeed }])
        const grads = await trainer.readPairs("grads")
        free()
        const masks = (layer: number, module: Parameters<typeof loraDropoutSite>[1], [rows, cols]: readonly [number, number]) =>
          tf.tensor2d(dropoutMask(dropoutSeed, loraDropoutSite(layer, module), rows * cols, p), [rows, cols])
        const want = await referenceGradients(format, pairs, p, masks)
        assert.ok(Math.abs(loss - want.loss) < 1e-2, `loss ${loss} vs reference ${want.loss}`)
        const { worst, where } = worstError(grads, want.grads)
        assert.ok(worst < 3e-2, `worst LoRA gradient relative error ${worst} (${where})`)
        // the masks matter: without them the gradients are far from these
        const undropped = await referenceGradients(format, pairs, 0)
        assert.ok(worstError(grads, undropped.grads).worst > 0.1, "the dropout gradients equal the undropped ones")
      })

      it("accumulates gradients over micro-batches: two rows one at a time give the gradients of both at once", async () => {
        const long = 128
        const rows = [0, 1].map((r) => Array.from({ length: long }, (_, i) => (i * (37 + 54 * r) + 3 + 2 * r) % 512))
        const batchOf = (rs: Array<Array<number>>) => ({
          ids: Uint32Array.from(rs.flat()),
          targets: Uint32Array.from(rs.flatMap((row) => row.map((_, j) => (j + 1 < long ? row[j + 1]! : 0xffffffff))))
        })
        const weights = uploadQwen3Weights(gpu, shape, "f16", (name) => host.get(name)!.values, true)
        const both = await Qwen3LoraTrainer.create(gpu, shape, weights, lora, 2, long, { seed: 3 })
        const one = await Qwen3LoraTrainer.create(gpu, shape, weights, lora, 1, long, { seed: 3 })
        const pairs = await both.readPairs()
        let seed = 500
        for (const pair of pairs.values()) pair.b.set(random(pair.b.length, seed++, 0.05))
        both.writePairs(pairs)
        one.writePairs(pairs)
        const a = await both.gradients([batchOf(rows)])
        const b = await one.gradients([batchOf([rows[0]!]), batchOf([rows[1]!])])
        const [ga, gb] = [await both.readPairs("grads"), await one.readPairs("grads")]
        both.dispose()
        one.dispose()
        for (const buf of weightBuffers(weights)) buf.destroy()
        assert.ok(Math.abs(a.loss - b.loss) < 1e-4, `loss ${a.loss} vs ${b.loss}`)
        let worst = 0
        for (const [path, g] of ga) worst = Math.max(worst, relErr(gb.get(path)!.a, g.a), relErr(gb.get(path)!.b, g.b))
        assert.ok(worst < 1e-3, `worst relative difference ${worst}`)
      })
    }

    it(`brings the loss down over steps on one batch (${format} base${format === "nf4" ? ": QLoRA" : ""})`, async () => {
      const { trainer, free } = await trainerFor(format, { learningRate: 1e-2 })
      const losses: Array<number> = []
      for (let s = 0; s < 12; s++) losses.push((await trainer.trainStep([{ ids: flatIds, targets }])).loss)
      free()
      assert.ok(losses.every(Number.isFinite), `losses ${losses}`)
      assert.ok(losses.at(-1)! < losses[0]! - 0.1, `loss ${losses[0]} → ${losses.at(-1)}`)
    })
  }

  // the choices besides the defaults: the f32 attention backward (the tensor-core one is the default
  // where it runs) and the lm_head's dX as one product or in 3 ranges (the default here: 8)
  for (const [what, options] of [["the f32 attention backward", { attentionBackward: "f32" }], ["the lm_head's dX as one product", { headSplitK: 0 }], ["the lm_head's dX in 3 split-K ranges", { headSplitK: 3 }]] as const) {
    it(`gives the reference's loss and LoRA gradients with ${what} (f16 base)`, () => gradientCheck("f16", options))
  }
})
