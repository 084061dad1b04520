// The scoring preparation both paths share (model/runtime/scoring-prep.ts), on the CPU: lm-eval's split
// against transformers' token ids (the tiny fixture's reference.json), truncation to the window,
// the empty context, and the errors — thrown the same through model/runtime/scoring.ts' tfjs path.
import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import { selectBackend } from "../../../model/tfjs/backend.ts"
import { loadModelDir } from "../../../model/qwen3/checkpoint.ts"
import { prepareContinuations, ScoringError, splitContinuation } from "../../../model/runtime/scoring-prep.ts"
import { describeScoringPath, onScoringPath, scoreContinuations, scoringEngineName, ScoringEngineUnavailable, setScoringEngine } from "../../../model/runtime/scoring.ts"
import type { TextTokenizer } from "../../../model/formats/tokenizer/tokenizer.ts"
import { tinyDir, tinyReference } from "../../helpers/model-fixture.ts"

const loaded = loadModelDir(tinyDir)
const { tokenizer, model } = loaded
const eos = model.config.eosTokenId
const withoutEos: TextTokenizer = { ...tokenizer, eosId: undefined }

describe("scoring preparation", () => {
  before(async () => {
    await selectBackend("cpu")
  })
  after(() => {
    setScoringEngine(undefined)
    model.dispose()
  })

  it("splits context and continuation as lm-eval does (token ids equal transformers')", () => {
    const ref = tinyReference().scoring
    assert.ok(ref.length > 0)
    for (const r of ref) {
      const s = splitContinuation(tokenizer, r.context, r.continuation)
      assert.deepEqual(s.continuation, r.continuation_ids, `${JSON.stringify(r.context)} + ${JSON.stringify(r.continuation)}`)
      const p = prepareContinuations(tokenizer, r.context, [r.continuation], { window: 1000, eosTokenId: eos })
      assert.deepEqual(p.continuations[0], r.continuation_ids)
      assert.equal(p.truncated, 0)
    }
  })

  it("moves the context's trailing spaces to the continuation", () => {
    const a = prepareContinuations(tokenizer, "The river flows to the ", ["sea."], { window: 1000, eosTokenId: eos })
    const b = prepareContinuations(tokenizer, "The river flows to the", [" sea."], { window: 1000, eosTokenId: eos })
    assert.deepEqual(a, b)
  })

  it("truncates the context on the left so that context + longest option − 1 fits the window", () => {
    const context = "The river flows to the sea, and the sea flows back"
    const full = tokenizer.encode(context)
    const conts = [" to the river.", " home."]
    const whole = prepareContinuations(tokenizer, context, conts, { window: 1000, eosTokenId: eos })
    const window = 12
    const p = prepareContinuations(tokenizer, context, conts, { window, eosTokenId: eos })
    assert.equal(p.longest, Math.max(...whole.continuations.map((c) => c.length)))
    assert.equal(p.truncated, full.length + p.longest - 1 - window)
    assert.ok(p.truncated > 0)
    assert.deepEqual(p.prompt, full.slice(p.truncated))
    assert.equal(p.prompt.length + p.longest - 1, window)
    assert.deepEqual(p.continuations, whole.continuations)
  })

  it("scores an empty context after the end-of-text token", () => {
    const p = prepareContinuations(tokenizer, "", ["The river"], { window: 1000, eosTokenId: eos })
    assert.deepEqual(p.prompt, [tokenizer.eosId])
    assert.deepEqual(p.continuations[0], tokenizer.encode("The river"))
    // the config's eos stands in where the tokenizer has none
    assert.deepEqual(prepareContinuations(withoutEos, "", ["The river"], { window: 1000, eosTokenId: 7 }).prompt, [7])
  })

  const errors: Array<[string, () => void, string]> = [
    ["no options", () => prepareContinuations(tokenizer, "ctx", [], { window: 64, eosTokenId: eos }), "no continuations to score"],
    ["an empty option", () => prepareContinuations(tokenizer, "The river", [" sea", ""], { window: 64, eosTokenId: eos }), "continuation 1 is empty after tokenization"],
    ["an option longer than the window", () => prepareContinuations(tokenizer, "The river", [" flows to the sea and back again"], { window: 4, eosTokenId: eos }), `a continuation has ${tokenizer.encode("The river flows to the sea and back again").length - tokenizer.encode("The river").length} tokens, more than the 4-token window`],
    ["an empty context and no end-of-text token", () => prepareContinuations(withoutEos, "", ["The river"], { window: 64, eosTokenId: undefined }), "empty context and no end-of-text token to stand for it"]
  ]
  for (const [what, run, message] of errors) {
    it(`rejects ${what} with a ScoringError`, () => {
      assert.throws(run, (e: unknown) => e instanceof ScoringError && e.message === message)
    })
  }

  it("gives the tfjs scoring path the same preparation and the same errors", async () => {
    assert.equal(scoringEngineName(), "auto")
    assert.match(await describeScoringPath(model), /^scoring: tfjs runtime \(the tensor backend is cpu, not webgpu\)$/)
    const context = "The river flows to the sea, and the sea flows back"
    const p = prepareContinuations(tokenizer, context, [" to the river.", " home."], { window: 12, eosTokenId: eos })
    const s = await scoreContinuations(model, tokenizer, context, [" to the river.", " home."], { contextWindow: 12 })
    assert.equal(s.truncatedTokens, p.truncated)
    assert.equal(s.contextTokens, p.prompt.length)
    assert.deepEqual(s.options.map((o) => o.tokenIds), p.continuations)
    s.options.forEach((o) => assert.ok(Math.abs(o.logprob - o.tokenLogprobs.reduce((a, b) => a + b, 0)) < 1e-9))
    await assert.rejects(scoreContinuations(model, tokenizer, "The river", [" sea", ""]), (e: unknown) => e instanceof ScoringError && e.message === "continuation 1 is empty after tokenization")
    await assert.rejects(scoreContinuations(model, tokenizer, "ctx", []), (e: unknown) => e instanceof ScoringError && e.message === "no continuations to score")
  })

  it("tells a listener the scoring path once per change", async () => {
    const lines: Array<string> = []
    onScoringPath((line) => lines.push(line))
    await scoreContinuations(model, tokenizer, "The river", [" sea"])
    await scoreContinuations(model, tokenizer, "The river", [" sea", " flows"])
    setScoringEngine("tfjs")
    await scoreContinuations(model, tokenizer, "The river", [" sea"])
    setScoringEngine(undefined)
    onScoringPath(undefined)
    assert.deepEqual(lines, ["scoring: tfjs runtime (the tensor backend is cpu, not webgpu)", "scoring: tfjs runtime (asked for (--engine tfjs / FLEUVE_SCORING_ENGINE=tfjs))"])
  })

  it("fails clearly when the WGSL engine is required and cannot run, and obeys tfjs", async () => {
    setScoringEngine("wgsl")
    await assert.rejects(describeScoringPath(model), (e: unknown) => e instanceof ScoringEngineUnavailable && /required.*cannot run: the tensor backend is cpu, not webgpu/.test(e.message))
    await assert.rejects(scoreContinuations(model, tokenizer, "The river", [" sea"]), ScoringEngineUnavailable)
    setScoringEngine("tfjs")
    assert.equal(await describeScoringPath(model), "scoring: tfjs runtime (asked for (--engine tfjs / FLEUVE_SCORING_ENGINE=tfjs))")
    setScoringEngine(undefined)
    const saved = process.env.FLEUVE_SCORING_ENGINE
    process.env.FLEUVE_SCORING_ENGINE = "cuda"
    try {
      assert.throws(() => scoringEngineName(), /FLEUVE_SCORING_ENGINE must be one of auto, wgsl, tfjs, not 'cuda'/)
      process.env.FLEUVE_SCORING_ENGINE = "tfjs"
      assert.equal(scoringEngineName(), "tfjs")
    } finally {
      if (saved === undefined) delete process.env.FLEUVE_SCORING_ENGINE
      else process.env.FLEUVE_SCORING_ENGINE = saved
    }
  })
})
