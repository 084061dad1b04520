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
 *
 * Decoder kernels (issue 22 item 4): `--batches 16,1 --kernels fused,unfused` (or fused:<attention>,
 * see kernelSet) runs each batch size
 * on each kernel set (model/wgsl/qwen3-decoder.ts DecoderKernels) in turn, device-fed, and prints
 * per run the dispatches a step, prefill tokens/s (the engine forward over the prompts' shared
 * positions), ms a decoding step in the run (steps pipelined, host encode time apart) and alone
 * (step_latency_ms: one step submitted and read back, median of 20) and tokens/s, and per batch whether the kernel sets' tokens agree
 * (rows identical; else the first difference). `--host-feed false` skips the host-fed run and
 * `--tfjs-new 0` the tfjs comparison; `--profile` adds the GPU time of a step's kernels by kind.
 */
import * as tf from "@tensorflow/tfjs-core"
import { parseArgs } from "node:util"
import { type BackendName, describeBackend, selectBackend, webgpuEngineGpu } from "../../model/tfjs/backend.ts"
import { profileDispatches } from "../../model/wgsl/kernels/profile.ts"
import { useTensorCoreMatmul } from "../../model/tfjs/webgpu-kernels.ts"
import { tunedDecodeShapes } from "../../model/wgsl/decode-tune.ts"
import { describeGenerationPath, type Generation, generateGreedy } from "../../model/runtime/generate.ts"
import type { DecodeTimings } from "../../model/wgsl/engine-generate.ts"
import { scoringPathFor, setScoringEngine } from "../../model/runtime/scoring.ts"
import { decodePositions } from "../../model/wgsl/engine-generate.ts"
import { type DecoderKernels, setDecoderKernels, setDecoderLayout } from "../../model/wgsl/qwen3-decoder.ts"
import { type GqaLayout, parseGqaLayout } from "../../model/wgsl/kernels/decode-layer.ts"
import { attendDecisions } from "../../model/wgsl/decode-attend-choice.ts"
import { benchConfig, benchTokenizer, randomF16Model } from "./scoring-fixture.ts"

