// LoRA and full fine-tuning on the tiny Qwen3: gradients against finite differences, a loss that
// decreases on the sample corpus, exact resume after an interruption, PEFT's adapter layout.
import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { attachLora, loadAdapter, saveAdapter } from "../../model/qwen3/lora.ts"
import { loadModelDir } from "../../model/qwen3/checkpoint.ts"
import { readSafetensors } from "../../model/formats/safetensors.ts"
import { scoreContinuations } from "../../model/runtime/scoring.ts"
import { ensureGradients } from "../../model/tfjs/gradients.ts"
import { causalLmLoss } from "../../model/train/loss.ts"
import { cosineWithWarmup } from "../../model/train/schedule.ts"
import { defaultTrainOptions, sumOfSquares, train, type TrainingSequence } from "../../model/train/trainer.ts"
import { packTokens } from "../../model/train/pack.ts"
import { tinyDir } from "../helpers/model-fixture.ts"

const work = mkdtempSync(join(tmpdir(), "fleuve-train-"))
const lora = { r: 4, alpha: 8, dropout: 0.05, targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const }

const corpus = (): Array<TrainingSequence> => {
  const { tokenizer } = loadModelDir(tinyDir)
  const docs = readFileSync(join(tinyDir, "corpus.txt"), "utf8").split("\n").filter((l) => l.length > 0)
  return packTokens(docs.map((d) => tokenizer.encode(d)), 16, tokenizer.eosId ?? 0).map((ids) => ({ ids }))
}

before(async () => {
  await selectBackend("cpu")
  await ensureGradients()
})
after(() => rmSync(work, { recursive: true, force: true }))

describe("training pieces", () => {
  it("sums the squared norms of hundreds of gradients (the clip norm) exactly", async () => {
    const grads = Array.from({ length: 400 }, (_, i) => tf.tensor1d([i, -1, 0.5]))
    const got = (await sumOfSquares(grads).data())[0]!
    const want = Array.from({ length: 400 }, (_, i) => i * i + 1.25).reduce((a, b) => a + b, 0)
    assert.ok(Math.abs(got - want) / want < 1e-6, `${got} vs ${want}`)
    tf.dispose(grads)
  })

  it("follows transformers' cosine schedule with linear warmup", () => {
    // total 100, warmup ceil(3) = 3: 0, 1/3, 2/3 of the peak, then the cosine from the peak.
    assert.equal(cosineWithWarmup(0, 100, 2e-4, 0.03), 0)
    assert.ok(Math.abs(cosineWithWarmup(1, 100, 2e-4, 0.03) - 2e-4 / 3) < 1e-12)
    assert.equal(cosineWithWarmup(3, 100, 2e-4, 0.03), 2e-4)
    assert.ok(Math.abs(cosineWithWarmup(3 + 97 / 2, 100, 2e-4, 0.03) - 1e-4) < 1e-12)
    assert.ok(cosineWithWarmup(99, 100, 2e-4, 0.03) < 1e-6)
  })

  it("computes LoRA gradients that agree with finite differences", () => {
    const { model, tokenizer } = loadModelDir(tinyDir)
    attachLora(model, { ...lora, dropout: 0 }, 3)
    // B starts at zero in PEFT; give it values so that A's gradient is not zero too.
    for (const pair of model.lora.values()) pair.b.assign(tf.randomNormal(pair.b.shape, 0, 0.5, "float32", 11))
    const ids = [tokenizer.encode("Le patient présente une fièvre persistante depuis trois jours.").slice(0, 14)]
    const lossValue = () => tf.tidy(() => causalLmLoss(model, ids).dataSync()[0]!)
    const probes = [["model.layers.0.self_attn.q_proj", "a"], ["model.layers.1.mlp.down_proj", "b"], ["model.layers.1.self_attn.v_proj", "a"], ["model.layers.0.mlp.up_proj", "b"]] as const
    const vars = probes.map(([path, which]) => model.lora.get(path)![which])
    const { grads } = tf.variableGrads(() => causalLmLoss(model, ids), vars)
    const eps = 1e-2
    let checked = 0
    for (const v of vars) {
      const g = grads[v.name]!.dataSync()
      const base = v.dataSync().slice()
      for (const idx of [0, 5, base.length - 1]) {
        const at = (delta: number) => {
          const p = base.slice()
          p[idx] = p[idx]! + delta
          v.assign(tf.tensor(p, v.shape))
          return lossValue()
        }
        const numeric = (at(eps) - at(-eps)) / (2 * eps)
        v.assign(tf.tensor(base, v.shape))
        assert.ok(Math.abs(numeric - g[idx]!) < 2e-3 + 0.03 * Math.abs(numeric), `${v.name}[${idx}]: analytic ${g[idx]} vs numeric ${numeric}`)
        checked++
      }
    }
    assert.equal(checked, 12)
    model.dispose()
  })
})

const trainOptions = { ...defaultTrainOptions, microBatch: 2, gradAccumulation: 2, peakLr: 1e-2, warmupRatio: 0.1, seed: 5 }

