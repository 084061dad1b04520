import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { selectBackend } from "../../../../model/tfjs/backend.ts"
import { attachLora, defaultLoraConfig } from "../../../../model/qwen3/lora.ts"
import { loadModelDir } from "../../../../model/qwen3/checkpoint.ts"
import { parseQwen3Config } from "../../../../model/qwen3/config.ts"
import { chooseTrainingPath, describeTrainingPath, TrainingEngineUnavailable, trainerShapeProblem, trainingPathFor, type TrainingPathFacts } from "../../../../model/train/engine-train.ts"
import { tinyDir } from "../../../helpers/model-fixture.ts"

// Which path `fleuve train` takes, and the reason it prints when it passes over the WGSL trainer.
const fits: TrainingPathFacts = { mode: "lora", gpuUnavailable: undefined, shapeProblem: undefined }

describe("training path choice", () => {
  it("auto takes the WGSL trainer for LoRA (dropout included) on a tensor-core device and a shape that fits", () => {
    assert.deepEqual(chooseTrainingPath("auto", fits), { _tag: "Wgsl" })
    assert.deepEqual(chooseTrainingPath("wgsl", fits), { _tag: "Wgsl" })
    assert.equal(describeTrainingPath({ _tag: "Wgsl" }), "training: fleuve WGSL trainer (f16 base, f32 LoRA and AdamW, tensor cores)")
    const cases: Array<[Partial<TrainingPathFacts>, string]> = [
      [{ mode: "full" }, "full fine-tuning: the WGSL trainer trains LoRA only"],
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
})
