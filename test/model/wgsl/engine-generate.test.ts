// Greedy generation on fleuve's WGSL decoder (model/wgsl/qwen3-decoder.ts through model/runtime/generate.ts)
// against the tfjs runtime's f32 forward on the same f16-rounded random Qwen3 (GQA, head_dim 64,
// untied head) with the tiny fixture's tokenizer: the decoder's log-probs fed token by token
// against its KV cache, generation of prompts of different lengths in one batch, and batching that
// changes nothing. Needs webgpu with tensor cores: skips, saying why, elsewhere (CPU-only CI).
import * as tf from "@tensorflow/tfjs-core"
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { webgpuEngineGpu } from "../../../model/tfjs/backend.ts"
import { EngineScorer } from "../../../model/wgsl/engine-scorer.ts"
import { setDecoderKernels, setDecoderLayout } from "../../../model/wgsl/qwen3-decoder.ts"
import { attendDecisions } from "../../../model/wgsl/decode-attend-choice.ts"
import { describeGenerationPath, generateGreedy } from "../../../model/runtime/generate.ts"
import { roundF16 } from "../../../model/wgsl/kernels/buffers.ts"
import { expectedShapes, Qwen3Model } from "../../../model/tfjs/qwen3-model.ts"
import { setScoringEngine } from "../../../model/runtime/scoring.ts"
import { useTensorCoreMatmul } from "../../../model/tfjs/webgpu-kernels.ts"
import { loadTokenizer } from "../../../model/formats/tokenizer/tokenizer.ts"
import { engineTestConfig, engineTestSkip } from "../../helpers/engine-fixture.ts"
import { tinyDir } from "../../helpers/model-fixture.ts"
import { random } from "../../helpers/numeric.ts"

const skip = await engineTestSkip()
const config = engineTestConfig
/** The random model; `poison`: one weight of that tensor NaN (issue 20). */
const randomModel = (poison?: string) => new Qwen3Model(config, new Map([...expectedShapes(config)].map(([name, shape], i) => {
  const n = shape.reduce((a, b) => a * b, 1)
  const values = name.includes("norm") ? random(n, 50 + i, 0.2).map((v) => 1 + v) : roundF16(random(n, 100 + i, 0.08))
  if (name === poison) values[5] = Number.NaN
  return [name, tf.tensor(values, [...shape])] as const
})))
const model = randomModel()
const tokenizer = loadTokenizer(tinyDir)
const V = config.vocabSize

/** tfjs' f32 log-probs at every position of one sequence (the reference: tfjs' stock f32 kernels, not the tensor-core matmul). */
const referenceLogprobs = async (ids: ReadonlyArray<number>): Promise<Float32Array> => {
  useTensorCoreMatmul(false)
  const { logits } = model.forward([[...ids]])
  const lp = tf.logSoftmax(logits)
  const values = (await lp.data()) as Float32Array
  tf.dispose([logits, lp])
  useTensorCoreMatmul(true)
  return values
}

/** Each token the decoder chose after `prompt` is within 0.05 of the best under the f32 reference, given what it chose before. */
const assertNearBest = async (prompt: string, chosen: ReadonlyArray<number>, r: number) => {
  const ids = [...tokenizer.encode(prompt), ...chosen]
  const lp = await referenceLogprobs(ids.slice(0, -1))
  const start = ids.length - 1 - chosen.length
  chosen.forEach((t, j) => {
    const row = lp.subarray((start + j) * V, (start + j + 1) * V)
    const best = Math.max(...row)
    assert.ok(best - row[t]! < 0.05, `prompt ${r} token ${j}: ${row[t]} vs best ${best}`)
  })
}

/** Greedy generations of `batch` in one batch (24 new tokens) with the decoder laid out as `layout`, the default layout restored after. */
const generateWith = async (layout: Parameters<typeof setDecoderLayout>[0], batch: ReadonlyArray<string>) => {
  setDecoderLayout(layout)
  try {
    return await generateGreedy(model, tokenizer, [...batch], { maxNewTokens: 24, stopAtEos: false, maxBatch: batch.length })
  } finally {
    setDecoderLayout({})
  }
}

/**
 * How many rows of `got` have `base`'s tokens; every other row must part at a near-tie: at its first
 * difference, with the same history up to there, both tokens within 0.05 of the best under the f32
 * reference (two kernel sets summing in another order may part there, never elsewhere).
 */
