// fleuve's WGSL engine as the scoring path (model/wgsl/engine-scorer.ts through model/runtime/scoring.ts)
// against the tfjs runtime on tfjs' f32 CPU kernels, on a 128-aligned random Qwen3 (untied head)
// whose weights are f16-rounded so both paths hold the same values, with the tiny fixture's
// tokenizer. Also: a LoRA pair merged on upload against the tfjs runtime applying it unmerged,
// and rows forced to split equal to the unsplit batch. Needs webgpu with tensor cores: skips,
// saying why, elsewhere (CPU-only CI).
import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { selectBackend, webgpuEngineGpu } from "../../../model/tfjs/backend.ts"
import { EngineScorer } from "../../../model/wgsl/engine-scorer.ts"
import { roundF16 } from "../../../model/wgsl/kernels/buffers.ts"
import { expectedShapes, projectionPath, Qwen3Model } from "../../../model/tfjs/qwen3-model.ts"
import { prepareContinuations } from "../../../model/runtime/scoring-prep.ts"
import { describeScoringPath, releaseScoringEngine, type ScoredContext, scoreContinuations, scoringPathFor } from "../../../model/runtime/scoring.ts"
import { type HeldoutLoss, heldoutLoss } from "../../../model/runtime/heldout-loss.ts"
import { loadTokenizer } from "../../../model/formats/tokenizer/tokenizer.ts"
import { engineTestConfig, engineTestSkip } from "../../helpers/engine-fixture.ts"
import { tinyDir } from "../../helpers/model-fixture.ts"
import { random } from "../../helpers/numeric.ts"

const skip = await engineTestSkip()
const config = engineTestConfig
// f16-rounded: the engine holds f16 weights, the reference sees the same values in f32. Large
// embeddings, small projections and a head equal to the embeddings scaled make a model that
// predicts "the current token again" by a clear margin: options repeating a token are greedy,
// so greedy flags are compared both ways, not only as false.
const embedding = roundF16(random(config.vocabSize * config.hiddenSize, 11, 0.5))
const host = [...expectedShapes(config)].map(([name, shape], i) => {
  const n = shape.reduce((a, b) => a * b, 1)
  const values = name === "model.embed_tokens.weight"
    ? embedding
    : name === "lm_head.weight"
    ? roundF16(embedding.map((v) => v * 0.05))
    : name.includes("norm")
    ? random(n, 50 + i, 0.2).map((v) => 1 + v)
    : roundF16(random(n, 100 + i, 0.03))
  return [name, shape, values] as const
})
const modelOf = (lora: boolean) => {
  const m = new Qwen3Model(config, new Map(host.map(([n, s, d]) => [n, tf.tensor(d, [...s])])))
  if (lora) {
    for (const [layer, module, inDim, outDim] of [[0, "q_proj", 256, 256], [1, "down_proj", 512, 256]] as const) {
      m.lora.set(projectionPath(layer, module), {
        a: tf.variable(tf.tensor(random(4 * inDim, 7 + layer, 0.1), [4, inDim])),
        b: tf.variable(tf.tensor(random(outDim * 4, 9 + layer, 0.1), [outDim, 4])),
        scale: 2,
        dropout: 0
      })
    }
  }
  return m
}
const tokenizer = loadTokenizer(tinyDir)
const sentence = "Le patient présente une fièvre persistante depuis trois jours. "
const items: Array<{ context: string; options: Array<string>; window?: number }> = [
  { context: "Le patient présente une", options: [" fièvre", " toux sèche", " douleur abdominale localisée"] },
  { context: "Le patient zz", options: ["zzz", "zzxz", " fièvre", "zzzzzzzz"] },
  { context: "Le patient présente ----", options: ["--", "-x-", " une"] },
  { context: "La tension artérielle est de ", options: ["14/9", "12/8 et la fréquence cardiaque de 92"] },
  { context: "", options: ["Un traitement par amoxicilline", "Le patient"] },
  { context: sentence.repeat(6), options: [" Un traitement", " La tension artérielle est de 14/9."], window: 48 },
  { context: sentence.repeat(2) + "Les antécédents familiaux comprennent", options: [" un diabète de type 2", " une hypertension", " rien", " un diabète de type 2 et une hypertension."] }
]

