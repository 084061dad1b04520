// How options become the WGSL engine's rows (model/wgsl/score-layout.ts), as pure functions on the
// CPU: rows, padding, targets, which positions belong to which option, and the split of rows
// into groups under a token limit or after running out of GPU memory.
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import {
  batchShape, batchTokens, halves, layoutBatch, type OptionRow, optionRows, PAD_ID, planGroups, rowScores, type RowScores, scoreInGroups
} from "../../../model/wgsl/score-layout.ts"
import { isOutOfMemory, OutOfGpuMemory } from "../../../model/wgsl/kernels/buffers.ts"

const rowOf = (length: number, seed: number): OptionRow => ({ ids: Array.from({ length }, (_, i) => 1 + ((seed * 31 + i * 7) % 97)), first: length - 1, targets: [seed] })

describe("WGSL engine row layout", () => {
  it("makes each option a row context + continuation minus its last token, scored from the context's last position", () => {
    const rows = optionRows([5, 6, 7], [[8], [9, 10, 11]])
    assert.deepEqual(rows, [
      { ids: [5, 6, 7], first: 2, targets: [8] },
      { ids: [5, 6, 7, 9, 10], first: 2, targets: [9, 10, 11] }
    ])
  })

  it("pads seq up to a multiple of 16 and the batch so that batch × seq is a multiple of 128, computing the fewest tokens", () => {
    const cases = [[1, 1], [5, 3], [17, 2], [40, 1], [48, 9], [64, 3], [100, 16], [128, 3], [200, 1]]
    const shapes = cases.map(([len, n]) => batchShape(Array.from({ length: n! }, (_, i) => rowOf(len!, i))))
    assert.deepEqual(shapes, [
      // 16 × 8; 16 × 8; 32 × 4; 64 × 2 (not 48 × 8: 384 tokens); 64 × 10 (not 48 × 16); 64 × 4; 112 × 16 (not 128 × 16); 128 × 3; 256 × 1 (not 208 × 8)
      { batch: 8, seq: 16 }, { batch: 8, seq: 16 }, { batch: 4, seq: 32 }, { batch: 2, seq: 64 }, { batch: 10, seq: 64 }, { batch: 4, seq: 64 }, { batch: 16, seq: 112 }, { batch: 3, seq: 128 }, { batch: 1, seq: 256 }
    ])
    cases.forEach(([len, n], i) => {
      const s = shapes[i]!
      assert.ok(s.seq % 16 === 0 && s.seq >= len! && s.batch >= n!, `case ${i}`)
    })
    for (const s of shapes) assert.equal((s.batch * s.seq) % 128, 0)
    assert.equal(batchTokens([rowOf(17, 0), rowOf(3, 1)]), 128)
  })

  it("lays rows out right-padded, targets at the option's positions, dummy rows of padding", () => {
    const rows = optionRows([5, 6, 7], [[8], [9, 10, 11]])
    const l = layoutBatch(rows)
    assert.equal(l.seq, 16)
    assert.equal(l.batch, 8)
    assert.deepEqual(l.starts, [2, 18])
    const row = (a: Uint32Array, b: number) => [...a.subarray(b * 16, (b + 1) * 16)]
    const pad = (xs: Array<number>) => [...xs, ...Array(16 - xs.length).fill(PAD_ID)]
    assert.deepEqual(row(l.ids, 0), pad([5, 6, 7]))
    assert.deepEqual(row(l.ids, 1), pad([5, 6, 7, 9, 10]))
    assert.deepEqual(row(l.targets, 0), pad([PAD_ID, PAD_ID, 8]))
    assert.deepEqual(row(l.targets, 1), pad([PAD_ID, PAD_ID, 9, 10, 11]))
    // the next token at every scored position, as the engine's contract says (targets[t] = token at t + 1)
    const whole = [5, 6, 7, 9, 10, 11]
    for (let j = 2; j < 5; j++) assert.equal(l.targets[16 + j], whole[j + 1])
    for (let b = 2; b < 8; b++) assert.deepEqual(row(l.ids, b), pad([]))
  })

  it("reads each option's log-probs and greedy flag from its positions only", () => {
    const rows = optionRows([5, 6, 7], [[8], [9, 10, 11]])
    const l = layoutBatch(rows)
    const logprob = Float32Array.from({ length: l.batch * l.seq }, (_, t) => -t / 100)
    const argmax = Uint32Array.from(l.targets)
    argmax[18 + 2] = 3 // option 1's last token is not the argmax
    argmax[0] = 99 // an unscored position of option 0 does not matter
    const s = rowScores(rows, l, { logprob, argmax })
    assert.deepEqual(s[0]!.logprobs, [Math.fround(-0.02)])
    assert.deepEqual(s[1]!.logprobs, [Math.fround(-0.18), Math.fround(-0.19), Math.fround(-0.2)])
    assert.deepEqual(s.map((r) => r.greedy), [true, false])
  })
})

