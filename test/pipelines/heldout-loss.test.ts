// Held-out loss (issue 18): model/runtime/heldout-loss.ts against transformers' log-probs, and
// pipelines/heldout-loss.ts landing rows in heldout_loss, with and without an adapter.
import assert from "node:assert/strict"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, it } from "node:test"
import { Effect } from "effect"
import { heldoutLoss, heldoutLossOf } from "../../model/runtime/heldout-loss.ts"
import { loadModelDir } from "../../model/qwen3/checkpoint.ts"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { measureHeldoutLoss, readJsonlTexts, textsHashOf } from "../../pipelines/heldout-loss.ts"
import { HeldoutLosses } from "../../warehouse/heldout-loss.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { tinyDir, tinyReference } from "../helpers/model-fixture.ts"
import { runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

const ref = tinyReference()
const text = ref.encodings[0]!.text
const adapter = join(tinyDir, "..", "qwen3-tiny-lora")

describe("heldoutLoss", () => {
  for (const backend of ["cpu", "cpu-fused"] as const) it(`is the mean next-token NLL transformers gives for the same tokens (${backend})`, async () => {
    await selectBackend(backend)
    const { model, tokenizer } = loadModelDir(tinyDir)
    try {
      // One text of exactly seqLen tokens (its end-of-text falls in the dropped tail): one sequence.
      const ids = ref.full_sequence.ids
      assert.deepEqual(tokenizer.encode(text), ids)
      const r = await heldoutLoss(model, tokenizer, [text], ids.length)
      const want = -ref.full_sequence.logprobs_of_next.reduce((a, b) => a + b, 0) / (ids.length - 1)
      assert.equal(r.sequences, 1)
      assert.equal(r.tokens, ids.length - 1)
      assert.ok(Math.abs(r.meanNll - want) < 1e-4, `${r.meanNll} vs ${want}`)
      assert.ok(Math.abs(r.perplexity - Math.exp(want)) < 1e-3)
    } finally {
      model.dispose()
    }
  })
  it("does not depend on the batching, and refuses texts too short for one sequence", async () => {
    await selectBackend("cpu")
    const { model, tokenizer } = loadModelDir(tinyDir)
    try {
      const texts = [text, "Le médecin prescrit un antibiotique.", text]
      const one = await heldoutLoss(model, tokenizer, texts, 9, { batch: 1 })
      const four = await heldoutLoss(model, tokenizer, texts, 9, { batch: 4 })
      assert.equal(one.sequences, four.sequences)
      assert.ok(one.sequences > 4)
      assert.ok(Math.abs(one.meanNll - four.meanNll) < 1e-5, `${one.meanNll} vs ${four.meanNll}`)
      await assert.rejects(heldoutLoss(model, tokenizer, ["court"], 64), /do not fill one sequence of 64 tokens/)
    } finally {
      model.dispose()
    }
  })
  it("changes with an adapter loaded on the model", async () => {
    await selectBackend("cpu")
    const plain = await heldoutLossOf({ dir: tinyDir }, [text], 13)
    const adapted = await heldoutLossOf({ dir: tinyDir, adapter }, [text], 13)
    assert.notEqual(plain.meanNll, adapted.meanNll)
  })
})

describe("measureHeldoutLoss", () => {
  it("lands one row per system, texts and sequence length, replaced when measured again", async () => {
    await selectBackend("cpu")
    const db = tempWarehousePath()
    const texts = [text, text]
    const rows = await runWithWarehouse(db, Effect.gen(function*() {
      const base = yield* measureHeldoutLoss({ system: "base", modelDir: tinyDir, texts, seqLen: 13, textsSource: "inline", runId: "r1" })
      yield* measureHeldoutLoss({ system: "tuned", modelDir: tinyDir, adapter, texts, seqLen: 13 })
      yield* measureHeldoutLoss({ system: "base", modelDir: tinyDir, texts, seqLen: 13, textsSource: "inline", runId: "r2" })
      const stored = yield* HeldoutLosses.list
      const w = yield* Warehouse
      const [{ n }] = (yield* w.query<{ n: number }>("SELECT count(*)::INTEGER AS n FROM heldout_loss")) as [{ n: number }]
      return { base, stored, n }
    }))
    assert.equal(rows.n, 2)
    const byName = new Map(rows.stored.map((r) => [r.system, r]))
    const base = byName.get("base")!
    assert.deepEqual(base, rows.base.runId === "r2" ? rows.base : { ...rows.base, runId: "r2" })
    assert.equal(base.textsHash, textsHashOf(texts))
    assert.equal(base.adapterHash, "none")
    assert.equal(base.modelId, "qwen3-tiny")
    assert.equal(base.textsSource, "inline")
    assert.match(byName.get("tuned")!.adapterHash, /^[0-9a-f]{64}$/)
    assert.notEqual(byName.get("tuned")!.meanNll, base.meanNll)
  })
  it("fails with the system and folder named when the model cannot be loaded", async () => {
    const db = tempWarehousePath()
    const missing = join(tempDir(), "no-model")
    const error = await runWithWarehouse(db, Effect.flip(measureHeldoutLoss({ system: "ghost", modelDir: missing, texts: [text], seqLen: 8 })))
    assert.equal(error._tag, "HeldoutLossError")
    assert.match(error.message, /^held-out loss of ghost \(.*no-model\): /)
  })
  it("reads a JSONL file's texts, naming the file and line of a bad one", async () => {
    const dir = tempDir()
    const good = join(dir, "good.jsonl")
    writeFileSync(good, `${JSON.stringify({ id: "a", text: "un" })}\n\n${JSON.stringify({ id: "b", text: "deux" })}\n`)
    assert.deepEqual(await Effect.runPromise(readJsonlTexts(good)), ["un", "deux"])
    const bad = join(dir, "bad.jsonl")
    writeFileSync(bad, `${JSON.stringify({ text: "un" })}\n{"text": 3}\n`)
    await assert.rejects(Effect.runPromise(readJsonlTexts(bad)), /bad\.jsonl:2: field 'text' must be a string/)
  })
})
