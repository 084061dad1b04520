// The scorer and trainer operators on the tiny model, run over a stream outside any runtime.
import { Effect, Stream } from "effect"
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { attachLora } from "../../model/qwen3/lora.ts"
import { loadModelDir } from "../../model/qwen3/checkpoint.ts"
import { ModelHandle } from "../../model/runtime/model-handle.ts"
import { scoreContinuations } from "../../model/runtime/scoring.ts"
import { envelope } from "../../operators/envelope.ts"
import { runOnStream, type Routed } from "../../operators/operator.ts"
import { scorer } from "../../operators/model/scorer.ts"
import { trainer, type TrainerInput } from "../../operators/model/trainer.ts"
import { defaultTrainOptions } from "../../model/train/trainer.ts"
import type { EvalRequest, Prediction } from "../../schemas/evaluation.ts"
import type { TrainingStep } from "../../schemas/training.ts"
import { tinyDir, tinyReference } from "../helpers/model-fixture.ts"

const work = mkdtempSync(join(tmpdir(), "fleuve-ops-"))
before(async () => {
  await selectBackend("cpu")
})
after(() => rmSync(work, { recursive: true, force: true }))

const request = (itemId: string, over: Partial<EvalRequest>): EvalRequest => ({
  system: "tiny", modelId: "qwen3-tiny", modelRevision: "r1", adapterHash: "", task: "mcqa", shots: 0, itemId,
  datasetVersion: "v1", prompt: "", promptHash: "h", kind: "loglikelihood", decoding: { maxNewTokens: 8, stop: [] }, ...over
})

const run = <In, Out>(op: Parameters<typeof runOnStream<In, Out, never, never, never>>[0], values: ReadonlyArray<In>) =>
  Effect.runPromise(Stream.runCollect(runOnStream(op, Stream.fromIterable(values.map((v, i) => envelope(`k${i}`, v, { _tag: "Generated", generator: "test", seq: i })))))).then((c) => [...c] as Array<Routed<Out>>)

describe("scorer operator", () => {
  it("turns EvalRequests into Predictions, options from one prompt pass, with dead letters for bad requests", async () => {
    const handle = ModelHandle.load({ dir: tinyDir })
    const { model, tokenizer } = handle.current
    const ref = tinyReference()
    const mcqa = ref.scoring.slice(0, 3)
    const progress: Array<number> = []
    const out = await run<EvalRequest, Prediction>(scorer({ model: handle, onProgress: (p) => progress.push(p.tokensPerSecond) }), [
      request("q1", { prompt: mcqa[0]!.context, continuations: mcqa.map((r) => r.continuation) }),
      request("q2", { prompt: "rien", continuations: [] }),
      request("q3", { kind: "generate", prompt: ref.generations[0]!.prompt, decoding: { maxNewTokens: 4, stop: [] } }),
      request("q4", { prompt: ref.scoring[3]!.context, continuations: [ref.scoring[3]!.continuation] })
    ])
    const records = out.filter((r) => r._tag === "Record").map((r) => (r as { envelope: { value: Prediction } }).envelope.value)
    const dead = out.filter((r) => r._tag === "DeadLetter")
    assert.equal(records.length, 3)
    assert.equal(dead.length, 1)
    const q1 = records.find((p) => p.itemId === "q1")!
    assert.equal(q1.options!.length, 3)
    q1.options!.forEach((o, i) => {
      assert.ok(Math.abs(o.logprob - mcqa[i]!.logprob) < 1e-3)
      assert.equal(o.tokens, mcqa[i]!.continuation_ids.length)
      assert.equal(o.chars, mcqa[i]!.continuation.length)
      assert.equal(o.bytes, Buffer.byteLength(mcqa[i]!.continuation))
    })
    assert.equal(q1.truncatedTokens, 0)
    const q3 = records.find((p) => p.itemId === "q3")!
    assert.equal(q3.output, tokenizer.decode(ref.generations[0]!.new_ids.slice(0, 4)))
    assert.notEqual(q3.decodingHash, q1.decodingHash)
    assert.notEqual(q1.cacheKey, records.find((p) => p.itemId === "q4")!.cacheKey)
    assert.ok(progress.length > 0 && progress.every((p) => p > 0))
    model.dispose()
  })

  it("reports left-truncation of long prompts in truncatedTokens", async () => {
    const handle = ModelHandle.load({ dir: tinyDir })
    const { model, tokenizer } = handle.current
    const r = tinyReference().scoring[3]!
    const out = await run<EvalRequest, Prediction>(scorer({ model: handle, contextWindow: 16 }), [request("t", { prompt: r.context, continuations: [r.continuation] })])
    const p = (out[0] as { envelope: { value: Prediction } }).envelope.value
    const direct = await scoreContinuations(model, tokenizer, r.context, [r.continuation], { contextWindow: 16 })
    assert.ok(p.truncatedTokens! > 0)
    assert.equal(p.truncatedTokens, direct.truncatedTokens)
    model.dispose()
  })
})

describe("trainer operator", () => {
  it("trains a LoRA on packed sequences and QA records, one TrainingStep per step, rejecting bad lengths", async () => {
    const { model, tokenizer } = loadModelDir(tinyDir)
    const lora = { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj"] as const }
    attachLora(model, lora, 1)
    const ids = tokenizer.encode("Le patient présente une fièvre persistante depuis trois jours. Le médecin recommande une échographie.").slice(0, 12)
    const inputs: Array<TrainerInput> = [
      { ids }, { ids: ids.slice().reverse() }, { ids: ids.slice(0, 5) },
      { id: "qa1", prompt: "Quel organe filtre le sang ?", answer: "Les reins." },
      { id: "qa2", prompt: "Dose maximale ?", answer: "4 g par jour." }
    ]
    const out = await run<TrainerInput, TrainingStep>(trainer({
      run: "t1", model, tokenizer, seqLen: 12, mode: { kind: "lora", lora, baseModel: "qwen3-tiny" },
      train: { ...defaultTrainOptions, microBatch: 2, gradAccumulation: 1, peakLr: 1e-2, outDir: join(work, "op"), totalSteps: 3 }
    }), inputs)
    const steps = out.filter((r) => r._tag === "Record").map((r) => (r as { envelope: { value: TrainingStep } }).envelope.value)
    const dead = out.filter((r) => r._tag === "DeadLetter")
    assert.equal(dead.length, 1)
    assert.deepEqual(steps.map((s) => s.step), [1, 2, 3])
    assert.ok(steps.every((s) => Number.isFinite(s.loss) && s.tokensPerSecond > 0))
    assert.equal(steps[2]!.output, join(work, "op", "final"))
    model.dispose()
  })
})
