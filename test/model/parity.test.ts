// Parity with Hugging Face transformers on the tiny Qwen3 fixture (scripts/fixtures/qwen3_tiny.py):
// token ids, log-probs within 1e-4 on the CPU backends, greedy generations, bf16 sharded weights.
import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { generateGreedy } from "../../model/runtime/generate.ts"
import { loadModelDir, saveModelDir } from "../../model/qwen3/checkpoint.ts"
import { readSafetensors } from "../../model/formats/safetensors.ts"
import { scoreContinuations } from "../../model/runtime/scoring.ts"
import { loadTokenizer } from "../../model/formats/tokenizer/tokenizer.ts"
import { groupByContext, type ScoringRef, tinyBf16Dir, tinyDir, tinyReference } from "../helpers/model-fixture.ts"

const ref = tinyReference()
const TOL = 1e-4

const checkScoring = async (dir: string, rows: ReadonlyArray<ScoringRef>) => {
  const { model, tokenizer } = loadModelDir(dir)
  try {
    for (const [context, group] of groupByContext(rows)) {
      const scored = await scoreContinuations(model, tokenizer, context, group.map((r) => r.continuation))
      assert.equal(scored.truncatedTokens, 0)
      group.forEach((r, i) => {
        const o = scored.options[i]!
        assert.deepEqual(o.tokenIds, r.continuation_ids, `continuation ids of ${JSON.stringify(r.continuation)}`)
        assert.equal(o.tokenLogprobs.length, r.token_logprobs.length)
        o.tokenLogprobs.forEach((lp, j) => assert.ok(Math.abs(lp - r.token_logprobs[j]!) < TOL, `${r.continuation} token ${j}: ${lp} vs ${r.token_logprobs[j]}`))
        assert.ok(Math.abs(o.logprob - r.logprob) < TOL * r.token_logprobs.length)
        assert.equal(o.greedy, r.greedy)
      })
    }
  } finally {
    model.dispose()
  }
}

describe("tiny Qwen3 checkpoint", () => {
  it("tokenizes French text to the ids of Hugging Face tokenizers", () => {
    const tok = loadTokenizer(tinyDir)
    for (const e of ref.encodings) assert.deepEqual(tok.encode(e.text), e.ids, e.text)
  })

  it("decodes f16 and bf16 safetensors exactly as torch converts them", () => {
    const { tensors } = readSafetensors(join(tinyDir, "dtypes.safetensors"))
    for (const dtype of ["f32", "f16", "bf16"] as const) {
      const got = [...tensors.get(dtype)!.data]
      got.forEach((v, i) => assert.equal(v, Math.fround(ref.dtypes[dtype][i]!), `${dtype}[${i}]`))
    }
  })
})

for (const backend of ["cpu", "cpu-fused", "wasm"] as const) {
  describe(`Qwen3 parity with transformers on ${backend}`, () => {
    it("selects the backend", async () => {
      const choice = await selectBackend(backend)
      assert.equal(choice.backend, backend)
      assert.equal(tf.getBackend(), backend === "cpu-fused" ? "cpu" : backend)
    })

    it("scores continuations (options share one prompt pass) within 1e-4", () => checkScoring(tinyDir, ref.scoring))

    it("reads bf16 weights split over shards, within 1e-4 of transformers on the same file", () => checkScoring(tinyBf16Dir, ref.scoring_bf16_sharded))

    it("matches next-token log-probs and argmax at every position of a sequence", async () => {
      const { model } = loadModelDir(tinyDir)
      const ids = ref.full_sequence.ids
      const { logits } = model.forward([ids])
      const logp = tf.logSoftmax(tf.reshape(logits, [ids.length, -1]))
      const rows = logp.arraySync() as Array<Array<number>>
      for (let i = 0; i < ids.length - 1; i++) assert.ok(Math.abs(rows[i]![ids[i + 1]!]! - ref.full_sequence.logprobs_of_next[i]!) < TOL, `position ${i}`)
      const argmax = tf.argMax(logp, 1).arraySync() as Array<number>
      assert.deepEqual(argmax, ref.full_sequence.argmax)
      tf.dispose([logits, logp])
      model.dispose()
    })

    it("generates the same greedy tokens, batched with left padding", async () => {
      const { model, tokenizer } = loadModelDir(tinyDir)
      const out = await generateGreedy(model, tokenizer, ref.generations.map((g) => g.prompt), { maxNewTokens: 12, stopAtEos: false })
      out.forEach((g, i) => {
        assert.deepEqual(g.tokenIds, ref.generations[i]!.new_ids, ref.generations[i]!.prompt)
        assert.equal(g.finishReason, "length")
        assert.equal(g.text, tokenizer.decode(ref.generations[i]!.new_ids))
      })
      model.dispose()
    })
  })
}

describe("scoring details", () => {
  it("truncates the context on the left to fit the window and says by how much", async () => {
    await selectBackend("cpu")
    const { model, tokenizer } = loadModelDir(tinyDir)
    const r = ref.scoring[3]!
    const window = 16
    const scored = await scoreContinuations(model, tokenizer, r.context, [r.continuation], { contextWindow: window })
    const expectedDrop = r.context_ids.length + r.continuation_ids.length - 1 - window
    assert.ok(expectedDrop > 0)
    assert.equal(scored.truncatedTokens, expectedDrop)
    // Same numbers as one cache-free pass over the truncated tokens.
    const ids = [...r.context_ids.slice(expectedDrop), ...r.continuation_ids]
    const { logits } = model.forward([ids])
    const logp = tf.logSoftmax(tf.reshape(logits, [ids.length, -1])).arraySync() as Array<Array<number>>
    const start = r.context_ids.length - expectedDrop - 1
    scored.options[0]!.tokenLogprobs.forEach((lp, j) => assert.ok(Math.abs(lp - logp[start + j]![r.continuation_ids[j]!]!) < 1e-5))
    logits.dispose()
    model.dispose()
  })

  it("stops generation at a stop string and cuts it from the text", async () => {
    await selectBackend("cpu")
    const { model, tokenizer } = loadModelDir(tinyDir)
    const g = ref.generations[1]!
    const full = tokenizer.decode(g.new_ids)
    const stop = full.slice(3, 5)
    const [out] = await generateGreedy(model, tokenizer, [g.prompt], { maxNewTokens: 12, stop: [stop], stopAtEos: false })
    assert.equal(out!.finishReason, "stop")
    assert.equal(out!.text, full.slice(0, full.indexOf(stop)))
    model.dispose()
  })

  it("saves a checkpoint that loads back to the same log-probs", async () => {
    await selectBackend("cpu")
    const dir = mkdtempSync(join(tmpdir(), "fleuve-ckpt-"))
    try {
      const loaded = loadModelDir(tinyDir)
      await saveModelDir(loaded, dir)
      const again = loadModelDir(dir)
      const r = ref.scoring[0]!
      const a = await scoreContinuations(loaded.model, loaded.tokenizer, r.context, [r.continuation])
      const b = await scoreContinuations(again.model, again.tokenizer, r.context, [r.continuation])
      assert.deepEqual(b.options[0]!.tokenLogprobs, a.options[0]!.tokenLogprobs)
      loaded.model.dispose()
      again.model.dispose()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
