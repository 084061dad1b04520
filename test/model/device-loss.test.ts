// Losing the WebGPU device mid-run: scoring, generation and training go on, on a new device, with
// the results they would have had. The loss is real, not a mock: the device tfjs computes on is
// destroyed from outside, which Dawn reports exactly as a driver loss (device.lost resolves, every
// later read rejects); the test only cannot choose the reason ("destroyed" instead of "unknown").
// Runs on the real adapter where there is one (on tensor-core GPUs scoring then goes through the
// WGSL engine), else on SwiftShader; skips, saying why, where neither opens.
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { openTestGpu } from "../helpers/gpu.ts"
import { tinyDir, tinyReference } from "../helpers/model-fixture.ts"

const opened = await openTestGpu()
if ("gpu" in opened) opened.gpu.close()
const skip = "gpu" in opened ? false : `no WebGPU adapter, nor SwiftShader: ${opened.skip}`

const { deviceReplacements, selectBackend, webgpuDevice } = await import("../../model/tfjs/backend.ts")
const { GpuDeviceLost } = await import("../../model/tfjs/device-loss.ts")
const { generateGreedy, generateRecovering } = await import("../../model/runtime/generate.ts")
const { ModelHandle } = await import("../../model/runtime/model-handle.ts")
const { scoreContinuations } = await import("../../model/runtime/scoring.ts")
const { ensureGradients } = await import("../../model/tfjs/gradients.ts")
const { packTokens } = await import("../../model/train/pack.ts")
const { defaultTrainOptions, train } = await import("../../model/train/trainer.ts")

/** Loses the device tfjs computes on, as a driver reset would. */
const loseDevice = () => {
  const device = webgpuDevice()
  assert.ok(device, "the tensor backend is webgpu")
  device.destroy()
}

const work = mkdtempSync(join(tmpdir(), "fleuve-loss-"))
after(() => rmSync(work, { recursive: true, force: true }))