const identicalOrNearTie = async (label: string, batch: ReadonlyArray<string>, got: ReadonlyArray<{ readonly tokenIds: ReadonlyArray<number> }>, base: ReadonlyArray<{ readonly tokenIds: ReadonlyArray<number> }>): Promise<number> => {
  let identical = 0
  for (const [r, g] of got.entries()) {
    const first = g.tokenIds.findIndex((t, i) => t !== base[r]!.tokenIds[i])
    if (first < 0) {
      identical++
      continue
    }
    const lp = await referenceLogprobs([...tokenizer.encode(batch[r]!), ...g.tokenIds.slice(0, first)])
    const row = lp.subarray(lp.length - V)
    const best = Math.max(...row)
    assert.ok(best - row[g.tokenIds[first]!]! < 0.05 && best - row[base[r]!.tokenIds[first]!]! < 0.05, `${label}, row ${r} token ${first}: ${g.tokenIds[first]} vs ${base[r]!.tokenIds[first]}, not a near-tie`)
  }
  return identical
}

const prompts = ["Le patient présente une", "La tension artérielle est de 14/9 et la fréquence cardiaque", "Un", "Les antécédents familiaux comprennent un diabète de type 2"]

describe("generation on fleuve's WGSL decoder", { skip }, () => {
  it("is chosen on webgpu with tensor cores, and says so", async () => {
    assert.equal(await describeGenerationPath(model), "generation: fleuve WGSL decoder (f16, KV cache)")
    setScoringEngine("tfjs")
    assert.match(await describeGenerationPath(model), /^generation: tfjs runtime \(asked for/)
    setScoringEngine(undefined)
  })

  for (const [kernels, attend, gemv, fold] of [
    ["fused", "gqa", "cuda-cores", false], ["fused", "gqa-split", "cuda-cores", false],
    ["fused", "coalesced", "cuda-cores", false], ["fused", "simple", "cuda-cores", false], ["fused", "split", "cuda-cores", false], ["fused", "split", "cuda-cores", true],
    ["fused", "split", "tensor-cores", false], ["fused", "coalesced", "blocked", false], ["unfused", "simple", "cuda-cores", false]
  ] as const) it(`gives, one token a step against its KV cache, the log-probs of tfjs' f32 forward over the whole sequence (within 2e-2; ${kernels} layers${kernels === "fused" ? `, ${attend} attention${fold ? " combined in the o GEMV" : ""}, GEMVs ${gemv === "blocked" ? "blocked, 16 rows" : `on the ${gemv}`}` : ""})`, async () => {
    setDecoderKernels(kernels)
    setDecoderLayout({ attend, gemv, foldCombine: fold, foldFeed: fold })
    const opened = await EngineScorer.create(model, webgpuEngineGpu()!)
    assert.equal(opened._tag, "Ready")
    const scorer = (opened as { scorer: EngineScorer }).scorer
    // the blocked GEMVs run where the kernels are written for 8 or 16 rows: 16 rows for them, 3 otherwise
    const rows = Array.from({ length: gemv === "blocked" ? 16 : 3 }, (_, r) => Array.from({ length: 150 }, (_, i) => (r * 131 + i * 37 + ((i * i) % 7)) % V))
    const decoder = await scorer.decoder(rows.length, 149)
    setDecoderKernels("fused")
    setDecoderLayout({})
    assert.equal(decoder.kernels, kernels)
    if (kernels === "fused") assert.equal(decoder.gemv, gemv, "the GEMVs run where asked (this card has tensor cores, the widths fit; blocked at 16 rows)")
    // a step: 5 dispatches a fused layer (15 unfused), the embedding, the head, the feed and the recording
    // (the split attention: 6 a layer, its chunks then their combination; 5 with the combination in
    // the o GEMV, and the feed, embedding and record in the pick: the layers, the lm_head and the pick's 2)
    if (kernels === "fused") assert.equal(decoder.dispatchesPerStep, fold ? 5 * config.numLayers + 3 : (attend === "split" || attend === "gqa-split" ? 6 : 5) * config.numLayers + 6)
    const got = rows.map(() => new Float32Array(149))
    const argmax = rows.map(() => new Uint32Array(149))
    for (let s = 0; s < 149; s++) {
      const step = await decoder.step(Uint32Array.from(rows.map((r) => r[s]!)), s, { targets: Uint32Array.from(rows.map((r) => r[s + 1]!)) })
      rows.forEach((_, r) => {
        got[r]![s] = step!.logprob[r]!
        argmax[r]![s] = step!.argmax[r]!
      })
    }
    let maxAbs = 0
    let clear = 0
    for (const [r, ids] of rows.entries()) {
      const want = await referenceLogprobs(ids.slice(0, 149))
      for (let s = 0; s < 149; s++) {
        maxAbs = Math.max(maxAbs, Math.abs(got[r]![s]! - want[s * V + ids[s + 1]!]!))
        const row = [...want.subarray(s * V, (s + 1) * V)]
        const best = row.indexOf(Math.max(...row))
        const second = Math.max(...row.filter((_, k) => k !== best))
        if (row[best]! - second > 0.05) {
          clear++
          assert.equal(argmax[r]![s], best, `row ${r} step ${s}: argmax`)
        }
      }
    }
    assert.ok(maxAbs < 2e-2, `max |Δ log-prob| ${maxAbs}`)
    assert.ok(clear > 100, `argmax compared at ${clear} positions`)
    scorer.dispose()
  })

  it("generates prompts of different lengths together as tfjs does each alone, every token a best one under the f32 reference", async () => {
    const maxNewTokens = 24
    const decoded = await generateGreedy(model, tokenizer, prompts, { maxNewTokens, stopAtEos: false })
    setScoringEngine("tfjs")
    const reference = await generateGreedy(model, tokenizer, prompts, { maxNewTokens, stopAtEos: false })
    setScoringEngine(undefined)
    let identical = 0
    for (const [r, g] of decoded.entries()) {
      assert.equal(g.tokenIds.length, maxNewTokens)
      assert.equal(g.finishReason, "length")
      assert.equal(g.text, tokenizer.decode([...g.tokenIds]))
      if (g.tokenIds.every((t, i) => t === reference[r]!.tokenIds[i])) identical++
      await assertNearBest(prompts[r]!, g.tokenIds, r)
    }
    assert.ok(identical >= 2, `${identical} of ${prompts.length} rows identical to the tfjs runtime's`)
  })

  it("generates with the gqa attention (a workgroup a row and kv head, whole or split) the default coalesced attention's tokens at 16 rows, rows parting only at a near-tie", async () => {
    // 16 prompts of different lengths from the four: each alone, then pairs of them
    const batch = [...prompts, ...prompts.flatMap((a, i) => prompts.filter((_, j) => j !== i).map((b) => `${a} ${b}`))].slice(0, 16)
    const base = await generateWith({ attend: "coalesced" }, batch)
    // the default layouts, then fewer keys a team (head_dim 64: teams of 16 lanes) in more subgroups
    for (const [attend, gqa] of [["gqa", undefined], ["gqa-split", undefined], ["gqa", { warps: 16, keys: 4 }], ["gqa-split", { warps: 8, keys: 4 }]] as const) {
      const name = `${attend}${gqa ? ` ${gqa.warps}x${gqa.keys}` : ""}`
      const identical = await identicalOrNearTie(`${name} against coalesced`, batch, await generateWith({ attend, ...(gqa ? { gqa } : {}) }, batch), base)
      assert.ok(identical >= 8, `${name}: ${identical} of ${batch.length} rows identical`)
    }
  })

  it("generates with the fused layers the unfused decoder's tokens, rows parting only at a near-tie (both choices within 0.05 of the f32 best)", async () => {
    const long = [`${prompts[1]} ${prompts[3]} ${prompts[0]}`, ...prompts]
    const maxNewTokens = 24
    setDecoderKernels("unfused")
    const before = await generateGreedy(model, tokenizer, long, { maxNewTokens, stopAtEos: false })
    setDecoderKernels("fused")
    const fused = await generateGreedy(model, tokenizer, long, { maxNewTokens, stopAtEos: false })
    const identical = await identicalOrNearTie("fused against unfused", long, fused, before)
    // the fused layers keep the normalised activations in f32 (the unfused ones round them to f16)
    // and sum the lm_head in another order: a row may part at a near-tie, as the decoder and tfjs do
    assert.ok(identical >= 2, `${identical} of ${long.length} rows identical`)
  })

  it("generates with the folds (the attention's chunks combined in the o GEMV, the next step fed by the pick) the tokens of the plain split kernels, 1 row and 5", async () => {
    const long = [`${prompts[1]} ${prompts[3]} ${prompts[0]}`, ...prompts]
    for (const batch of [[long[0]!], long]) {
      const generate = (layout: Parameters<typeof setDecoderLayout>[0]) => generateWith(layout, batch)
      const plain = await generate({ attend: "split" })
      // the feed folded changes no arithmetic: the same tokens
      assert.deepEqual((await generate({ attend: "split", foldFeed: true })).map((g) => g.tokenIds), plain.map((g) => g.tokenIds), `${batch.length} row(s): the feed in the pick`)
      // the chunks combined in the o GEMV: the combine pass's sums in its order (rounding aside, a near-tie may part)
      const folded = await generate({ attend: "split", foldCombine: true, foldFeed: true })
      await identicalOrNearTie(`${batch.length} row(s), folded against plain`, batch, folded, plain)
    }
  })

  it("generates with the blocked GEMVs at 16 rows the CUDA-core GEMVs' tokens, rows parting only at a near-tie (both choices within 0.05 of the f32 best)", async () => {
    // 16 prompts of different lengths (the decoder's kernels for 16 rows)
    const sixteen = Array.from({ length: 16 }, (_, i) => `${prompts[i % 4]} ${prompts[(i * 3 + 1) % 4]}`.slice(0, 30 + 4 * i))
    const plain = await generateWith({ gemv: "cuda-cores" }, sixteen)
    const blocked = await generateWith({ gemv: "blocked" }, sixteen)
    for (const g of blocked) assert.equal(g.tokenIds.length, 24)
    const identical = await identicalOrNearTie("blocked against the CUDA-core GEMVs", sixteen, blocked, plain)
    // the blocked GEMVs sum in another order than the CUDA-core ones: a row may part at a near-tie
    assert.ok(identical >= 12, `${identical} of 16 rows identical`)
  })

  it("generates with the tensor-core GEMVs' loads a step ahead exactly their tokens at 16 rows (the same products in the same order)", async () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => `${prompts[(i * 3) % 4]} ${prompts[(i + 2) % 4]}`.slice(0, 26 + 5 * i))
    const plain = await generateWith({ gemv: "tensor-cores", tcPrefetch: false }, sixteen)
    const ahead = await generateWith({ gemv: "tensor-cores", tcPrefetch: true }, sixteen)
    for (const g of ahead) assert.equal(g.tokenIds.length, 24)
    assert.deepEqual(ahead.map((g) => g.tokenIds), plain.map((g) => g.tokenIds))
  })

  it("generates with the o and down GEMVs' K split over 2 workgroups the unsplit tensor-core GEMVs' tokens at 16 rows, rows parting only at a near-tie", async () => {
    const sixteen = Array.from({ length: 16 }, (_, i) => `${prompts[(i * 3 + 2) % 4]} ${prompts[i % 4]}`.slice(0, 28 + 4 * i))
    // unroll 1: the model's widths (256, 512) are multiples of the K step of 2 parts, 2 · 8 warps · 16
    const layout = { gemv: "tensor-cores", tcPrefetch: false, shapes: { accumulate: { unroll: 1, prefetch: false } } } as const
    const plain = await generateWith(layout, sixteen)
    const split = await generateWith({ ...layout, tcSplit: 2 }, sixteen)
    for (const g of split) assert.equal(g.tokenIds.length, 24)
    // the decoder of this layout did split
    setDecoderKernels("fused")
    setDecoderLayout({ ...layout, tcSplit: 2 })
    try {
      const opened = await EngineScorer.create(model, webgpuEngineGpu()!)
      assert.equal(opened._tag, "Ready")
      assert.equal((await (opened as { scorer: EngineScorer }).scorer.decoder(16, 64)).kSplit, 2)
    } finally {
      setDecoderLayout({})
    }
    // part 0's products plus the pending part sum in another order than one workgroup's: a near-tie may part
    const identical = await identicalOrNearTie("K split against unsplit", sixteen, split, plain)
    assert.ok(identical >= 12, `${identical} of 16 rows identical`)
  })

  it("runs the tensor-core GEMVs by default at 9 to 16 rows, the CUDA-core ones below (sessions 14 and 16's H100 timings)", async () => {
    setDecoderKernels("fused")
    setDecoderLayout({})
    const opened = await EngineScorer.create(model, webgpuEngineGpu()!)
    assert.equal(opened._tag, "Ready")
    const scorer = (opened as { scorer: EngineScorer }).scorer
    // fewest rows first: the scorer keeps a decoder of up to twice the rows asked for (engine-scorer.ts), so
    // asked for 8 after 9 it would hand back the 9-row one. This card has 16 × 16 f16 fragments
    // (engineTestSkip) and the model's widths fit them, so not blocked (the fallback where they don't)
    for (const [rows, gemv] of [[3, "cuda-cores"], [8, "cuda-cores"], [9, "tensor-cores"], [16, "tensor-cores"]] as const) {
      assert.equal((await scorer.decoder(rows, 64)).gemv, gemv, `${rows} rows`)
    }
  })

  it("runs at 16 rows the attention its probe chose on this card where the layout names none, and the one named otherwise", async () => {
    setDecoderKernels("fused")
    setDecoderLayout({})
    const opened = await EngineScorer.create(model, webgpuEngineGpu()!)
    assert.equal(opened._tag, "Ready")
    const scorer = (opened as { scorer: EngineScorer }).scorer
    const before = attendDecisions.length
    const decoder = await scorer.decoder(16, 100)
    const decision = attendDecisions.at(-1)!
    assert.ok(attendDecisions.length <= before + 1 && decision !== undefined, "one probe at most (a decoder of this size may have asked already)")
    const timed = decision.candidates.filter((c) => "ms" in c)
    assert.ok(timed.some((c) => c.attend === "coalesced"), `the default timed: ${JSON.stringify(decision.candidates)}`)
    const chosen = decision.chosen
    assert.equal(decoder.attention, `${chosen.attend}${chosen.gqa ? ` ${chosen.gqa.warps}x${chosen.gqa.keys}` : ""}`, JSON.stringify(decision))
    // named: no probe, that attention
    setDecoderLayout({ attend: "coalesced" })
    const again = await EngineScorer.create(model, webgpuEngineGpu()!)
    assert.equal(again._tag, "Ready")
    const named = await (again as { scorer: EngineScorer }).scorer.decoder(16, 100)
    setDecoderLayout({})
    assert.equal(named.attention, "coalesced")
  })

  it("gives the same generations one prompt at a time as all in one batch, fed by the host or by the device, and stops at stop strings as tfjs does", async () => {
    const all = await generateGreedy(model, tokenizer, prompts, { maxNewTokens: 12, stopAtEos: false, decoderFeed: "host" })
    const alone = await generateGreedy(model, tokenizer, prompts, { maxNewTokens: 12, stopAtEos: false, maxBatch: 1, decoderFeed: "host" })
    assert.deepEqual(alone.map((g) => g.tokenIds), all.map((g) => g.tokenIds))
    // the device feeding its own steps (the default): the same tokens, and rows still stop where
    // they should (12 new tokens, read every 8 steps: the extra steps' tokens are dropped)
    const fed = await generateGreedy(model, tokenizer, prompts, { maxNewTokens: 12, stopAtEos: false })
    assert.deepEqual(fed.map((g) => g.tokenIds), all.map((g) => g.tokenIds))
    assert.deepEqual(fed.map((g) => g.finishReason), all.map(() => "length"))
    // a stop string from the first row's own text: cut there, reason "stop", on both feeds
    const stop = all[0]!.text.slice(4, 6)
    assert.ok(stop.length === 2)
    for (const decoderFeed of ["host", "device"] as const) {
      const [cut] = await generateGreedy(model, tokenizer, [prompts[0]!], { maxNewTokens: 12, stopAtEos: false, stop: [stop], decoderFeed })
      assert.equal(cut!.finishReason, "stop", decoderFeed)
      assert.equal(cut!.text, all[0]!.text.slice(0, all[0]!.text.indexOf(stop)), decoderFeed)
    }
  })

  it("runs generations started at once on one model (the grid's partitions) as each runs alone: batches of other sizes take turns on the decoder", async () => {
    // Sizes that make the scorer replace its kept decoder between calls (1, 4 and 3 rows, other lengths):
    // before EngineScorer.exclusive one call disposed the decoder another was stepping (the H100
    // study run: "[Buffer] used in submit while destroyed").
    const sets = [[prompts[2]!], prompts, prompts.slice(1), [prompts[0]!], prompts.slice(0, 2)]
    const options = (i: number) => ({ maxNewTokens: 6 + 5 * i, stopAtEos: false })
    const alone: Array<Array<ReadonlyArray<number>>> = []
    for (const [i, set] of sets.entries()) alone.push((await generateGreedy(model, tokenizer, set, options(i))).map((g) => g.tokenIds))
    const together = await Promise.all(sets.map((set, i) => generateGreedy(model, tokenizer, set, options(i))))
    assert.deepEqual(together.map((gs) => gs.map((g) => g.tokenIds)), alone)
  })

  it("fills the prompts' shared positions with one engine forward (prefill) and then generates as stepping through every prompt token does, each token a best one under the f32 reference", async () => {
    // prompts of 30 to 90 tokens: the shortest's first 29 positions go through the scoring engine's forward
    const long = [
      `${prompts[1]} ${prompts[3]} ${prompts[0]}`,
      `${prompts[3]}. ${prompts[1]}. ${prompts[3]}. ${prompts[0]} ${prompts[1]}`,
      `${prompts[0]} ${prompts[3]}, ${prompts[1]}`
    ]
    const lengths = long.map((p) => tokenizer.encode(p).length)
    assert.ok(Math.min(...lengths) > 20, `prompt lengths ${lengths}`)
    const maxNewTokens = 16
    const lines: Array<string> = []
    const prefilled = await generateGreedy(model, tokenizer, long, { maxNewTokens, stopAtEos: false, log: (l) => lines.push(l) })
    const stepped = await generateGreedy(model, tokenizer, long, { maxNewTokens, stopAtEos: false, prefill: false })
    assert.equal(lines.length, 1)
    assert.match(lines[0]!, new RegExp(`^3 rows, prompts ${Math.min(...lengths)}–${Math.max(...lengths)} tokens: .* prefill \\d+ ms \\(${Math.min(...lengths) - 1} positions\\)`))
    let identical = 0
    for (const [r, g] of prefilled.entries()) {
      assert.equal(g.tokenIds.length, maxNewTokens)
      if (g.tokenIds.every((t, i) => t === stepped[r]!.tokenIds[i])) identical++
      await assertNearBest(long[r]!, g.tokenIds, r)
    }
    assert.ok(identical >= 2, `${identical} of ${long.length} rows identical with and without the prefill`)
    // shortest first (the grid's order) changes nothing but the batches: results in the prompts' order
    const sorted = await generateGreedy(model, tokenizer, long, { maxNewTokens, stopAtEos: false, sortByLength: true, maxBatch: 2 })
    const unsorted = await generateGreedy(model, tokenizer, long, { maxNewTokens, stopAtEos: false, maxBatch: 2 })
    assert.deepEqual(sorted.map((g) => g.text.length > 0), unsorted.map((g) => g.text.length > 0))
    for (const [r, g] of sorted.entries()) assert.ok(g.tokenIds.every((t, i) => t === prefilled[r]!.tokenIds[i]) || g.tokenIds.every((t, i) => t === stepped[r]!.tokenIds[i]), `row ${r} out of place`)
  })

  it("fails every row whose logits are not finite (issue 20: NaN weights), on the device-fed steps with and without the prefill, and on host-fed steps", async () => {
    const poisoned = randomModel("model.layers.1.mlp.down_proj.weight")
    const long = [`${prompts[1]} ${prompts[3]} ${prompts[0]}`, `${prompts[3]}. ${prompts[1]}. ${prompts[0]}`]
    for (const [what, options] of [["prefill", {}], ["no prefill", { prefill: false }], ["host", { decoderFeed: "host" as const }]] as const) {
      const out = await generateGreedy(poisoned, tokenizer, long, { maxNewTokens: 6, stopAtEos: false, ...options })
      for (const g of out) assert.match(g.error ?? "", /not finite|non-finite/i, `${what}: ${JSON.stringify(g)}`)
    }
    poisoned.dispose()
  })
})