describe("LoRA training", () => {
  it("lowers the loss on the sample corpus and saves a PEFT adapter", async () => {
    const data = corpus()
    const { model } = loadModelDir(tinyDir)
    attachLora(model, lora, 1)
    const out = join(work, "lora")
    const reports: Array<number> = []
    const { losses } = await train(model, { kind: "lora", lora, baseModel: "qwen3-tiny" }, data, { ...trainOptions, totalSteps: 14, checkpointEvery: 0, outDir: out }, (r) => reports.push(r.tokensPerSecond))
    assert.equal(losses.length, 14)
    const firstTwo = (losses[0]! + losses[1]!) / 2
    const lastTwo = (losses[12]! + losses[13]!) / 2
    assert.ok(lastTwo < firstTwo - 0.3, `loss went from ${firstTwo} to ${lastTwo}`)
    assert.ok(reports.every((r) => r > 0))
    // The adapter: what PEFT's LoraModel.from_pretrained reads.
    const dir = join(out, "final")
    const config = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"))
    assert.equal(config.peft_type, "LORA")
    assert.equal(config.task_type, "CAUSAL_LM")
    assert.equal(config.r, 4)
    assert.equal(config.lora_alpha, 8)
    assert.deepEqual(config.target_modules, [...lora.targetModules])
    const { tensors } = readSafetensors(join(dir, "adapter_model.safetensors"))
    assert.equal(tensors.size, 2 * 7 * 2)
    const a = tensors.get("base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight")!
    const b = tensors.get("base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight")!
    assert.deepEqual(a.shape, [4, 64])
    assert.deepEqual(b.shape, [48, 4])
    assert.ok(b.data.some((x) => x !== 0), "B was trained away from zero")
    // Loaded back onto a fresh base model, the adapter scores exactly as the trained model does.
    const fresh = loadModelDir(tinyDir)
    loadAdapter(fresh.model, dir)
    const ctx = "Le patient présente une fièvre "
    const x = await scoreContinuations(model, fresh.tokenizer, ctx, ["persistante"])
    const y = await scoreContinuations(fresh.model, fresh.tokenizer, ctx, ["persistante"])
    assert.deepEqual(y.options[0]!.tokenLogprobs, x.options[0]!.tokenLogprobs)
    const base = loadModelDir(tinyDir)
    const z = await scoreContinuations(base.model, base.tokenizer, ctx, ["persistante"])
    assert.notDeepEqual(z.options[0]!.tokenLogprobs, x.options[0]!.tokenLogprobs)
    for (const m of [model, fresh.model, base.model]) m.dispose()
  })

  it("resumes an interrupted run with the identical loss curve", async () => {
    const data = corpus()
    const run = async (outDir: string, stopAfter?: number) => {
      const { model } = loadModelDir(tinyDir)
      attachLora(model, lora, 1)
      const r = await train(model, { kind: "lora", lora, baseModel: "qwen3-tiny" }, data, { ...trainOptions, totalSteps: 6, checkpointEvery: 2, outDir, ...(stopAfter ? { stopAfter } : {}) })
      model.dispose()
      return r
    }
    const straight = await run(join(work, "straight"))
    const partial = await run(join(work, "interrupted"), 3) // dies after step 3; last checkpoint is step 2
    assert.equal(partial.losses.length, 3)
    const resumed = await run(join(work, "interrupted"))
    assert.ok(resumed.resumedFrom?.endsWith("checkpoint-000002"))
    assert.deepEqual(resumed.losses, straight.losses)
    assert.deepEqual(partial.losses, straight.losses.slice(0, 3))
  })
})

describe("full fine-tuning (DAPT)", () => {
  it("lowers the loss and saves a loadable checkpoint", async () => {
    const data = corpus()
    const loaded = loadModelDir(tinyDir, { trainable: true })
    const out = join(work, "dapt")
    const { saveModelDir } = await import("../../model/qwen3/checkpoint.ts")
    const { losses } = await train(loaded.model, { kind: "full", save: (dir) => saveModelDir(loaded, dir) }, data, { ...trainOptions, peakLr: 3e-3, totalSteps: 8, outDir: out })
    assert.ok((losses[6]! + losses[7]!) / 2 < (losses[0]! + losses[1]!) / 2 - 0.3, `losses ${losses.join(", ")}`)
    assert.ok(existsSync(join(out, "final", "model.safetensors")))
    const again = loadModelDir(join(out, "final"))
    assert.equal(again.model.params.size, loaded.model.params.size)
    again.model.dispose()
    loaded.model.dispose()
  })

  it("saves and loads a LoRA adapter unchanged", async () => {
    const { model } = loadModelDir(tinyDir)
    attachLora(model, lora, 9)
    const dir = join(work, "adapter-roundtrip")
    await saveAdapter(model, lora, dir, "qwen3-tiny")
    const other = loadModelDir(tinyDir)
    const cfg = loadAdapter(other.model, dir)
    assert.deepEqual(cfg, { ...lora, targetModules: [...lora.targetModules] })
    for (const [path, pair] of model.lora) assert.deepEqual(other.model.lora.get(path)!.a.dataSync(), pair.a.dataSync())
    model.dispose()
    other.model.dispose()
  })
})
