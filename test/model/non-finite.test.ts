// Issue 20 item 3: a model whose weights held NaN scored silently (`model logprobs` printed
// `logprob: null` with rc 0; reeval landed plausible scores, ties going to the first option).
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { cpSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { before, describe, it } from "node:test"
import { Effect, Stream } from "effect"
import { loadModelDir } from "../../model/qwen3/checkpoint.ts"
import { ModelHandle } from "../../model/runtime/model-handle.ts"
import { scoreContinuations, ScoringError } from "../../model/runtime/scoring.ts"
import { generateGreedy } from "../../model/runtime/generate.ts"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { envelope } from "../../operators/envelope.ts"
import { runOnStream } from "../../operators/operator.ts"
import { predict } from "../../operators/qa/predict.ts"
import { qwen3QaModel } from "../../operators/qa/qwen3-model.ts"
import type { KeyedEvalRequest } from "../../schemas/qa-record.ts"
import { tinyDir, tinyReference } from "../helpers/model-fixture.ts"
import { tempDir } from "../helpers/warehouse.ts"

const root = join(import.meta.dirname, "..", "..")

/** A copy of the tiny model with element `index` of one F32 tensor set to `value`. */
const poisoned = (tensor: string, values: ReadonlyArray<number>, index = 5) => {
  const dir = join(tempDir(), "poisoned")
  cpSync(tinyDir, dir, { recursive: true })
  const file = join(dir, "model.safetensors")
  const bytes = readFileSync(file)
  const headerLength = Number(bytes.readBigUInt64LE(0))
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString("utf8")) as Record<string, { dtype: string; data_offsets: [number, number] }>
  const entry = header[tensor]!
  assert.equal(entry.dtype, "F32")
  const count = (entry.data_offsets[1] - entry.data_offsets[0]) / 4
  for (let k = 0; k < (values.length === 1 ? 1 : count); k++) bytes.writeFloatLE(values[k % values.length]!, 8 + headerLength + entry.data_offsets[0] + 4 * (values.length === 1 ? index + k : k))
  writeFileSync(file, bytes)
  return dir
}

const logprobs = (model: string, input: string) =>
  spawnSync(process.execPath, ["bin/fleuve.mjs", "model", "logprobs", "--model", model, "--input", input, "--backend", "cpu"], { encoding: "utf8", cwd: root, timeout: 120_000 })

