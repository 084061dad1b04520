// The memory plan of greedy generation (model/runtime/generate-plan.ts): bytes a row needs, rows a batch
// takes, and batches halved when they run out of memory anyway.
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { forwardActivationBytes, generationBytesPerRow, halves, inBatches, kvCacheBytes, rowsPerBatch, type GenerationShape } from "../../../model/runtime/generate-plan.ts"
import { OutOfGpuMemory } from "../../../model/wgsl/kernels/buffers.ts"

// Qwen3-0.6B's config.json: 28 layers, 16 heads, 8 kv heads, head_dim 128, hidden 1024,
// intermediate 3072, vocabulary 151936.
const qwen06b: GenerationShape = { numLayers: 28, numHeads: 16, numKvHeads: 8, headDim: 128, hiddenSize: 1024, intermediateSize: 3072, vocabSize: 151936 }

describe("generation memory plan", () => {
  it("counts a Qwen3-0.6B row as worked out by hand", () => {
    // kv(n) = 28 layers × 2 (k, v) × 8 kv heads × 128 × n × 4 B = 229 376 · n
    assert.equal(kvCacheBytes(qwen06b, 1), 229_376)
    assert.equal(kvCacheBytes(qwen06b, 576), 132_120_576)
    // per layer and token, in values: 10·1024 + 12.5·(16 + 8)·128 + 5·3072 + 5·16·keys
    //   = 10 240 + 38 400 + 15 360 + 80·keys = 64 000 + 80·keys
    // act(512 tokens, 512 keys) = 4 · 28 · 512 · (64 000 + 40 960) = 57 344 · 104 960 = 6 018 826 240
    assert.equal(forwardActivationBytes(qwen06b, 512, 512), 6_018_826_240)
    // Prompt 512, 64 new tokens.
    //   prompt pass: kv(512) 117 440 512 + logits 4·151 936·512 = 311 164 928 + mask 4·512² = 1 048 576
    //                + act 6 018 826 240 = 6 448 480 256
    //   last step:   2·kv(576) 264 241 152 + logits row 607 744 + act(1, 576) 4·28·(64 000 + 46 080) = 12 328 960
    //                = 277 177 856
    // the prompt pass is the peak: 6.45 GB a row (tfjs keeps every intermediate of a forward)
    assert.equal(generationBytesPerRow(qwen06b, 512, 64), 6_448_480_256)
    // Prompt 16, 2048 new tokens: the doubled cache is the peak.
    //   prompt pass: kv(16) 3 670 016 + logits 9 723 904 + mask 1 024 + act(16, 16) 4·28·16·65 280 = 116 981 760
    //                = 130 376 704
    //   last step:   2·kv(2064) 946 864 128 + 607 744 + act(1, 2064) 4·28·(64 000 + 165 120) = 25 661 440
    //                = 973 133 312
    assert.equal(generationBytesPerRow(qwen06b, 16, 2048), 973_133_312)
  })

  it("takes as many rows as memory holds, at least one, at most all", () => {
    const perRow = generationBytesPerRow(qwen06b, 512, 64)
    // 80 GB / 6.448 GB = 12.4
    assert.equal(rowsPerBatch(perRow, 80e9, 64), 12)
    assert.equal(rowsPerBatch(perRow, 80e9, 5), 5)
    assert.equal(rowsPerBatch(perRow, 1e9, 64), 1, "a row that does not fit still runs")
    assert.equal(rowsPerBatch(perRow, 0, 64), 1)
    assert.equal(rowsPerBatch(100, 250, 10), 2)
    assert.equal(rowsPerBatch(100, 300, 10), 3)
  })

  it("halves keep order, the first half the larger", () => {
    assert.deepEqual(halves([1, 2, 3, 4, 5]), [[1, 2, 3], [4, 5]])
    assert.deepEqual(halves([1, 2]), [[1], [2]])
  })
})

describe("batches halved on out-of-memory", () => {
  // stands in for the GPU: a batch of more than 2 rows runs out of memory
  const fake = (calls: Array<Array<number>>) => async (batch: ReadonlyArray<number>) => {
    calls.push([...batch])
    if (batch.length > 2) throw new OutOfGpuMemory(`GPU out of memory: ${batch.length} rows`)
    return batch.map((x) => x * 10)
  }

  it("halves a batch that runs out, retries the halves, and keeps the items' order", async () => {
    const calls: Array<Array<number>> = []
    const halved: Array<number> = []
    const done: Array<[number, Array<number>]> = []
    const items = [0, 1, 2, 3, 4, 5, 6, 7, 8]
    const out = await inBatches(items, 5, {
      run: fake(calls),
      tooLarge: () => new Error("unreachable"),
      onHalve: (rows) => halved.push(rows),
      onBatch: (first, r) => done.push([first, [...r]])
    })
    assert.deepEqual(out, items.map((x) => x * 10))
    // [0..4] fails → [0,1,2] fails → [0,1], [2]; [3,4]; then batches of 2, the size that fit
    assert.deepEqual(calls, [[0, 1, 2, 3, 4], [0, 1, 2], [0, 1], [2], [3, 4], [5, 6], [7, 8]])
    assert.deepEqual(halved, [5, 3])
    assert.deepEqual(done.map(([first]) => first), [0, 2, 3, 5, 7])
  })

  it("once a size ran out, later batches are no larger than the halves that fit", async () => {
    const calls: Array<Array<number>> = []
    const items = Array.from({ length: 16 }, (_, i) => i)
    const out = await inBatches(items, 16, { run: fake(calls), tooLarge: () => new Error("unreachable") })
    assert.deepEqual(out, items.map((x) => x * 10))
    // 16 fails, 8 fails, then four batches of 2: never 8 again for the second half
    assert.deepEqual(calls.map((c) => c.length), [16, 8, 4, 2, 2, 2, 2, 2, 2, 2, 2])
  })

  it("a single item that still runs out is the caller's typed error, naming it", async () => {
    class TooLarge extends Error {}
    await assert.rejects(
      inBatches([1, 2, 3, 4], 4, {
        run: async (batch) => {
          if (batch.includes(3)) throw new OutOfGpuMemory("GPU out of memory: row 3")
          return [...batch]
        },
        tooLarge: (item, index, cause) => new TooLarge(`item ${item} at ${index}: ${(cause as Error).message}`)
      }),
      (e: unknown) => e instanceof TooLarge && /item 3 at 2: GPU out of memory: row 3/.test(e.message)
    )
  })

  it("other errors are not retried", async () => {
    let calls = 0
    await assert.rejects(
      inBatches([1, 2, 3, 4], 4, {
        run: async () => {
          calls++
          throw new Error("shader does not compile")
        },
        tooLarge: () => new Error("unreachable")
      }),
      /shader does not compile/
    )
    assert.equal(calls, 1)
  })
})
