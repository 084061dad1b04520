// The prediction and trainer operators on the tiny Qwen3 model, run over a stream outside any runtime.
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
import { predict, type PredictionCacheApi } from "../../operators/qa/predict.ts"
import { qwen3QaModel } from "../../operators/qa/qwen3-model.ts"
import { trainer, type TrainerInput } from "../../operators/training/trainer.ts"
import { defaultTrainOptions } from "../../model/train/trainer.ts"
import type { Prediction } from "../../schemas/evaluation.ts"
import type { KeyedEvalRequest, PredictionRecord } from "../../schemas/qa-record.ts"
import type { TrainingStep } from "../../schemas/training.ts"
import { tinyDir, tinyReference } from "../helpers/model-fixture.ts"

const work = mkdtempSync(join(tmpdir(), "fleuve-ops-"))
before(async () => {
  await selectBackend("cpu")
})
after(() => rmSync(work, { recursive: true, force: true }))

const request = (itemId: string, over: Partial<KeyedEvalRequest>): KeyedEvalRequest => ({
  system: "tiny", modelId: "qwen3-tiny", modelRevision: "r1", adapterHash: "none", task: "mcqa", shots: 0, itemId,
  datasetVersion: "v1", prompt: "", promptHash: "h", kind: "loglikelihood", decoding: { maxNewTokens: 8, stop: [] },
  itemHash: `item-${itemId}`, cacheKey: `key-${itemId}`, ...over
})

/** A cache in memory: what the warehouse's prediction cache does, for an operator run alone. */
const memoryCache = (): PredictionCacheApi<never> & { readonly stored: Map<string, Prediction> } => {
  const stored = new Map<string, Prediction>()
  return {
    stored,
    get: (keys) => Effect.sync(() => new Map(keys.filter((k) => stored.has(k)).map((k) => [k, { output: stored.get(k)!.output, options: stored.get(k)!.options, truncatedTokens: stored.get(k)!.truncatedTokens }]))),
    put: (entries) => Effect.sync(() => entries.forEach((e) => stored.set(e.prediction.cacheKey, e.prediction)))
  }
}
const predictionsOf = (out: ReadonlyArray<Routed<PredictionRecord>>) => out.filter((r) => r._tag === "Record").map((r) => (r as { envelope: { value: PredictionRecord } }).envelope.value)

const run = <In, Out>(op: Parameters<typeof runOnStream<In, Out, never, never, never>>[0], values: ReadonlyArray<In>) =>
  Effect.runPromise(Stream.runCollect(runOnStream(op, Stream.fromIterable(values.map((v, i) => envelope(`k${i}`, v, { _tag: "Generated", generator: "test", seq: i })))))).then((c) => [...c] as Array<Routed<Out>>)

describe("predict operator on a Qwen3 checkpoint", () => {
  it("turns requests into Predictions, options from one prompt pass, generations batched, dead letters for bad requests, the cache answering a rerun", async () => {
    const handle = ModelHandle.load({ dir: tinyDir })
    const { model, tokenizer } = handle.current
    const ref = tinyReference()
    const mcqa = ref.scoring.slice(0, 3)
    const progress: Array<number> = []
    const cache = memoryCache()
    const qa = qwen3QaModel(handle, { modelId: "qwen3-tiny", modelRevision: "r1" })
    const requests = [
      request("q1", { prompt: mcqa[0]!.context, continuations: mcqa.map((r) => r.continuation) }),
      request("q2", { prompt: "rien", continuations: [] }),
      request("q3", { kind: "generate", prompt: ref.generations[0]!.prompt, decoding: { maxNewTokens: 4, stop: [] } }),
      request("q4", { prompt: ref.scoring[3]!.context, continuations: [ref.scoring[3]!.continuation] }),
      request("q5", { modelId: "another-model" })
    ]
    const out = await run<KeyedEvalRequest, PredictionRecord>(predict(qa, cache, { onProgress: (p) => progress.push(p.perSecond) }), requests)
    const records = predictionsOf(out).map((p) => p.prediction)
    const dead = out.filter((r) => r._tag === "DeadLetter").map((r) => (r as { deadLetter: { reason: string } }).deadLetter.reason)
    assert.equal(records.length, 3)
    assert.equal(dead.length, 2)
    assert.ok(dead.some((reason) => /needs at least one continuation/.test(reason)), dead.join("; "))
    assert.ok(dead.some((reason) => /request for another-model@r1\+none sent to qwen3-tiny@r1\+none/.test(reason)), dead.join("; "))
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
    // a rerun is answered by the cache, the same predictions
    const again = predictionsOf(await run<KeyedEvalRequest, PredictionRecord>(predict(qa, cache), requests))
    assert.ok(again.every((p) => p.cached))
    assert.deepEqual(again.map((p) => p.prediction), records)
    model.dispose()
  })

  it("reports left-truncation of long prompts in truncatedTokens", async () => {
    const handle = ModelHandle.load({ dir: tinyDir })
    const { model, tokenizer } = handle.current
    const r = tinyReference().scoring[3]!
    const qa = qwen3QaModel(handle, { modelId: "qwen3-tiny", modelRevision: "r1" }, { contextWindow: 16 })
    const out = await run<KeyedEvalRequest, PredictionRecord>(predict(qa, memoryCache()), [request("t", { prompt: r.context, continuations: [r.continuation] })])
    const p = predictionsOf(out)[0]!.prediction
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
