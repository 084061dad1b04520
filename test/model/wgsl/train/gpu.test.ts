import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, describe, it } from "node:test"
import { selectBackend, webgpuEngineGpu, webgpuEngineUnavailable } from "../../../../model/tfjs/backend.ts"
import { roundF16 } from "../../../../model/wgsl/kernels/buffers.ts"
import { attachLora, defaultLoraConfig } from "../../../../model/qwen3/lora.ts"
import { parseQwen3Config } from "../../../../model/qwen3/config.ts"
import { expectedShapes, Qwen3Model } from "../../../../model/tfjs/qwen3-model.ts"
import { trainOnEngine } from "../../../../model/train/engine-train.ts"
import { defaultTrainOptions, type StepReport, train, type TrainOptions } from "../../../../model/train/trainer.ts"
import { needs } from "../../../helpers/gpu.ts"
import { random } from "../../../helpers/numeric.ts"
import { dequantizeNf4, quantizeNf4 } from "../../../../model/formats/nf4.ts"

// trainOnEngine (the WGSL trainer) against train() (tfjs autodiff) from the same start on a tiny
// 128-aligned random Qwen3 (base weights rounded to f16, as the trainer holds them; dropout 0; then dropout 0.1 on the WGSL path):
// per-step losses and gradient norms, resume from a WGSL checkpoint on both paths; the same for
// full-parameter training (DAPT, model/wgsl/qwen3-full-trainer.ts). Needs a WebGPU
// device with tensor cores (skips elsewhere, saying why).
process.env.XDG_RUNTIME_DIR ??= "/tmp" // the Vulkan loader warns without it
let skip: string | false
try {
  await selectBackend("webgpu", "training")
  const gpu = webgpuEngineGpu()
  skip = gpu ? needs(gpu, "tensor-cores") : (webgpuEngineUnavailable() ?? "no WebGPU device for the WGSL trainer")
} catch (e) {
  skip = e instanceof Error ? e.message : String(e)
}

/** The engine's smallest aligned Qwen3 shape (widths multiples of 128, head_dim 64): both tests' model. */
const config = parseQwen3Config({
  model_type: "qwen3", vocab_size: 512, hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4,
  num_key_value_heads: 2, head_dim: 64, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 256, tie_word_embeddings: true
})