const scoreAll = async (score: (context: string, options: Array<string>, window?: number) => Promise<ScoredContext>) => {
  const out: Array<ScoredContext> = []
  for (const it of items) out.push(await score(it.context, it.options, it.window))
  return out
}
const windowOf = (w?: number) => (w === undefined ? {} : { contextWindow: w })

/**
 * Per option, whether its greedy flag is clear under the reference: at every continuation
 * position the target beats, or trails, the best other token by more than 0.05.
 */
const clearMargins = async (model: Qwen3Model): Promise<Array<Array<boolean>>> => {
  const out: Array<Array<boolean>> = []
  for (const it of items) {
    const p = prepareContinuations(tokenizer, it.context, it.options, { window: it.window ?? config.maxPositions, eosTokenId: config.eosTokenId })
    const clear: Array<boolean> = []
    for (const c of p.continuations) {
      const ids = [...p.prompt, ...c.slice(0, -1)]
      const { logits } = model.forward([ids])
      const lp = tf.logSoftmax(logits)
      const v = (await lp.data()) as Float32Array
      tf.dispose([logits, lp])
      const V = config.vocabSize
      clear.push(c.every((t, j) => {
        const row = v.subarray((p.prompt.length - 1 + j) * V, (p.prompt.length + j) * V)
        let other = -Infinity
        row.forEach((x, k) => { if (k !== t) other = Math.max(other, x) })
        return Math.abs(row[t]! - other) > 0.05
      }))
    }
    out.push(clear)
  }
  return out
}

const compare = (got: ReadonlyArray<ScoredContext>, want: ReadonlyArray<ScoredContext>, clear: ReadonlyArray<ReadonlyArray<boolean>>, tol: number) => {
  let maxAbs = 0
  let flags = 0
  got.forEach((g, i) => {
    const w = want[i]!
    assert.equal(g.truncatedTokens, w.truncatedTokens, `item ${i} truncation`)
    assert.equal(g.contextTokens, w.contextTokens, `item ${i} context tokens`)
    g.options.forEach((o, k) => {
      const r = w.options[k]!
      assert.deepEqual(o.tokenIds, r.tokenIds)
      o.tokenLogprobs.forEach((lp, j) => (maxAbs = Math.max(maxAbs, Math.abs(lp - r.tokenLogprobs[j]!))))
      // the option's sum: within the per-token tolerance times its tokens
      assert.ok(Math.abs(o.logprob - r.logprob) < tol * o.tokenIds.length, `item ${i} option ${k} log-prob ${o.logprob} vs ${r.logprob}`)
      if (clear[i]![k]) {
        flags++
        assert.equal(o.greedy, r.greedy, `item ${i} option ${k} greedy`)
      }
    })
  })
  assert.ok(maxAbs < tol, `max |Δ log-prob| ${maxAbs}`)
  return { maxAbs, flags }
}