describe("non-finite weights and log-probs", () => {
  before(async () => {
    await selectBackend("cpu")
  })

  it("a checkpoint with a NaN or infinite weight is refused at load, naming the tensor and the element", () => {
    assert.throws(
      () => loadModelDir(poisoned("model.layers.1.mlp.up_proj.weight", [NaN])),
      /model\.safetensors: tensor 'model\.layers\.1\.mlp\.up_proj\.weight' holds 1 non-finite value\(s\) \(the first, NaN, at element 5\); refusing to load/
    )
    assert.throws(() => loadModelDir(poisoned("model.norm.weight", [Infinity], 0)), /tensor 'model\.norm\.weight' holds 1 non-finite value\(s\) \(the first, Infinity, at element 0\)/)
  })

  it("fleuve model logprobs on NaN weights exits 1 naming the tensor and prints no log-prob", () => {
    const ref = tinyReference().scoring[0]!
    const input = join(tempDir(), "in.jsonl")
    writeFileSync(input, `${JSON.stringify({ id: "a", context: ref.context, continuation: ref.continuation })}\n`)
    const r = logprobs(poisoned("model.embed_tokens.weight", [NaN]), input)
    assert.equal(r.status, 1, r.stderr)
    assert.equal(r.stdout, "")
    assert.match(r.stderr, /tensor 'model\.embed_tokens\.weight' .*non-finite/)
  })

  // Finite weights can still overflow at run time: the final norm's weights at 3e38 make every
  // logit infinite. That request fails (a dead letter downstream), it is never a score.
  it("a non-finite log-prob at run time fails the request: ScoringError, RecordRejected for the QA path, rc 1 for the CLI", async () => {
    const dir = poisoned("model.norm.weight", [3e38, -3e38])
    const ref = tinyReference().scoring[0]!
    const loaded = loadModelDir(dir)
    await assert.rejects(scoreContinuations(loaded.model, loaded.tokenizer, ref.context, [ref.continuation, " autre"]), (e: unknown) => {
      assert.ok(e instanceof ScoringError)
      assert.match((e as Error).message, /non-finite log-prob \((NaN|-?Infinity)\) for token 0 of continuation 0/)
      return true
    })
    const qa = qwen3QaModel(ModelHandle.load({ dir }))
    const failure = await Effect.runPromise(Effect.flip(qa.loglikelihood(ref.context, [ref.continuation])))
    assert.equal(failure._tag, "RecordRejected")
    // Through predict (the one path from a request to a score): a dead letter, nothing cached.
    const request: KeyedEvalRequest = {
      system: "poisoned", modelId: qa.modelId, modelRevision: qa.modelRevision, adapterHash: qa.adapterHash, task: "mcqa", shots: 0, itemId: "q1",
      datasetVersion: "v1", prompt: ref.context, continuations: [ref.continuation, " autre"], promptHash: "h", kind: "loglikelihood",
      decoding: { maxNewTokens: 8, stop: [] }, itemHash: "item-q1", cacheKey: "key-q1"
    }
    const stored: Array<unknown> = []
    const cache = { get: () => Effect.succeed(new Map()), put: (entries: ReadonlyArray<unknown>) => Effect.sync(() => void stored.push(...entries)) }
    const routed = [...await Effect.runPromise(Stream.runCollect(runOnStream(predict(qa, cache), Stream.make(envelope("q1", request, { _tag: "Generated", generator: "test", seq: 0 })))))]
    assert.equal(routed.length, 1)
    assert.equal(routed[0]!._tag, "DeadLetter")
    assert.match((routed[0] as { deadLetter: { reason: string } }).deadLetter.reason, /non-finite log-prob/)
    assert.deepEqual(stored, [])
    const input = join(tempDir(), "in.jsonl")
    writeFileSync(input, `${JSON.stringify({ id: "a", context: ref.context, continuation: ref.continuation })}\n`)
    const r = logprobs(dir, input)
    assert.equal(r.status, 1, r.stderr)
    assert.equal(r.stdout, "")
    assert.match(r.stderr, /in\.jsonl:1: non-finite log-prob/)
  })

  // Issue 20 (hardening 3): during generation the argmax of NaN or infinite logits was taken as a
  // token, so the same overflowing model generated "answers" (and reeval scored them). Now each
  // step's logits are checked with the argmax: the row fails, a dead letter, never a prediction.
  it("non-finite logits during generation fail the prompt: an error row, a dead letter through predict, rc 1 for the CLI", async () => {
    const dir = poisoned("model.norm.weight", [3e38, -3e38])
    const loaded = loadModelDir(dir)
    const prompts = ["Question : quel organe filtre le sang ?", "Réponse :"]
    const out = await generateGreedy(loaded.model, loaded.tokenizer, prompts, { maxNewTokens: 4, stopAtEos: false })
    assert.equal(out.length, 2)
    for (const g of out) {
      assert.equal(g.finishReason, "non-finite")
      assert.equal(g.text, "")
      assert.match(g.error ?? "", /non-finite logits at generation step 0/)
    }
    // The healthy model still generates, with no error.
    const healthy = loadModelDir(tinyDir)
    const fine = await generateGreedy(healthy.model, healthy.tokenizer, prompts, { maxNewTokens: 4, stopAtEos: false })
    for (const g of fine) {
      assert.equal(g.finishReason, "length")
      assert.equal(g.error, undefined)
    }
    const qa = qwen3QaModel(ModelHandle.load({ dir }))
    const request: KeyedEvalRequest = {
      system: "poisoned", modelId: qa.modelId, modelRevision: qa.modelRevision, adapterHash: qa.adapterHash, task: "absqa", shots: 0, itemId: "g1",
      datasetVersion: "v1", prompt: prompts[0]!, promptHash: "h", kind: "generate",
      decoding: { maxNewTokens: 4, stop: [] }, itemHash: "item-g1", cacheKey: "key-g1"
    }
    const stored: Array<unknown> = []
    const cache = { get: () => Effect.succeed(new Map()), put: (entries: ReadonlyArray<unknown>) => Effect.sync(() => void stored.push(...entries)) }
    const routed = [...await Effect.runPromise(Stream.runCollect(runOnStream(predict(qa, cache), Stream.make(envelope("g1", request, { _tag: "Generated", generator: "test", seq: 0 })))))]
    assert.equal(routed.length, 1)
    assert.equal(routed[0]!._tag, "DeadLetter")
    assert.match((routed[0] as { deadLetter: { reason: string } }).deadLetter.reason, /non-finite logits at generation step 0/)
    assert.deepEqual(stored, [])
    const input = join(tempDir(), "prompts.jsonl")
    writeFileSync(input, `${JSON.stringify({ id: "a", prompt: prompts[0] })}\n`)
    const r = spawnSync(process.execPath, ["bin/fleuve.mjs", "model", "generate", "--model", dir, "--input", input, "--backend", "cpu", "--max-new-tokens", "4"], { encoding: "utf8", cwd: root, timeout: 120_000 })
    assert.equal(r.status, 1, r.stderr)
    assert.equal(r.stdout, "")
    assert.match(r.stderr, /prompts\.jsonl:1: non-finite logits at generation step 0/)
  })
})
