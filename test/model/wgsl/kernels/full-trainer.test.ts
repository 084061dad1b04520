import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { random, relErr } from "../../../helpers/numeric.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { selectBackend } from "../../../../model/tfjs/backend.ts"
import { engineShape } from "../../../../model/wgsl/qwen3-engine.ts"
import { fullParameterShapes, Qwen3FullTrainer, type FullTrainerOptions } from "../../../../model/wgsl/qwen3-full-trainer.ts"
import { f16BitsToF32, roundF16 } from "../../../../model/wgsl/kernels/buffers.ts"
import { parseQwen3Config } from "../../../../model/qwen3/config.ts"
import { expectedShapes, Qwen3Model } from "../../../../model/tfjs/qwen3-model.ts"
import { causalLmLoss } from "../../../../model/train/loss.ts"

// Full-parameter training (DAPT) on fleuve's WGSL kernels against tfjs autodiff of the reference
// model (f32 CPU kernels, fed the weights as the GPU computes with them: f16-rounded matrices and
// embeddings, f32 norms): the loss and the gradient of every parameter of a batch — embeddings
// (tied: head + lookup), each projection, each RMSNorm and q/k-norm weight, the final norm — then
// the loss going down over steps, the f16 copies following the f32 masters, and a resume from the
// read-back state continuing exactly.
const opened = await openTestGpu()
const skip = "gpu" in opened ? needs(opened.gpu, "tensor-cores") : opened.skip

describe("WGSL full-parameter trainer", { skip }, () => {
  if (!("gpu" in opened)) return
  const gpu = opened.gpu
  after(() => gpu.close())
  const configOf = (tied: boolean) => parseQwen3Config({
    model_type: "qwen3", vocab_size: 512, hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, head_dim: 64, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 256, tie_word_embeddings: tied
  })
  const hostFor = (tied: boolean) => new Map([...expectedShapes(configOf(tied))].map(([name, s], i) => {
    const n = s.reduce((a, b) => a * b, 1)
    return [name, { shape: s, values: name.includes("norm") ? random(n, 50 + i, 0.2).map((v) => 1 + v) : random(n, 100 + i, 0.08) }] as const
  }))
  const [batch, seq] = [2, 64]
  const ids = [Array.from({ length: seq }, (_, i) => (i * 37 + 3) % 512), Array.from({ length: seq }, (_, i) => (i * 91 + 5) % 512)]
  const flatIds = Uint32Array.from(ids.flat())
  const targets = Uint32Array.from(ids.flatMap((row) => row.map((_, j) => (j + 1 < seq ? row[j + 1]! : 0xffffffff))))
  const asHeld = (name: string, values: Float32Array) => (name.includes("norm") ? values : roundF16(values))

  const trainerFor = (tied: boolean, options: FullTrainerOptions = {}) => {
    const host = hostFor(tied)
    return Qwen3FullTrainer.create(gpu, engineShape(configOf(tied)), (name) => host.get(name)!.values, tied, batch, seq, { seed: 7, ...options })
  }

  /** tfjs autodiff of the reference model (CPU): the loss and every parameter's gradient. */
  const referenceGradients = async (tied: boolean) => {
    await selectBackend("cpu")
    const host = hostFor(tied)
    const vars = new Map([...host].map(([n, t]) => [n, tf.variable(tf.tensor(asHeld(n, t.values), [...t.shape]))] as const))
    const model = new Qwen3Model(configOf(tied), new Map(vars))
    const { value, grads } = tf.variableGrads(() => causalLmLoss(model, ids), [...vars.values()])
    const loss = (await value.data())[0]!
    const out = new Map<string, Float32Array>()
    for (const [name, v] of vars) out.set(name, (await grads[v.name]!.data()) as Float32Array)
    for (const v of vars.values()) v.dispose()
    return { loss, grads: out }
  }

  for (const [tied, weightGradients] of [[true, "tensor-cores"], [true, "general"], [false, "tensor-cores"]] as const) {
    it(`gives the reference's loss and the gradient of every parameter (${tied ? "tied" : "untied"} embeddings, dW on ${weightGradients})`, async () => {
      const trainer = await trainerFor(tied, { weightGradients })
      const { loss } = await trainer.gradients([{ ids: flatIds, targets }])
      const grads = await trainer.readParameters("grads")
      trainer.dispose()
      const want = await referenceGradients(tied)
      assert.deepEqual([...grads.keys()].sort(), [...want.grads.keys()].sort(), "the trained parameters are the model's")
      assert.equal(grads.size, fullParameterShapes(engineShape(configOf(tied)), tied).length)
      assert.ok(Math.abs(loss - want.loss) < 1e-2, `loss ${loss} vs reference ${want.loss}`)
      const errors = [...grads].map(([name, g]) => [name, relErr(g, want.grads.get(name)!)] as const).sort((a, b) => b[1] - a[1])
      console.log(`worst gradient errors (${tied ? "tied" : "untied"}, ${weightGradients}): ${errors.slice(0, 4).map(([n, e]) => `${n} ${e.toExponential(2)}`).join(", ")}`)
      assert.ok(errors[0]![1] < 3e-2, `worst gradient relative error ${errors[0]![1]} (${errors[0]![0]})`)
    })
  }

  it("brings the loss down over steps; the f16 copies follow the f32 masters", async () => {
    const trainer = await trainerFor(true, { learningRate: 1e-3 })
    const losses: Array<number> = []
    for (let s = 0; s < 10; s++) losses.push((await trainer.trainStep([{ ids: flatIds, targets }])).loss)
    const name = "model.layers.1.mlp.down_proj.weight"
    const master = (await trainer.readParameters()).get(name)!
    const copy = Float32Array.from(await trainer.readCopy(name), f16BitsToF32)
    trainer.dispose()
    console.log(`full-parameter losses: ${losses.map((l) => l.toFixed(3)).join(" ")}`)
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`)
    assert.ok(losses.at(-1)! < losses[0]! - 0.5, `loss ${losses[0]} → ${losses.at(-1)}`)
    assert.ok(relErr(copy, roundF16(master)) < 1e-3, "the f16 copy is the rounded master")
  })

  it("resumes: parameters and AdamW state read back and written into a fresh trainer continue as the first", async () => {
    const a = await trainerFor(true, { learningRate: 1e-3 })
    for (let s = 0; s < 2; s++) await a.trainStep([{ ids: flatIds, targets }])
    const b = await trainerFor(true, { learningRate: 1e-3 })
    b.writeParameters(await a.readParameters())
    b.writeState(await a.readState())
    const [ra, rb] = [await a.trainStep([{ ids: flatIds, targets }]), await b.trainStep([{ ids: flatIds, targets }])]
    const [pa, pb] = [await a.readParameters(), await b.readParameters()]
    assert.equal(a.steps, b.steps)
    a.dispose()
    b.dispose()
    // the fresh trainer's f16 copies are rounded on the host, the first's on the GPU: equal where both round to nearest
    assert.ok(Math.abs(ra.loss - rb.loss) < 1e-5, `loss ${ra.loss} vs resumed ${rb.loss}`)
    let worst = 0
    for (const [name, v] of pa) worst = Math.max(worst, relErr(pb.get(name)!, v))
    assert.ok(worst < 1e-5, `parameters after the resumed step differ by ${worst}`)
  })
})