const { values: args } = parseArgs({
  options: {
    layers: { type: "string", default: "28" }, batch: { type: "string", default: "16" }, prompt: { type: "string", default: "128" },
    new: { type: "string", default: "128" }, "tfjs-new": { type: "string", default: "16" }, backend: { type: "string", default: "webgpu" }, tiny: { type: "boolean", default: false },
    batches: { type: "string" }, kernels: { type: "string" }, "host-feed": { type: "string", default: "true" }, profile: { type: "boolean", default: false }
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

/**
 * A kernel set of --kernels: "fused" (the decoder's defaults), "unfused", "fused:<attention>"
 * (simple, unrolled, coalesced, split, gqa or gqa-split: model/wgsl/kernels/decode-layer.ts; "-" the default;
 * gqa and gqa-split may name their layout, "gqa/<warps>x<keys>": subgroups a workgroup, keys a team a sweep),
 * then any of ":tc" (the lm_head on the tensor cores' matmul), ":mma" (the fused GEMVs on the
 * tensor cores: model/wgsl/kernels/decode-gemv-tc.ts; their depth and prefetch timed per kind on the
 * device unless ":pf" or ":nopf" says: every kind's loads a step ahead, or none; ":ks2" / ":ks4" after ":mma":
 * the o and down GEMVs' K over 2 or 4 workgroups, DecoderLayout.tcSplit), ":blk" (the blocked GEMVs at 8 or 16 rows:
 * model/wgsl/kernels/decode-gemv-blocked.ts; fewer rows keep the CUDA-core GEMV), ":cc" (the CUDA-core
 * GEMVs at any rows; without :mma, :blk or :cc the decoder's default: blocked at 9-16 rows since session 14), ":sg" / ":nosg" (up to 4 rows the CUDA-core
 * GEMVs' sums by subgroupAdd, or through workgroup memory), ":fold" / ":nofold" (both folds
 * or neither: the split attention's chunks combined in the o GEMV's prologue, and the next step's
 * feed, embedding and record in the pick; ":foldo" or ":foldfeed" one of them), e.g.
 * fused:split:mma, fused:-:blk, fused:gqa/32x8:mma, fused:-:mma:pf or fused:split:sg:fold. A set named twice runs twice (alternate them for repeats);
 * "<set>@<batch>" runs it at that batch size only (e.g. fused:split@16,fused:-:sg:fold@1).
 */
type Attend = "simple" | "unrolled" | "coalesced" | "split" | "gqa" | "gqa-split"
const FLAGS: ReadonlyArray<string> = ["tc", "mma", "pf", "nopf", "ks2", "ks4", "blk", "cc", "sg", "nosg", "fold", "nofold", "foldo", "foldfeed"]
const kernelSet = (named: string): { kernels: DecoderKernels; attend?: Attend; gqa?: GqaLayout; head: "gemv" | "tensor-core"; gemv?: "cuda-cores" | "tensor-cores" | "blocked"; tcPrefetch?: boolean; tcSplit?: number; subgroups?: boolean; foldCombine?: boolean; foldFeed?: boolean } => {
  const name = named.split("@")[0]!
  const at = named.split("@")[1]
  if (at !== undefined && !/^[1-9][0-9]*$/.test(at)) throw new Error(`--kernels: ${named}? <set>@<batch size>`)
  const [kernels, attendNamed, ...flags] = name.split(":")
  const [attend, layoutText] = (attendNamed ?? "").split("/")
  const gqa = parseGqaLayout(layoutText)
  const attends: ReadonlyArray<string> = ["simple", "unrolled", "coalesced", "split", "gqa", "gqa-split", "-"]
  const badLayout = layoutText !== undefined && (gqa === undefined || !attend!.startsWith("gqa"))
  const badPrefetch = ["pf", "nopf", "ks2", "ks4"].some((f) => flags.includes(f)) && !flags.includes("mma") // the prefetch and the K split are the tensor-core GEMVs' own
  if ((kernels !== "fused" && kernels !== "unfused") || (attendNamed !== undefined && !attends.includes(attend!)) || badLayout || badPrefetch || flags.some((f) => !FLAGS.includes(f))) {
    throw new Error(`--kernels: ${name}? fused, unfused, fused:simple|unrolled|coalesced|split|gqa[/<warps>x<keys>]|gqa-split[/<warps>x<keys>]|-[:tc][:mma[:pf|:nopf][:ks2|:ks4]|:blk|:cc][:sg|:nosg][:fold|:nofold|:foldo|:foldfeed]`)
  }
  return { kernels, ...(attend && attend !== "-" ? { attend: attend as Attend } : {}), ...(gqa ? { gqa } : {}), head: flags.includes("tc") ? "tensor-core" : "gemv", ...(flags.includes("mma") ? { gemv: "tensor-cores" as const, ...(flags.includes("pf") ? { tcPrefetch: true } : flags.includes("nopf") ? { tcPrefetch: false } : {}), ...(flags.includes("ks2") ? { tcSplit: 2 } : flags.includes("ks4") ? { tcSplit: 4 } : {}) } : flags.includes("blk") ? { gemv: "blocked" as const } : flags.includes("cc") ? { gemv: "cuda-cores" as const } : {}), ...(flags.includes("sg") ? { subgroups: true } : flags.includes("nosg") ? { subgroups: false } : {}), ...(flags.includes("fold") || flags.includes("nofold") ? { foldCombine: flags.includes("fold"), foldFeed: flags.includes("fold") } : {}),
    ...(flags.includes("foldo") ? { foldCombine: true } : {}), ...(flags.includes("foldfeed") ? { foldFeed: true } : {}) }
}

const run = async (engine: "auto" | "tfjs", maxNewTokens: number, decoderFeed: "host" | "device" = "device", batch = B, set?: string): Promise<Array<Generation>> => {
  setScoringEngine(engine)
  const chosen = set ? kernelSet(set) : undefined
  if (chosen) {
    setDecoderKernels(chosen.kernels)
    setDecoderLayout({ ...(chosen.attend ? { attend: chosen.attend } : {}), ...(chosen.gqa ? { gqa: chosen.gqa } : {}), head: chosen.head, ...(chosen.gemv ? { gemv: chosen.gemv } : {}), ...(chosen.tcPrefetch === undefined ? {} : { tcPrefetch: chosen.tcPrefetch }), ...(chosen.tcSplit === undefined ? {} : { tcSplit: chosen.tcSplit }), ...(chosen.subgroups === undefined ? {} : { subgroupReduce: chosen.subgroups }), ...(chosen.foldCombine === undefined ? {} : { foldCombine: chosen.foldCombine }), ...(chosen.foldFeed === undefined ? {} : { foldFeed: chosen.foldFeed }) })
  }
  const rows = prompts.slice(0, batch)
  const path = await describeGenerationPath(model)
  await generateGreedy(model, tokenizer, prompts.slice(0, 2), { maxNewTokens: 2, stopAtEos: false }) // warm-up: shaders, buffers
  // the batch's own decoder (sized for these positions) and prefill engine, made before the clock starts
  await generateGreedy(model, tokenizer, rows, { maxNewTokens, stopAtEos: false, maxBatch: batch, decoderFeed })
  const timings: DecodeTimings = { submitted: 0, read: 0, checkpoints: 0, steps: 0, reads: 0 }
  const t0 = performance.now()
  const out = await generateGreedy(model, tokenizer, rows, { maxNewTokens, stopAtEos: false, maxBatch: batch, decodeTimings: timings, decoderFeed })
  const seconds = (performance.now() - t0) / 1000
  const tokens = out.reduce((a, g) => a + g.tokenIds.length, 0)
  // what the decoder allocated (weights, KV caches, activations: every GPUBuffer of the engine scorer and its decoder)
  const scorer = engine === "auto" ? await scoringPathFor(model) : undefined
  const allocated = scorer?._tag === "Engine" ? scorer.scorer.allocatedBytes : undefined
  const decoder = scorer?._tag === "Engine" ? await scorer.scorer.exclusive(() => scorer.scorer.decoder(batch, decodePositions(P, maxNewTokens))) : undefined
  // one step's latency: submitted alone and its (log-prob, argmax) read back, as PyTorch's step is timed (median of 20)
  let latency: number | undefined
  if (decoder && scorer?._tag === "Engine") {
    latency = await scorer.scorer.exclusive(async () => {
      const ids = new Uint32Array(batch).fill(5)
      const times: Array<number> = []
      for (let i = 0; i < 21; i++) {
        const t1 = performance.now()
        await decoder.step(ids, decoder.positions - 1, {})
        if (i > 0) times.push(performance.now() - t1)
      }
      return times.sort((x, y) => x - y)[10]!
    })
  }
  // the steps the decoder ran after the prefill, and their wall time (reads of the token table every 8 steps included)
  const stepped = timings.steps - (timings.prefilled ?? 0)
  emit({
    kind: "generation", engine, ...(set ? { set } : {}), ...(engine === "auto" ? { feed: decoderFeed } : {}), path, layers: config.numLayers, batch, prompt: P, new_tokens: maxNewTokens, tokens, seconds: +seconds.toFixed(3), tokens_per_s: Math.round(tokens / seconds),
    ...(decoder ? { kernels: decoder.kernels, ...(decoder.layout ? { layout: JSON.parse(decoder.layout) } : {}), ...(decoder.kernels === "fused" ? { gemv: decoder.gemv, attention: decoder.attention, k_split: decoder.kSplit } : {}), dispatches_per_step: decoder.dispatchesPerStep } : {}),
    ...(timings.prefill !== undefined && timings.prefilled ? { prefill_ms: +timings.prefill.toFixed(1), prefill_positions: timings.prefilled, prefill_tokens_per_s: Math.round((batch * timings.prefilled) / (timings.prefill / 1000)) } : {}),
    ...(latency !== undefined ? { step_latency_ms: +latency.toFixed(3) } : {}),
    ...(stepped > 0 && decoderFeed === "device" ? { steps: stepped, ms_per_step: +(timings.read / stepped).toFixed(3), host_ms_per_step: +(timings.submitted / stepped).toFixed(3) } : {}),
    ...(allocated ? { gpu_bytes_allocated: allocated } : {}), ...(timings.steps > 0 ? { decoder_ms: { submitted: Math.round(timings.submitted), read: Math.round(timings.read), checkpoints: Math.round(timings.checkpoints), steps: timings.steps, reads: timings.reads } } : {})
  })
  // GPU time of one step's kernels by timestamp queries, summed by kind (each in its own pass)
  if (args.profile && decoder) {
    const times = (await profileDispatches(webgpuEngineGpu()!, decoder.stepDispatches(), 3)).sort((a, b) => b.ms - a.ms)
    const total = times.reduce((a, t) => a + t.ms, 0)
    emit({ kind: "profile", what: `decoding step, ${decoder.kernels}, batch ${batch}`, ms_total_gpu: +total.toFixed(3), kernels: times.map((t) => ({ label: t.label, count: t.count, ms: +t.ms.toFixed(4), share: +(t.ms / total).toFixed(4) })) })
  }
  if (chosen) {
    setDecoderKernels("fused")
    setDecoderLayout({})
  }
  return out
}

if (args.batches || args.kernels) {
  // issue 22 item 4: each batch size on each kernel set, and whether their tokens agree
  const allSets = (args.kernels ?? "fused").split(",")
  allSets.forEach(kernelSet)
  for (const batch of (args.batches ?? String(B)).split(",").map(Number)) {
    // the sets for this batch size (those without @ run at every one)
    const kernelSets = allSets.filter((k) => !k.includes("@") || k.endsWith(`@${batch}`))
    if (kernelSets.length === 0) continue
    const got = new Map<string, Array<Generation>>()
    for (const k of kernelSets) got.set(k, await run("auto", Number(args.new), "device", batch, k))
    // each other set against the first, row by row
    const a = got.get(kernelSets[0]!)!
    for (const other of [...new Set(kernelSets.slice(1))].filter((k) => k !== kernelSets[0])) {
      const b = got.get(other)!
      const firsts = a.map((g, r) => g.tokenIds.findIndex((t, i) => t !== b[r]!.tokenIds[i]))
      // where two rows part: both tokens' log-probs under tfjs' f32 forward (stock f32 kernels) of
      // the shared history, and the best one's: a near-tie (a gap of rounding size) or an error
      const differences: Array<Record<string, unknown>> = []
      for (const { r, f } of firsts.flatMap((f, r) => (f < 0 ? [] : [{ r, f }])).slice(0, 4)) {
        const ids = [...tokenizer.encode(prompts[r]!), ...a[r]!.tokenIds.slice(0, f)]
        useTensorCoreMatmul(false)
        const { logits } = model.forward([ids])
        const lp = tf.tidy(() => tf.logSoftmax(tf.reshape(tf.slice(logits, [0, ids.length - 1, 0], [1, 1, -1]), [-1])))
        const values = (await lp.data()) as Float32Array
        tf.dispose([logits, lp])
        useTensorCoreMatmul(true)
        const best = values.reduce((m, v) => Math.max(m, v), -Infinity)
        const [ta, tb] = [a[r]!.tokenIds[f]!, b[r]!.tokenIds[f]!]
        differences.push({ row: r, token: f, [kernelSets[0]!]: { id: ta, gap_to_best: +(best - values[ta]!).toExponential(2) }, [other]: { id: tb, gap_to_best: +(best - values[tb]!).toExponential(2) }, f32_best_logprob: +best.toFixed(4) })
      }
      emit({ kind: "kernels-agree", batch, kernels: [kernelSets[0], other], rows_identical: firsts.filter((f) => f < 0).length, of: batch, first_differences: differences })
    }
  }
  // the GEMV layouts the decoders timed and chose on this device (model/wgsl/decode-tune.ts)
  const engineGpu = webgpuEngineGpu()
  if (engineGpu) emit({ kind: "decoder-layouts", chosen: Object.fromEntries([...tunedDecodeShapes(engineGpu.device)].map(([k, v]) => [k, v])) })
  // the attention each probe chose, and every candidate's time over the layers (decode-attend-choice.ts)
  for (const d of attendDecisions) emit({ kind: "decoder-attention", ...d })
  model.dispose()
  process.exit(0)
}
const hostFed = args["host-feed"] === "false" ? undefined : await run("auto", Number(args.new), "host")
const decoder = await run("auto", Number(args.new), "device")
if (hostFed) emit({ kind: "feeds-agree", rows: decoder.filter((g, r) => g.tokenIds.length === hostFed[r]!.tokenIds.length && g.tokenIds.every((t, i) => t === hostFed[r]!.tokenIds[i])).length, of: B })
if (Number(args["tfjs-new"]) === 0) {
  model.dispose()
  process.exit(0)
}
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
