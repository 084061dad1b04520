// Where a generated row stops (model/runtime/greedy-rows.ts), with a character-level tokenizer:
// stop strings count only once the answer has begun.
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { GreedyRows } from "../../../model/runtime/greedy-rows.ts"

const chars = "\n abcQ:é"
const tokenizer = { encode: (t: string) => [...t].map((c) => chars.indexOf(c)), decode: (ids: ReadonlyArray<number>) => ids.map((i) => chars[i]).join(""), eosId: 99, vocabSize: 100 }
const run = (text: string, options: { stop?: ReadonlyArray<string>; maxNewTokens?: number }) => {
  const rows = new GreedyRows(1, tokenizer, { maxNewTokens: options.maxNewTokens ?? 20, stop: options.stop ?? [], eos: 99 })
  for (const id of [...tokenizer.encode(text), 99]) rows.accept(0, id)
  return rows.results([0])[0]!
}

describe("GreedyRows", () => {
  it("does not cut an answer that opens with a newline to nothing at the stop string \\n", () => {
    const g = run("\n abc\nbca", { stop: ["\n"] })
    assert.equal(g.finishReason, "stop")
    assert.equal(g.text, "\n abc")
    assert.equal(g.text.trim(), "abc")
  })
  it("stops at the first stop string after the answer began, and cuts it", () => {
    assert.deepEqual([run("ab\n\nQ: c", { stop: ["\n\n", "Q:"] }).text, run("ab Q:\n\nc", { stop: ["\n\n", "Q:"] }).text], ["ab", "ab "])
    // a stop string right after leading whitespace: the answer is empty, and said to have stopped
    const g = run("\n\nQ: abc", { stop: ["\n\n", "Q:"] })
    assert.equal(g.finishReason, "stop")
    assert.equal(g.text.trim(), "")
  })
  it("ends at end-of-text (not kept) or after maxNewTokens", () => {
    assert.deepEqual(run("abc", {}), { text: "abc", tokenIds: tokenizer.encode("abc"), finishReason: "eos", truncatedTokens: 0 })
    const long = run("   abcabc", { maxNewTokens: 5, stop: ["\n"] })
    assert.equal(long.finishReason, "length")
    assert.equal(long.text, "   ab")
  })
})