describe("trainOnEngine against train()", { skip }, () => {
  const work = mkdtempSync(join(tmpdir(), "fleuve-train-engine-gpu-"))
  after(() => rmSync(work, { recursive: true, force: true }))

  it("gives train()'s losses step by step, and resumes from its own checkpoints on either path", async () => {
    const gpu = webgpuEngineGpu()!
    const model = new Qwen3Model(config, new Map([...expectedShapes(config)].map(([name, s], i) => {
      const n = s.reduce((a, b) => a * b, 1)
      const values = name.includes("norm") ? random(n, 50 + i, 0.2).map((v) => 1 + v) : roundF16(random(n, 100 + i, 0.08))
      return [name, tf.tensor(values, [...s])] as const
    })))
    const lora = { ...defaultLoraConfig, dropout: 0 }
    const mode = { kind: "lora" as const, lora, baseModel: "random-tiny" }
    // width 60: padded to 64 columns; prompt/answer masks of different lengths (the mean of micro-batch means matters)
    const width = 60
    const data = Array.from({ length: 8 }, (_, s) => ({
      ids: Array.from({ length: width }, (_, i) => (i * (37 + 6 * s) + 11 * s + 3) % 512),
      targetMask: Array.from({ length: width }, (_, i): number => (i >= 10 + 4 * s ? 1 : 0))
    }))
    const options = (dir: string, more: Partial<TrainOptions> = {}): TrainOptions =>
      ({ ...defaultTrainOptions, totalSteps: 3, microBatch: 2, gradAccumulation: 2, peakLr: 5e-3, warmupRatio: 0, checkpointEvery: 1, outDir: join(work, dir), ...more })
    const reports = () => {
      const got: Array<StepReport> = []
      return { got, onStep: (r: StepReport) => void got.push(r) }
    }

    attachLora(model, lora, 5)
    const e = reports()
    const engine = await trainOnEngine(model, mode, data, options("wgsl"), e.onStep, { gpu })
    attachLora(model, lora, 5)
    const t = reports()
    const tfjs = await train(model, mode, data, options("tfjs"), t.onStep)
    assert.equal(engine.losses.length, 3)
    for (let i = 0; i < 3; i++) {
      assert.ok(Math.abs(engine.losses[i]! - tfjs.losses[i]!) < 2e-2, `step ${i + 1}: WGSL loss ${engine.losses[i]} vs tfjs ${tfjs.losses[i]}`)
      const [ge, gt] = [e.got[i]!.gradNorm, t.got[i]!.gradNorm]
      assert.ok(Math.abs(ge - gt) < 5e-2 * gt, `step ${i + 1}: WGSL grad-norm ${ge} vs tfjs ${gt}`)
      assert.equal(e.got[i]!.lr, t.got[i]!.lr)
    }
    assert.ok(existsSync(join(work, "wgsl", "final", "adapter_model.safetensors")))

    // interrupted after 2 steps, resumed on the WGSL path: the third step as the uninterrupted run
    attachLora(model, lora, 5)
    const firstTwo = await trainOnEngine(model, mode, data, options("resume", { stopAfter: 2 }), () => {}, { gpu })
    assert.equal(firstTwo.losses.length, 2)
    cpSync(join(work, "resume"), join(work, "resume-tfjs"), { recursive: true })
    attachLora(model, lora, 5)
    const rest = await trainOnEngine(model, mode, data, options("resume"), () => {}, { gpu })
    assert.equal(rest.resumedFrom, join(work, "resume", "checkpoint-000002"))
    assert.ok(Math.abs(rest.losses[2]! - engine.losses[2]!) < 1e-3, `resumed ${rest.losses[2]} vs ${engine.losses[2]}`)
    // ... and on the tfjs path, from the same WGSL checkpoint
    attachLora(model, lora, 5)
    const onTfjs = await train(model, mode, data, options("resume-tfjs"))
    assert.equal(onTfjs.resumedFrom, join(work, "resume-tfjs", "checkpoint-000002"))
    assert.ok(Math.abs(onTfjs.losses[2]! - tfjs.losses[2]!) < 2e-2, `tfjs resumed from WGSL ${onTfjs.losses[2]} vs tfjs ${tfjs.losses[2]}`)

    // LoRA dropout 0.1 (the masks are seeded per micro-batch): the same run twice gives the same
    // losses, a resumed run the uninterrupted one's, and the masks change the losses (a little)
    const dropped = { ...mode, lora: { ...lora, dropout: 0.1 } }
    const longer = (dir: string, more: Partial<TrainOptions> = {}) => options(dir, { totalSteps: 6, ...more })
    attachLora(model, dropped.lora, 5)
    const d1 = await trainOnEngine(model, dropped, data, longer("dropout-1"), () => {}, { gpu })
    attachLora(model, dropped.lora, 5)
    const d2 = await trainOnEngine(model, dropped, data, longer("dropout-2"), () => {}, { gpu })
    assert.deepEqual(d2.losses, d1.losses)
    attachLora(model, dropped.lora, 5)
    await trainOnEngine(model, dropped, data, longer("dropout-resume", { stopAfter: 3 }), () => {}, { gpu })
    attachLora(model, dropped.lora, 5)
    const resumed = await trainOnEngine(model, dropped, data, longer("dropout-resume"), () => {}, { gpu })
    assert.equal(resumed.resumedFrom, join(work, "dropout-resume", "checkpoint-000003"))
    for (let i = 3; i < 6; i++) assert.ok(Math.abs(resumed.losses[i]! - d1.losses[i]!) < 1e-4, `step ${i + 1}: resumed ${resumed.losses[i]} vs ${d1.losses[i]}`)
    attachLora(model, lora, 5)
    const undropped = await trainOnEngine(model, mode, data, longer("dropout-0"), () => {}, { gpu })
    // step 1 starts from B = 0, where dropout cannot change the loss; later steps differ
    assert.ok(d1.losses.slice(1).some((l, i) => Math.abs(l - undropped.losses[i + 1]!) > 1e-4), `dropout 0.1 ${d1.losses} vs 0 ${undropped.losses}`)
    // ... by little: a rate of 0.1 on the LoRA branch only
    assert.ok(d1.losses.every((l, i) => Number.isFinite(l) && Math.abs(l - undropped.losses[i]!) < 0.1 * undropped.losses[i]!), `dropout 0.1 ${d1.losses} vs 0 ${undropped.losses}`)
    model.dispose()
  })

  it("full-parameter training (DAPT): train()'s losses and gradient norms step by step, every weight trained, resumes on either path", async () => {
    const gpu = webgpuEngineGpu()!
    const start = new Map([...expectedShapes(config)].map(([name, s], i) => {
      const n = s.reduce((a, b) => a * b, 1)
      return [name, { shape: s, values: name.includes("norm") ? random(n, 50 + i, 0.2).map((v) => 1 + v) : roundF16(random(n, 100 + i, 0.08)) }] as const
    }))
    const vars = new Map([...start].map(([name, t]) => [name, tf.variable(tf.tensor(t.values, [...t.shape]))] as const))
    const model = new Qwen3Model(config, new Map(vars))
    const reset = () => {
      for (const [name, v] of vars) v.assign(tf.tensor(start.get(name)!.values, [...start.get(name)!.shape]))
    }
    const saved: Array<string> = []
    const mode = { kind: "full" as const, save: async (dir: string) => void saved.push(dir) }
    const width = 60
    const data = Array.from({ length: 8 }, (_, s) => ({ ids: Array.from({ length: width }, (_, i) => (i * (37 + 6 * s) + 11 * s + 3) % 512) }))
    const options = (dir: string, more: Partial<TrainOptions> = {}): TrainOptions =>
      ({ ...defaultTrainOptions, totalSteps: 3, microBatch: 2, gradAccumulation: 2, peakLr: 1e-3, warmupRatio: 0, checkpointEvery: 1, outDir: join(work, dir), ...more })
    const reports = () => {
      const got: Array<StepReport> = []
      return { got, onStep: (r: StepReport) => void got.push(r) }
    }
    reset()
    const e = reports()
    const engine = await trainOnEngine(model, mode, data, options("full-wgsl"), e.onStep, { gpu })
    const trained = new Map(await Promise.all([...vars].map(async ([n, v]) => [n, (await v.data()) as Float32Array] as const)))
    reset()
    const t = reports()
    const tfjs = await train(model, mode, data, options("full-tfjs"), t.onStep)
    console.log(`full-parameter losses: WGSL ${engine.losses.map((l) => l.toFixed(4)).join(" ")}; tfjs ${tfjs.losses.map((l) => l.toFixed(4)).join(" ")}`)
    for (let i = 0; i < 3; i++) {
      assert.ok(Math.abs(engine.losses[i]! - tfjs.losses[i]!) < 2e-2, `step ${i + 1}: WGSL loss ${engine.losses[i]} vs tfjs ${tfjs.losses[i]}`)
      const [ge, gt] = [e.got[i]!.gradNorm, t.got[i]!.gradNorm]
      assert.ok(Math.abs(ge - gt) < 5e-2 * gt, `step ${i + 1}: WGSL grad-norm ${ge} vs tfjs ${gt}`)
    }
    // every weight moved (embeddings, norms, projections), and the model's variables hold the trained masters
    for (const [name, values] of trained) assert.ok(values.some((x, i) => x !== start.get(name)!.values[i]), `${name} did not train`)
    assert.ok(existsSync(join(work, "full-wgsl", "final", "trainable.safetensors")) && existsSync(join(work, "full-wgsl", "final", "optimizer.safetensors")))
    assert.ok(saved.some((d) => d.startsWith(join(work, "full-wgsl", "final"))), "the model folder is saved with the checkpoint")

    // interrupted after 2 steps, resumed on the WGSL path, and on the tfjs path from the same checkpoint
    reset()
    await trainOnEngine(model, mode, data, options("full-resume", { stopAfter: 2 }), () => {}, { gpu })
    cpSync(join(work, "full-resume"), join(work, "full-resume-tfjs"), { recursive: true })
    reset()
    const rest = await trainOnEngine(model, mode, data, options("full-resume"), () => {}, { gpu })
    assert.equal(rest.resumedFrom, join(work, "full-resume", "checkpoint-000002"))
    assert.ok(Math.abs(rest.losses[2]! - engine.losses[2]!) < 1e-3, `resumed ${rest.losses[2]} vs ${engine.losses[2]}`)
    reset()
    const onTfjs = await train(model, mode, data, options("full-resume-tfjs"))
    assert.equal(onTfjs.resumedFrom, join(work, "full-resume-tfjs", "checkpoint-000002"))
    assert.ok(Math.abs(onTfjs.losses[2]! - tfjs.losses[2]!) < 2e-2, `tfjs resumed from WGSL ${onTfjs.losses[2]} vs tfjs ${tfjs.losses[2]}`)
    model.dispose()
  })

  it("trains over an NF4 base (QLoRA: baseFormat nf4, fleuve train lora --nf4) as train() does over that base dequantised", async () => {
    const gpu = webgpuEngineGpu()!
    // projections already on NF4's grid (quantising them again at upload gives the same codes), the embedding f16
    const model = new Qwen3Model(config, new Map([...expectedShapes(config)].map(([name, s], i) => {
      const n = s.reduce((a, b) => a * b, 1)
      const raw = random(n, 300 + i, 0.08)
      const values = name.includes("norm") ? random(n, 50 + i, 0.2).map((v) => 1 + v) : name.includes("_proj") ? dequantizeNf4(quantizeNf4(raw, [...s])) : roundF16(raw)
      return [name, tf.tensor(values, [...s])] as const
    })))
    const lora = { ...defaultLoraConfig, dropout: 0 }
    const mode = { kind: "lora" as const, lora, baseModel: "random-tiny-nf4" }
    const data = Array.from({ length: 4 }, (_, s) => ({
      ids: Array.from({ length: 64 }, (_, i) => (i * (29 + 4 * s) + 7 * s + 1) % 512),
      targetMask: Array.from({ length: 64 }, (_, i): number => (i >= 8 ? 1 : 0))
    }))
    const options: TrainOptions = { ...defaultTrainOptions, totalSteps: 3, microBatch: 2, gradAccumulation: 2, peakLr: 5e-3, warmupRatio: 0, checkpointEvery: 0, outDir: "" }
    attachLora(model, lora, 9)
    const nf4 = await trainOnEngine(model, mode, data, { ...options, outDir: join(work, "nf4") }, () => {}, { gpu, baseFormat: "nf4" })
    attachLora(model, lora, 9)
    const tfjs = await train(model, mode, data, { ...options, outDir: join(work, "nf4-tfjs") }, () => {})
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(nf4.losses[i]! - tfjs.losses[i]!) < 2e-2, `step ${i + 1}: QLoRA loss ${nf4.losses[i]} vs tfjs over the dequantised base ${tfjs.losses[i]}`)
    assert.ok(nf4.losses[2]! < nf4.losses[0]!, `losses ${nf4.losses}`)
    model.dispose()
  })
})
