import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { selectBackend } from "../../../../model/tfjs/backend.ts"
import { attachLora, defaultLoraConfig } from "../../../../model/qwen3/lora.ts"
import { loadModelDir } from "../../../../model/qwen3/checkpoint.ts"
import { parseQwen3Config } from "../../../../model/qwen3/config.ts"
import { chooseTrainingPath, describeTrainingPath, fitFullTraining, TrainingEngineUnavailable, trainerShapeProblem, trainingPathFor, type TrainingPathFacts } from "../../../../model/train/engine-train.ts"
import { defaultTrainOptions } from "../../../../model/train/trainer.ts"
import { engineShape } from "../../../../model/wgsl/qwen3-engine.ts"
import { fullParameterShapes, fullTrainerBytes } from "../../../../model/wgsl/qwen3-full-trainer.ts"
import { tinyDir } from "../../../helpers/model-fixture.ts"

// Which path `fleuve train` takes, and the reason it prints when it passes over the WGSL trainer.
const fits: TrainingPathFacts = { mode: "lora", gpuUnavailable: undefined, shapeProblem: undefined }

describe("training path choice", () => {
  it("auto takes the WGSL trainer for LoRA (dropout included) on a tensor-core device and a shape that fits", () => {
    assert.deepEqual(chooseTrainingPath("auto", fits), { _tag: "Wgsl" })
    assert.deepEqual(chooseTrainingPath("wgsl", fits), { _tag: "Wgsl" })
    assert.equal(describeTrainingPath({ _tag: "Wgsl" }), "training: fleuve WGSL trainer (f16 base, f32 LoRA and AdamW, tensor cores)")
    // full-parameter training (DAPT) too, saying what trains
    assert.deepEqual(chooseTrainingPath("auto", { ...fits, mode: "full" }), { _tag: "Wgsl" })
    assert.equal(describeTrainingPath({ _tag: "Wgsl" }, "f16", "full"), "training: fleuve WGSL trainer (full parameters, embeddings included: f32 weights and AdamW, f16 compute copies, tensor cores)")
    const cases: Array<[Partial<TrainingPathFacts>, string]> = [
      [{ mode: "full", gpuUnavailable: "the tensor backend is cpu, not webgpu" }, "the tensor backend is cpu, not webgpu"],
      [{ gpuUnavailable: "the tensor backend is cpu, not webgpu" }, "the tensor backend is cpu, not webgpu"],
      [{ shapeProblem: "the WGSL engine needs multiples of 128: hidden_size = 64" }, "the WGSL engine needs multiples of 128: hidden_size = 64"]
    ]
    for (const [change, reason] of cases) {
      const facts = { ...fits, ...change }
      assert.deepEqual(chooseTrainingPath("auto", facts), { _tag: "Tfjs", reason })
      assert.equal(describeTrainingPath(chooseTrainingPath("auto", facts)), `training: tfjs runtime (${reason})`)
      assert.throws(() => chooseTrainingPath("wgsl", facts), (e: unknown) => e instanceof TrainingEngineUnavailable && e.message === `the WGSL trainer was required (--engine wgsl) but cannot run: ${reason}`)
    }
    // the first reason that applies is the one printed: no device before the shape
    assert.deepEqual(chooseTrainingPath("auto", { ...fits, gpuUnavailable: "no GPU", shapeProblem: "hidden_size = 64" }), { _tag: "Tfjs", reason: "no GPU" })
    assert.deepEqual(chooseTrainingPath("tfjs", fits), { _tag: "Tfjs", reason: "asked for (--engine tfjs)" })
  })

  it("names the sizes that do not fit the trainer's kernels", () => {
    const base = { model_type: "qwen3", vocab_size: 512, hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 64 }
    assert.equal(trainerShapeProblem(parseQwen3Config(base), undefined), undefined)
    assert.match(trainerShapeProblem(parseQwen3Config({ ...base, hidden_size: 192 }), undefined) ?? "", /multiples of 128: hidden_size = 192/)
  })

  it("on the cpu backend, the tiny model goes to tfjs saying why, and --engine wgsl refuses", async () => {
    await selectBackend("cpu", "training")
    const loaded = loadModelDir(tinyDir)
    const lora = { ...defaultLoraConfig, r: 2, alpha: 4, dropout: 0, targetModules: ["q_proj" as const] }
    attachLora(loaded.model, lora, 1)
    const mode = { kind: "lora" as const, lora, baseModel: tinyDir }
    const { path, gpu } = trainingPathFor("auto", loaded.model, mode)
    assert.equal(gpu, undefined)
    assert.deepEqual(path, { _tag: "Tfjs", reason: "the tensor backend is cpu, not webgpu" })
    assert.throws(() => trainingPathFor("wgsl", loaded.model, mode), /--engine wgsl\) but cannot run: the tensor backend is cpu, not webgpu/)
    loaded.model.dispose()
  })

  it("full-parameter training: the memory estimate counts 16 bytes a parameter + the f16 copies; a micro-batch that does not fit halves, one that never fits is refused saying why", async () => {
    const qwen06 = parseQwen3Config({ model_type: "qwen3", vocab_size: 151936, hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: 28, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, tie_word_embeddings: true })
    const shape = engineShape(qwen06)
    const params = fullParameterShapes(shape, true).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0)
    assert.equal(params, 596049920) // Qwen3-0.6B's parameter count (tied embeddings)
    const small = fullTrainerBytes(shape, true, 1, 1024)
    const big = fullTrainerBytes(shape, true, 16, 1024)
    assert.ok(small > params * 16 && small < params * 18 + 4e9, `${small} bytes at 1 × 1024`)
    // the activations and kept tensors of one more sequence of 1024 (the LoRA trainer measured ~1.7 GB on the H100)
    assert.ok((big - small) / 15 > 1.2e9 && (big - small) / 15 < 2.5e9, `${(big - small) / 15} bytes a sequence`)
    const options = { ...defaultTrainOptions, microBatch: 16, gradAccumulation: 1, totalSteps: 1, outDir: "" }
    const need = (l: { rows: number; seq: number }) => fullTrainerBytes(shape, true, l.rows, l.seq)
    // room for 4 sequences a micro-batch: 16 → 8 → 4, each halving said
    const notes: Array<string> = []
    const fitted = await fitFullTraining(need, async (wanted) => Math.min(wanted, need({ rows: 4, seq: 1024 })), options, 1024, (l) => notes.push(l))
    assert.deepEqual([fitted.options.microBatch, fitted.options.gradAccumulation, fitted.layout.rows], [4, 4, 4])
    assert.equal(notes.length, 2)
    assert.match(notes[0]!, /micro-batch 16 × 1024 tokens needs about [\d.]+ GB, [\d.]+ GB free; 8 × 2 accumulation instead/)
    // not even one sequence: refused with the numbers and what to do instead
    await assert.rejects(fitFullTraining(need, async () => 4e9, options, 1024), (e: unknown) =>
      e instanceof TrainingEngineUnavailable && /needs about 1\d\.\d GB of GPU memory at micro-batch 1 × 1024 tokens .* and 4\.0 GB can be allocated: train LoRA/.test(e.message))
  })

  it("full-parameter training refuses an f32 embedding larger than one binding", () => {
    const base = { model_type: "qwen3", vocab_size: 512, hidden_size: 256, intermediate_size: 512, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 64 }
    const gpu = { maxStorageBufferBindingSize: 512 * 256 * 3 } as Parameters<typeof trainerShapeProblem>[1]
    assert.equal(trainerShapeProblem(parseQwen3Config(base), gpu, "lora"), undefined)
    assert.match(trainerShapeProblem(parseQwen3Config(base), gpu, "full") ?? "", /an f32 embedding of 512 × 256 exceeds one storage binding/)
  })
})
