/**
 * Log-likelihood scoring end to end through model/runtime/scoring.ts, on fleuve's WGSL engine and on the
 * tfjs runtime, in one process on the same device and the same items: a Qwen3-0.6B-shaped model
 * with random weights (f16-rounded, so both paths hold the same values), multiple-choice items
 * (a context of --context tokens and --options continuations of 1–24 tokens). Prints one JSON
 * object a line: per path items/s and scored tokens/s (context + continuation tokens, as the
 * model-scorer operator counts them), and the largest log-prob gap between the two paths.
 *
 *   node --import tsx bench/engine/scoring.ts [--layers 28] [--items 64] [--options 4] [--context 256]
 *   node --import tsx bench/engine/scoring.ts --tiny --backend cpu      (a smoke run: tfjs only)
 *   node --import tsx bench/engine/scoring.ts --first 12 --items 1 [--submit-each]   (one item, to diagnose a gap)
 */
import * as tf from "@tensorflow/tfjs-core"
import { parseArgs } from "node:util"
import { type BackendName, describeBackend, selectBackend } from "../../model/tfjs/backend.ts"
import { describeScoringPath, releaseScoringEngine, type ScoredContext, scoreContinuations, type ScoringEngineName, setScoringEngine } from "../../model/runtime/scoring.ts"
import { prepareContinuations } from "../../model/runtime/scoring-prep.ts"
import { benchConfig, benchItem, benchTokenizer, randomF16Model } from "./scoring-fixture.ts"

const { values: args } = parseArgs({
  options: {
    layers: { type: "string", default: "28" }, items: { type: "string", default: "64" }, options: { type: "string", default: "4" },
    context: { type: "string", default: "256" }, backend: { type: "string", default: "webgpu" }, tiny: { type: "boolean", default: false },
    // diagnosis: start at item N (items are made from their index), and submit tfjs' GPU work after every dispatch
    first: { type: "string", default: "0" }, "submit-each": { type: "boolean", default: false }
  }
})
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o))
const choice = await selectBackend(args.backend as BackendName)
if (args["submit-each"]) tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", 1)
emit({ kind: "device", backend: describeBackend(choice) })

const config = benchConfig(Number(args.layers), args.tiny)
const model = await randomF16Model(config)
const tokenizer = benchTokenizer()
const nItems = Number(args.items)
const nOptions = Number(args.options)
const items = Array.from({ length: nItems }, (_, n) => benchItem(tokenizer, n + Number(args.first), nOptions, Number(args.context)))

const run = async (engine: ScoringEngineName): Promise<Array<ScoredContext> | undefined> => {
  setScoringEngine(engine)
  let path: string
  try {
    path = await describeScoringPath(model)
  } catch (e) {
    emit({ kind: "path", engine, unavailable: e instanceof Error ? e.message : String(e) })
    return undefined
  }
  await scoreContinuations(model, tokenizer, items[0]!.context, items[0]!.options) // warm-up: shaders, first engine
  const t0 = performance.now()
  const out: Array<ScoredContext> = []
  for (const it of items) out.push(await scoreContinuations(model, tokenizer, it.context, it.options))
  const seconds = (performance.now() - t0) / 1000
  const tokens = out.reduce((a, s) => a + s.contextTokens + s.options.reduce((b, o) => b + o.tokenIds.length, 0), 0)
  emit({ kind: "scoring", engine, path, items: nItems, options: nOptions, contextTokens: Number(args.context), layers: config.numLayers, seconds: +seconds.toFixed(3), itemsPerSecond: +(nItems / seconds).toFixed(2), tokensPerSecond: Math.round(tokens / seconds) })
  return out
}

const wgsl = await run("wgsl")
await releaseScoringEngine(model)
const tfjs = await run("tfjs")
if (wgsl && tfjs) {
  let maxAbs = 0
  let greedyDiffer = 0
  let worst = { item: 0, option: 0, token: 0 }
  const gaps: Array<number> = []
  const itemGaps = wgsl.map(() => 0)
  wgsl.forEach((s, i) => s.options.forEach((o, k) => {
    o.tokenLogprobs.forEach((lp, j) => {
      const gap = Math.abs(lp - tfjs[i]!.options[k]!.tokenLogprobs[j]!)
      gaps.push(gap)
      itemGaps[i] = Math.max(itemGaps[i]!, gap)
      if (gap > maxAbs) [maxAbs, worst] = [gap, { item: i, option: k, token: j }]
    })
    if (o.greedy !== tfjs[i]!.options[k]!.greedy) greedyDiffer++
  }))
  const over = (t: number) => gaps.filter((g) => g > t).length
  emit({
    kind: "agreement", maxAbsTokenLogprob: maxAbs, greedyFlagsDiffer: greedyDiffer, tokens: gaps.length, over1e2: over(1e-2), over1e1: over(1e-1), over1: over(1),
    itemsOver1e1: itemGaps.flatMap((g, i) => (g > 0.1 ? [i + Number(args.first)] : [])).slice(0, 20)
  })
  // The worst token scored a third way: its option's whole row (context + continuation) in one
  // tfjs forward, with no KV cache and no option batch, on the same device. Which path it sides
  // with says where the gap comes from.
  const it = items[worst.item]!
  const prepared = prepareContinuations(tokenizer, it.context, it.options, { window: config.maxPositions, eosTokenId: config.eosTokenId })
  const row = [...prepared.prompt, ...prepared.continuations[worst.option]!]
  const at = prepared.prompt.length - 1 + worst.token
  const { logits } = model.forward([row])
  const logp = tf.tidy(() => tf.logSoftmax(tf.reshape(tf.slice(logits, [0, at, 0], [1, 1, -1]), [1, -1])))
  const values = (await logp.data()) as Float32Array
  const sorted = Float32Array.from(values).sort()
  tf.dispose([logits, logp])
  // ... and a fourth: the tfjs runtime's KV-cached path with that option alone (no option batch)
  setScoringEngine("tfjs")
  const alone = (await scoreContinuations(model, tokenizer, it.context, [it.options[worst.option]!])).options[0]!.tokenLogprobs[worst.token]
  emit({
    kind: "worst-token", ...worst, item: worst.item + Number(args.first), submitEach: args["submit-each"], kernels: process.env.FLEUVE_WEBGPU_KERNELS ?? "fleuve", tfjsCachedAlone: alone, contextTokens: prepared.prompt.length, optionTokens: prepared.continuations[worst.option]!.length, target: row[at + 1],
    wgsl: wgsl[worst.item]!.options[worst.option]!.tokenLogprobs[worst.token], tfjsCachedBatch: tfjs[worst.item]!.options[worst.option]!.tokenLogprobs[worst.token],
    tfjsFullRow: values[row[at + 1]!], topLogprob: sorted[sorted.length - 1], medianLogprob: sorted[sorted.length >> 1]
  })
}
model.dispose()
