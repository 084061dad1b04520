// Greedy generation in batches that fit memory, on the cpu backend with the tiny fixture: split
// into batches, the generations are the same as in one batch, and the split is told.
import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { describeSplit } from "../../../pipelines/model.ts"
import { selectBackend } from "../../../model/tfjs/backend.ts"
import { generateGreedy, GenerationOutOfMemory, type GenerationSplit } from "../../../model/runtime/generate.ts"
import { generationBytesPerRow } from "../../../model/runtime/generate-plan.ts"
import { loadModelDir } from "../../../model/qwen3/checkpoint.ts"
import type { Qwen3Model } from "../../../model/tfjs/qwen3-model.ts"
import type { TextTokenizer } from "../../../model/formats/tokenizer/tokenizer.ts"
import { tinyDir, tinyReference } from "../../helpers/model-fixture.ts"

const prompts = [
  ...tinyReference().generations.map((g) => g.prompt),
  "Le patient",
  "Après l'intervention, le patient présente une douleur"
]

describe("greedy generation in memory-sized batches", () => {
  let model: Qwen3Model
  let tokenizer: TextTokenizer
  before(async () => {
    await selectBackend("cpu")
    ;({ model, tokenizer } = loadModelDir(tinyDir))
  })
  after(() => model.dispose())

  it("5 prompts in batches of 2 give exactly the generations of one batch, in order, and say so", async () => {
    const lengths = prompts.map((p) => tokenizer.encode(p).length)
    assert.equal(new Set(lengths).size, 5, `prompts of different lengths: ${lengths}`)
    const maxNewTokens = 10
    const options = { maxNewTokens, stopAtEos: false }
    const one = await generateGreedy(model, tokenizer, prompts, { ...options, memory: { availableBytes: 1e15 } })

    const perRow = generationBytesPerRow(model.config, Math.max(...lengths), maxNewTokens)
    const splits: Array<GenerationSplit> = []
    const batches: Array<[number, number]> = []
    const split = await generateGreedy(model, tokenizer, prompts, {
      ...options,
      memory: { availableBytes: 2.5 * perRow, onSplit: (s) => splits.push(s) },
      onBatch: (first, out) => batches.push([first, out.length])
    })
    assert.deepEqual(split, one)
    assert.deepEqual(splits, [{ _tag: "Planned", prompts: 5, batches: 3, rowsPerBatch: 2, batchBytes: 2 * perRow, availableBytes: 2.5 * perRow, measured: "given", limit: "memory" }])
    assert.deepEqual(batches, [[0, 2], [2, 2], [4, 1]])
    // and each is what the prompt gives alone
    for (const [i, p] of prompts.entries()) assert.deepEqual((await generateGreedy(model, tokenizer, [p], options))[0], one[i], p)
    // the fixture's transformers reference for the first three
    tinyReference().generations.forEach((g, i) => assert.deepEqual(split[i]!.tokenIds, g.new_ids.slice(0, maxNewTokens)))
  })

  it("maxBatch caps the batch, and the split says the cap did it", async () => {
    const splits: Array<GenerationSplit> = []
    const out = await generateGreedy(model, tokenizer, prompts, { maxNewTokens: 4, stopAtEos: false, maxBatch: 3, memory: { availableBytes: 1e15, onSplit: (s) => splits.push(s) } })
    assert.equal(out.length, 5)
    assert.equal(splits.length, 1)
    assert.ok(splits[0]!._tag === "Planned" && splits[0]!.rowsPerBatch === 3 && splits[0]!.batches === 2 && splits[0]!.limit === "maxBatch")
  })

  it("one batch when memory holds all rows: nothing to tell; measured host memory on the cpu backend", async () => {
    const splits: Array<GenerationSplit> = []
    await generateGreedy(model, tokenizer, prompts, { maxNewTokens: 3, memory: { onSplit: (s) => splits.push(s) } })
    assert.deepEqual(splits, [])
  })

  it("names the prompt's tokens and maxNewTokens when a single prompt runs out of memory", () => {
    const e = new GenerationOutOfMemory(512, 64, "GPU out of memory: allocation failed")
    assert.match(e.message, /64 tokens after a 512-token prompt, alone in its batch: GPU out of memory/)
    assert.equal(e.promptTokens, 512)
    assert.equal(e.maxNewTokens, 64)
  })

  it("the CLI's stderr lines for a split and for a halving", () => {
    assert.equal(
      describeSplit({ _tag: "Planned", prompts: 64, batches: 4, rowsPerBatch: 16, batchBytes: 1.2e9, availableBytes: 5.04e9, measured: "gpu", limit: "memory" }),
      "64 prompts in 4 batches of 16 (KV cache and activations 1.2 GB a batch, 5.0 GB free on the GPU)"
    )
    assert.equal(
      describeSplit({ _tag: "Planned", prompts: 3, batches: 2, rowsPerBatch: 2, batchBytes: 2.5e6, availableBytes: 2.2e10, measured: "host", limit: "maxBatch" }),
      "3 prompts in 2 batches of 2 (KV cache and activations 2.5 MB a batch, 22.0 GB free in host memory; --batch caps it)"
    )
    assert.equal(describeSplit({ _tag: "Halved", rows: 16, why: "GPU out of memory: vkAllocateMemory failed" }), "out of memory with 16 prompts in a batch; halving to 8 and 8 (GPU out of memory: vkAllocateMemory failed)")
  })
})
