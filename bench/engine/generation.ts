/**
 * Greedy generation through model/runtime/generate.ts on fleuve's WGSL decoder and on the tfjs runtime,
 * in one process on the same device and weights: issue 9's shape (batch 16, prompt 128, 128 new
 * tokens; end-of-text ignored so every row makes them all) on a Qwen3-0.6B-shaped model with
 * random weights (bench/engine/scoring-fixture.ts). Prints one JSON object a line: per path
 * tokens/s and wall time, peak memory of the decoder, and how far the two paths' tokens agree
 * (the first difference of each row, and whether the decoder's token was, under tfjs' f32 log-probs
 * at that position, within 0.05 of the best: a near-tie, not an error).
 *
 *   node --import tsx bench/engine/generation.ts [--layers 28] [--batch 16] [--prompt 128] [--new 128] [--tfjs-new 16]
 *   node --import tsx bench/engine/generation.ts --tiny --backend cpu      (a smoke run: tfjs only)
 */
import * as tf from "@tensorflow/tfjs-core"
import { parseArgs } from "node:util"
import { type BackendName, describeBackend, selectBackend } from "../../model/tfjs/backend.ts"
import { describeGenerationPath, type Generation, generateGreedy } from "../../model/runtime/generate.ts"
import { scoringPathFor, setScoringEngine } from "../../model/runtime/scoring.ts"
import { benchConfig, benchTokenizer, randomF16Model } from "./scoring-fixture.ts"

const { values: args } = parseArgs({
  options: {
    layers: { type: "string", default: "28" }, batch: { type: "string", default: "16" }, prompt: { type: "string", default: "128" },
    new: { type: "string", default: "128" }, "tfjs-new": { type: "string", default: "16" }, backend: { type: "string", default: "webgpu" }, tiny: { type: "boolean", default: false }
  }
})
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o))
emit({ kind: "device", backend: describeBackend(await selectBackend(args.backend as BackendName)) })
const config = benchConfig(Number(args.layers), args.tiny)
const model = await randomF16Model(config)
const tokenizer = benchTokenizer()
const [B, P] = [Number(args.batch), Number(args.prompt)]
// prompts of exactly P tokens: ids of the tiny tokenizer (< 384) decoded, so the tokenizer round trip is exact
const prompts = Array.from({ length: B }, (_, r) => {
  let ids = Array.from({ length: P }, (_, i) => 3 + ((r * 977 + i * 131) % 380))
  for (let guard = 0; tokenizer.encode(tokenizer.decode(ids)).length !== P && guard < 8; guard++) ids = tokenizer.encode(tokenizer.decode(ids)).slice(0, P)
  return tokenizer.decode(ids)
})

const run = async (engine: "auto" | "tfjs", maxNewTokens: number, decoderFeed: "host" | "device" = "device"): Promise<Array<Generation>> => {
  setScoringEngine(engine)
  const path = await describeGenerationPath(model)
  await generateGreedy(model, tokenizer, prompts.slice(0, 2), { maxNewTokens: 2, stopAtEos: false }) // warm-up: shaders, buffers
  const timings = { submitted: 0, read: 0, checkpoints: 0, steps: 0, reads: 0 }
  const t0 = performance.now()
  const out = await generateGreedy(model, tokenizer, prompts, { maxNewTokens, stopAtEos: false, maxBatch: B, decodeTimings: timings, decoderFeed })
  const seconds = (performance.now() - t0) / 1000
  const tokens = out.reduce((a, g) => a + g.tokenIds.length, 0)
  // what the decoder allocated (weights, KV caches, activations: every GPUBuffer of the engine scorer and its decoder)
  const scorer = engine === "auto" ? await scoringPathFor(model) : undefined
  const allocated = scorer?._tag === "Engine" ? scorer.scorer.allocatedBytes : undefined
  emit({ kind: "generation", engine, ...(engine === "auto" ? { feed: decoderFeed } : {}), path, layers: config.numLayers, batch: B, prompt: P, new_tokens: maxNewTokens, tokens, seconds: +seconds.toFixed(3), tokens_per_s: Math.round(tokens / seconds), ...(allocated ? { gpu_bytes_allocated: allocated } : {}), ...(timings.steps > 0 ? { decoder_ms: { submitted: Math.round(timings.submitted), read: Math.round(timings.read), checkpoints: Math.round(timings.checkpoints), steps: timings.steps, reads: timings.reads } } : {}) })
  return out
}

const hostFed = await run("auto", Number(args.new), "host")
const decoder = await run("auto", Number(args.new), "device")
emit({ kind: "feeds-agree", rows: decoder.filter((g, r) => g.tokenIds.length === hostFed[r]!.tokenIds.length && g.tokenIds.every((t, i) => t === hostFed[r]!.tokenIds[i])).length, of: B })
const tfjs = await run("tfjs", Number(args["tfjs-new"]))
// Where the two differ first, and whether the decoder's token there is a near-tie under tfjs' f32 log-probs
const rows = await Promise.all(decoder.map(async (g, r) => {
  const reference = tfjs[r]!.tokenIds
  const first = reference.findIndex((t, i) => g.tokenIds[i] !== t)
  if (first < 0) return { row: r, agree: reference.length }
  const ids = [...tokenizer.encode(prompts[r]!), ...reference.slice(0, first)]
  const { logits } = model.forward([ids])
  const lp = tf.tidy(() => tf.logSoftmax(tf.reshape(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, -1]), [-1])))
  const values = (await lp.data()) as Float32Array
  tf.dispose([logits, lp])
  const best = values.reduce((m, v) => Math.max(m, v), -Infinity)
  return { row: r, agree: first, decoderTokenGap: +(best - values[g.tokenIds[first]!]!).toFixed(4) }
}))
emit({ kind: "agreement", compared_tokens: Number(args["tfjs-new"]), rows_identical: rows.filter((x) => x.agree === Number(args["tfjs-new"])).length, rows })
model.dispose()