describe("splitting rows", () => {
  const rows = [3, 40, 17, 5, 60, 2, 33].map((len, i) => rowOf(len, i))
  /** A CPU stand-in for the engine: deterministic scores of a row's own tokens, whatever the batch. */
  const cpuScores = (group: ReadonlyArray<OptionRow>): Array<RowScores> => group.map((r) => ({ logprobs: r.targets.map((t) => -(t + r.ids.reduce((a, b) => a + b, 0)) / 1000), greedy: r.ids.length % 2 === 0 }))

  it("halves keep order, the first half the larger", () => {
    assert.deepEqual(halves([1, 2, 3, 4, 5]), [[1, 2, 3], [4, 5]])
    assert.deepEqual(halves([1]), [[1], []])
  })

  it("plans groups under the token limit by halving, down to single rows", () => {
    assert.deepEqual(planGroups(rows, Infinity), [rows])
    assert.equal(batchTokens(rows), 512)
    assert.deepEqual(planGroups(rows, 256).map((g) => g.length), [4, 3])
    const groups = planGroups(rows, 128)
    assert.deepEqual(groups.flat(), rows)
    for (const g of groups) assert.ok(batchTokens(g) <= 128)
    assert.deepEqual(groups.map((g) => g.length), [2, 2, 2, 1])
    // a row alone over the limit stays alone: the caller reports it
    assert.deepEqual(planGroups(rows, 16).map((g) => g.length), [1, 1, 1, 1, 1, 1, 1])
  })

  it("scores split groups exactly as one batch, in order", async () => {
    const whole = await scoreInGroups(rows, { maxTokens: Infinity, score: async (g) => cpuScores(g), tooLarge: () => new Error("unexpected") })
    const seen: Array<number> = []
    const split = await scoreInGroups(rows, { maxTokens: 128, score: async (g) => (seen.push(batchTokens(g)), cpuScores(g)), tooLarge: () => new Error("unexpected") })
    assert.deepEqual(split, whole)
    assert.deepEqual(whole, cpuScores(rows))
    assert.deepEqual(seen, [128, 128, 128, 128])
  })

  it("splits a group that runs out of GPU memory in halves and retries each", async () => {
    const splits: Array<[number, number]> = []
    const memory = 200
    const out = await scoreInGroups(rows, {
      maxTokens: Infinity,
      score: async (g) => {
        if (batchTokens(g) > memory) throw new Error(`GPU out of memory: ${batchTokens(g)} tokens`)
        return cpuScores(g)
      },
      tooLarge: () => new Error("unexpected"),
      onSplit: (n, tokens) => splits.push([n, tokens])
    })
    assert.deepEqual(out, cpuScores(rows))
    assert.deepEqual(splits[0], [7, batchTokens(rows)])
    // 7 rows (512 tokens) → 4 (256) and 3 (256) → each in two of 128
    assert.deepEqual(splits, [[7, 512], [4, 256], [3, 256]])
  })

  it("names the token count of a single row that fits neither the limit nor the memory", async () => {
    await assert.rejects(
      scoreInGroups([rowOf(60, 1)], { maxTokens: 16, score: async (g) => cpuScores(g), tooLarge: (r, why) => new Error(`row of ${r.ids.length} tokens: ${why}`) }),
      /row of 60 tokens: its 128-token batch exceeds the 16-token limit/
    )
    await assert.rejects(
      scoreInGroups([rowOf(60, 1), rowOf(3, 2)], {
        maxTokens: Infinity,
        score: async (g) => {
          if (g.some((r) => r.ids.length === 60)) throw new OutOfGpuMemory("GPU out of memory: buffer")
          return cpuScores(g)
        },
        tooLarge: (r, why) => new Error(`row of ${r.ids.length} tokens: ${why}`)
      }),
      /row of 60 tokens: GPU out of memory: buffer/
    )
  })

  it("passes on errors other than out of memory", async () => {
    await assert.rejects(scoreInGroups(rows, { maxTokens: Infinity, score: async () => { throw new Error("GPU validation: bad binding") }, tooLarge: () => new Error("unexpected") }), /GPU validation: bad binding/)
    assert.equal(isOutOfMemory(new Error("GPU out of memory: x")), true)
    assert.equal(isOutOfMemory(new OutOfGpuMemory("y")), true)
    assert.equal(isOutOfMemory(new Error("GPU validation: x")), false)
  })
})