describe("scoring on fleuve's WGSL engine", { skip }, () => {
  const engine: { plain?: Array<ScoredContext>; split?: Array<ScoredContext>; lora?: Array<ScoredContext>; disposedModelsScorer?: EngineScorer; disposedModel?: Qwen3Model; heldout?: HeldoutLoss } = {}
  // held-out text: three packed sequences of 48 tokens and a dropped tail, as DAPT packs its corpus
  const heldoutTexts = [sentence.repeat(3), "La tension artérielle est de 14/9 et la fréquence cardiaque de 92. ".repeat(3), items[6]!.context]
  const heldoutSeqLen = 48

  it("is chosen on webgpu with tensor cores, and says so", async () => {
    const model = modelOf(false)
    assert.equal(await describeScoringPath(model), "scoring: fleuve WGSL engine (f16, tensor cores)")
    const path = await scoringPathFor(model)
    assert.equal(path._tag, "Engine")
    assert.equal(await scoringPathFor(model), path, "one engine scorer per model")
    engine.plain = await scoreAll((c, o, w) => scoreContinuations(model, tokenizer, c, o, windowOf(w)))
    if (path._tag === "Engine") {
      assert.ok(path.scorer.cachedEngines.length > 0)
      engine.disposedModelsScorer = path.scorer
    }
    // disposed without releaseScoringEngine: scoring the next model frees this one's scorer
    model.dispose()
    engine.disposedModel = model
  })

  it("scores rows split to 128-token batches exactly as unsplit", async () => {
    const model = modelOf(false)
    const opened = await EngineScorer.create(model, webgpuEngineGpu()!, { maxTokensPerBatch: 128, maxEngines: 2 })
    assert.equal(opened._tag, "Ready")
    if (opened._tag !== "Ready") return
    engine.split = await scoreAll((c, o, w) => opened.scorer.scoreContinuations(tokenizer, c, o, windowOf(w)))
    assert.ok(opened.scorer.cachedEngines.length <= 2)
    opened.scorer.dispose()
    assert.deepEqual(opened.scorer.cachedEngines, [])
    model.dispose()
    engine.split.forEach((s, i) => s.options.forEach((o, k) => {
      const u = engine.plain![i]!.options[k]!
      assert.equal(o.greedy, u.greedy)
      o.tokenLogprobs.forEach((lp, j) => assert.ok(Math.abs(lp - u.tokenLogprobs[j]!) < 1e-4, `item ${i} option ${k} token ${j}: ${lp} vs ${u.tokenLogprobs[j]}`))
    }))
  })

  it("merges LoRA pairs into the uploaded weights, and rebuilds when they change", async () => {
    const model = modelOf(true)
    const first = await scoringPathFor(model)
    assert.deepEqual(engine.disposedModelsScorer?.cachedEngines, [], "a disposed model's engines are freed")
    engine.lora = await scoreAll((c, o, w) => scoreContinuations(model, tokenizer, c, o, windowOf(w)))
    // a training step assigns new values: the uploaded copy is stale and must be rebuilt
    const pair = model.lora.get(projectionPath(0, "q_proj"))!
    pair.b.assign(tf.mul(pair.b, 1.5))
    const second = await scoringPathFor(model)
    assert.notEqual(second, first)
    await releaseScoringEngine(model)
    model.dispose()
  })

  it("computes the held-out loss on the engine, without falling back", async () => {
    const model = modelOf(true)
    const fallbacks: Array<string> = []
    engine.heldout = await heldoutLoss(model, tokenizer, heldoutTexts, heldoutSeqLen, { onFallback: (line) => fallbacks.push(line) })
    assert.deepEqual(fallbacks, [])
    assert.ok(engine.heldout.sequences >= 2, `${engine.heldout.sequences} sequences`)
    assert.equal(engine.heldout.tokens, engine.heldout.sequences * (heldoutSeqLen - 1))
    await releaseScoringEngine(model)
    model.dispose()
  })

  it("matches the tfjs runtime on f32 CPU kernels: log-probs within 1e-2, same greedy flags where the margin is clear", async () => {
    // the LoRA pairs move log-probs by more than the tolerance: merging them is really checked
    const moved = Math.max(...engine.lora!.flatMap((s, i) => s.options.map((o, k) => Math.abs(o.logprob - engine.plain![i]!.options[k]!.logprob))))
    assert.ok(moved > 0.05, `LoRA moved option log-probs by at most ${moved}`)
    await selectBackend("cpu")
    for (const [name, got, lora] of [["base", engine.plain, false], ["LoRA", engine.lora, true]] as const) {
      assert.ok(got, `the engine's ${name} scores`)
      const model = modelOf(lora)
      assert.match(await describeScoringPath(model), /^scoring: tfjs runtime/)
      const want = await scoreAll((c, o, w) => scoreContinuations(model, tokenizer, c, o, windowOf(w)))
      const { flags } = compare(got, want, await clearMargins(model), 1e-2)
      assert.ok(flags >= 8, `${name}: greedy flags compared on ${flags} options`)
      model.dispose()
    }
  })

  it("computes the held-out loss as the tfjs runtime on f32 CPU kernels does (mean NLL within 1e-2)", async () => {
    assert.ok(engine.heldout, "the engine's held-out loss")
    await selectBackend("cpu")
    const model = modelOf(true)
    const want = await heldoutLoss(model, tokenizer, heldoutTexts, heldoutSeqLen)
    model.dispose()
    assert.equal(engine.heldout.tokens, want.tokens)
    assert.ok(Math.abs(engine.heldout.meanNll - want.meanNll) < 1e-2, `engine ${engine.heldout.meanNll} vs tfjs ${want.meanNll}`)
  })
})