describe("a lost GPU device", { skip }, () => {
  before(async () => {
    await selectBackend("webgpu")
    await ensureGradients()
  })

  const ref = tinyReference().scoring.slice(0, 3)
  const context = ref[0]!.context
  const options = ref.map((r) => r.continuation)

  it("is reopened, the model reloaded and the item scored again, with the same log-probs", async () => {
    const lines: Array<string> = []
    const handle = ModelHandle.load({ dir: tinyDir }, { onLoss: (l) => lines.push(l) })
    const score = () => handle.run("scoring an item", (m) => scoreContinuations(m.model, m.tokenizer, context, options))
    const before = await score()
    const device = webgpuDevice()
    const replaced = deviceReplacements()
    loseDevice()
    const after = await score()
    assert.equal(handle.recovered, 1)
    assert.equal(deviceReplacements(), replaced + 1)
    assert.notEqual(webgpuDevice(), device)
    assert.deepEqual(after.options.map((o) => o.tokenIds), before.options.map((o) => o.tokenIds))
    after.options.forEach((o, i) => assert.ok(Math.abs(o.logprob - before.options[i]!.logprob) < 1e-4, `${o.logprob} vs ${before.options[i]!.logprob}`))
    // and against the reference implementation (transformers), as on a device never lost
    after.options.forEach((o, i) => assert.ok(Math.abs(o.logprob - ref[i]!.logprob) < 2e-3, `${o.logprob} vs transformers ${ref[i]!.logprob}`))
    assert.equal(lines.length, 1)
    assert.match(lines[0]!, /^GPU device lost while scoring an item \(reason 'destroyed': .+\); reopening the device and reloading .*qwen3-tiny, then starting scoring an item again \(recovery 1 of at most 3\)$/)
    handle.dispose()
  })

  it("in the middle of generation: starts again at the first prompt not delivered, each delivered once", async () => {
    const prompts = [...tinyReference().generations.map((g) => g.prompt), "Le patient"]
    const handle = ModelHandle.load({ dir: tinyDir }, { onLoss: () => {} })
    const settings = { maxNewTokens: 3, maxBatch: 1 }
    const straight = await generateGreedy(handle.current.model, handle.current.tokenizer, prompts, settings)
    const delivered: Array<number> = []
    const got = await generateRecovering(handle, prompts, {
      ...settings,
      onBatch: (first, out) => {
        delivered.push(...out.map((_, k) => first + k))
        if (first === 0) loseDevice() // the second prompt's batch then fails
      }
    })
    assert.equal(handle.recovered, 1)
    assert.deepEqual(delivered, prompts.map((_, i) => i))
    assert.deepEqual(got.map((g) => g.tokenIds), straight.map((g) => g.tokenIds))
    handle.dispose()
  })

  it("during training: the run resumes from its last checkpoint with the losses of a run never interrupted", async () => {
    const lora = { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj", "down_proj"] as const }
    const source = { dir: tinyDir, freshLora: { config: { ...lora, targetModules: [...lora.targetModules] }, seed: 1 } }
    const handle = ModelHandle.load(source, { onLoss: () => {} })
    const docs = ["Le patient présente une fièvre persistante depuis trois jours.", "Le médecin recommande une échographie abdominale.", "Une infection urinaire est suspectée chez la patiente."]
    const tokenizer = handle.current.tokenizer
    const data = packTokens(docs.map((d) => tokenizer.encode(d)), 8, tokenizer.eosId ?? 0).map((ids) => ({ ids }))
    const options = (outDir: string) => ({ ...defaultTrainOptions, totalSteps: 4, microBatch: 2, gradAccumulation: 1, peakLr: 1e-2, warmupRatio: 0, checkpointEvery: 1, outDir })
    const mode = { kind: "lora" as const, lora: source.freshLora.config, baseModel: "qwen3-tiny" }

    const straight = await ModelHandle.load(source).run("training", (m) => train(m.model, mode, data, options(join(work, "straight"))))
    let lost = false
    const resumed = await handle.run("training", (m) =>
      train(m.model, mode, data, options(join(work, "interrupted")), (r) => {
        // after step 3 is taken, before its checkpoint is written: the run resumes from step 2
        if (r.step === 3 && !lost) {
          lost = true
          loseDevice()
        }
      }))
    assert.equal(handle.recovered, 1)
    assert.ok(resumed.resumedFrom?.endsWith("checkpoint-000002"), `resumed from ${resumed.resumedFrom}`)
    assert.equal(resumed.losses.length, straight.losses.length)
    resumed.losses.forEach((l, i) => assert.ok(Math.abs(l - straight.losses[i]!) < 1e-4, `step ${i + 1}: ${l} vs ${straight.losses[i]}`))
    handle.dispose()
  })

  it("is given up on after maxRecoveries, with GpuDeviceLost naming the work and the reason", async () => {
    const handle = ModelHandle.load({ dir: tinyDir }, { maxRecoveries: 0, onLoss: () => assert.fail("no recovery was allowed") })
    await handle.run("scoring an item", (m) => scoreContinuations(m.model, m.tokenizer, context, options))
    loseDevice()
    await assert.rejects(
      handle.run("scoring an item", (m) => scoreContinuations(m.model, m.tokenizer, context, options)),
      (e: unknown) => e instanceof GpuDeviceLost && /^the GPU device was lost while scoring an item \(reason 'destroyed'/.test(e.message) && e.message.endsWith("0 losses were already recovered from: giving up")
    )
    // the next handle finds a device again
    const next = ModelHandle.load({ dir: tinyDir }, { onLoss: () => {} })
    const scored = await next.run("scoring an item", (m) => scoreContinuations(m.model, m.tokenizer, context, options))
    assert.equal(next.recovered, 1)
    assert.equal(scored.options.length, options.length)
    next.dispose()
  })

  it("lets other errors through at once, untouched and not retried", async () => {
    const handle = ModelHandle.load({ dir: tinyDir }, { onLoss: () => assert.fail("not a loss") })
    const boom = new Error("a bad request")
    let calls = 0
    await assert.rejects(handle.run("scoring an item", async () => {
      calls++
      throw boom
    }), (e) => e === boom)
    assert.equal(calls, 1)
    assert.equal(handle.recovered, 0)
    handle.dispose()
  })
})
