import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, describe, it } from "node:test"
import { selectBackend } from "../../../../model/tfjs/backend.ts"
import { attachLora, defaultLoraConfig } from "../../../../model/qwen3/lora.ts"
import { loadModelDir } from "../../../../model/qwen3/checkpoint.ts"
import { engineResumeState, writeEngineCheckpoint } from "../../../../model/train/engine-train.ts"
import { defaultTrainOptions, readCheckpoint, train, type TrainOptions } from "../../../../model/train/trainer.ts"
import { tinyDir } from "../../../helpers/model-fixture.ts"

// The WGSL path's checkpoints are train()'s: a tfjs checkpoint read into the WGSL trainer's state
// and written back by the WGSL path's writer holds the same tensors, and train() resumed from that
// copy continues with the uninterrupted run's losses (tiny model, cpu backend; no GPU needed).
const tfTensor = (values: Float32Array, shape: ReadonlyArray<number>) => tf.tensor(values, [...shape])
const work = mkdtempSync(join(tmpdir(), "fleuve-train-engine-"))
after(() => rmSync(work, { recursive: true, force: true }))

describe("checkpoints shared by both training paths", () => {
  it("round-trips a checkpoint through the WGSL trainer's state, and train() resumes from the copy exactly", async () => {
    await selectBackend("cpu", "training")
    const lora = { ...defaultLoraConfig, r: 2, alpha: 4, dropout: 0, targetModules: ["q_proj" as const, "down_proj" as const] }
    const mode = { kind: "lora" as const, lora, baseModel: tinyDir }
    const data = Array.from({ length: 6 }, (_, s) => ({ ids: Array.from({ length: 12 }, (_, i) => (i * (11 + 7 * s) + 3 * s + 1) % 384) }))
    const options = (outDir: string, more: Partial<TrainOptions> = {}): TrainOptions =>
      ({ ...defaultTrainOptions, totalSteps: 3, microBatch: 1, gradAccumulation: 2, peakLr: 2e-2, warmupRatio: 0, checkpointEvery: 1, outDir, ...more })
    const fresh = () => {
      const loaded = loadModelDir(tinyDir)
      attachLora(loaded.model, lora, 42)
      return loaded.model
    }

    const whole = await train(fresh(), mode, data, options(join(work, "whole")))
    const first = await train(fresh(), mode, data, options(join(work, "tfjs"), { stopAfter: 1 }))
    assert.equal(first.losses.length, 1)
    const tfjsCheckpoint = readCheckpoint(join(work, "tfjs", "checkpoint-000001"), data.length, 42)

    // into the WGSL trainer's state and out through its writer
    const model = fresh()
    const paths = [...model.lora.keys()]
    const { pairs, optimizer } = engineResumeState(tfjsCheckpoint, paths, 1024)
    assert.ok(optimizer)
    assert.equal(optimizer.step, 1)
    assert.equal(optimizer.lossScale, 1024, "a tfjs checkpoint has no loss scale: the trainer's is kept")
    for (const [path, pair] of pairs) {
      model.lora.get(path)!.a.assign(tfTensor(pair.a, model.lora.get(path)!.a.shape))
      model.lora.get(path)!.b.assign(tfTensor(pair.b, model.lora.get(path)!.b.shape))
    }
    const copyDir = join(work, "wgsl", "checkpoint-000001")
    await writeEngineCheckpoint(copyDir, { model, mode, pairs, optimizer: { ...optimizer, lossScale: 256 }, run: tfjsCheckpoint.state, options: options(join(work, "wgsl")) })
    const copy = readCheckpoint(copyDir, data.length, 42)
    assert.equal(copy.state.lossScale, 256)
    assert.equal(copy.state.step, 1)
    assert.deepEqual(copy.state.losses, tfjsCheckpoint.state.losses)
    for (const [which, a, b] of [["trainable", tfjsCheckpoint.trainable, copy.trainable], ["optimizer", tfjsCheckpoint.optimizer, copy.optimizer]] as const) {
      assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort(), which)
      for (const [name, t] of a) {
        assert.deepEqual(b.get(name)!.shape, t.shape, `${which} ${name}`)
        assert.deepEqual([...b.get(name)!.data], [...t.data], `${which} ${name}`)
      }
    }
    assert.ok(existsSync(join(copyDir, "adapter_model.safetensors")))
    assert.deepEqual(JSON.parse(readFileSync(join(copyDir, "adapter_config.json"), "utf8")).target_modules, ["q_proj", "down_proj"])
    // the WGSL round trip also reads back what it wrote
    const again = engineResumeState(copy, paths, 1024)
    assert.equal(again.optimizer?.lossScale, 256)
    for (const [path, pair] of pairs) assert.deepEqual([...again.pairs.get(path)!.b], [...pair.b])

    const resumed = await train(fresh(), mode, data, options(join(work, "wgsl")))
    assert.equal(resumed.resumedFrom, copyDir)
    assert.equal(resumed.losses.length, 3)
    for (let i = 0; i < 3; i++) assert.ok(Math.abs(resumed.losses[i]! - whole.losses[i]!) < 1e-5, `step ${i + 1}: ${resumed.losses[i]} vs ${whole.losses[i]}`)
  })
})
