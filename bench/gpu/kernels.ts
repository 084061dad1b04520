/**
 * GPU kernel benchmark (run on the device): adapter info, matmul TFLOP/s (f16 tensor-core and
 * tiled, f16 and NF4 weights), Qwen3-0.6B-shaped linears at scoring shape (batch 16 × prompt 512
 * = 8192 tokens), and scoring through fleuve's WGSL engine (model/wgsl/qwen3-engine.ts) on a
 * Qwen3-0.6B-shaped model with random weights (each layer its own): forward alone and end to end
 * (ids up, per-token log-probs and argmaxes back); LoRA training through the WGSL trainer
 * (model/wgsl/qwen3-trainer.ts) at sequence 1024, 0.6B f16/NF4 and 14B NF4; then Qwen3-14B-shaped
 * scoring in NF4. `--profile` adds
 * where one layer's time goes, kernel by kernel. `--attention-backward` adds the attention
 * backward alone (f32 CUDA-core kernels against the tensor-core ones, per kernel, at the LoRA
 * step's shape) and a LoRA run on the f32 backward beside the default; `--ratio-only` trains only
 * the rows the PyTorch ratios use; `--split-k-head` times the lm_head's dX split along the
 * vocabulary (the trainer's default) against one product and adds a LoRA run with one product;
 * `--attention-forward` adds scoring and LoRA runs with another forward attention than the default
 * (`auto`: the flash kernel where it reproduces the two-pass one): the two-pass kernel, or what
 * `--attention-form two-pass|auto|q32-h2-k32-ri[-always][-pf][-sh][-la]` names. The attention-alone rows time every form: two-pass, session 5's one-pass,
 * and each flash variant that fits the adapter's workgroup memory (`--attention-candidates`: only
 * two-pass, one-pass, the default flash variant, session 8's fastest (UNROLLED_FLASH_ATTENTION), auto's first candidate (UNROLLED_SAFE_FLASH_ATTENTION), and
 * the variants that hold O in the lanes). `--flash-variants a,b,…` first times the attention alone: the two-pass
 * kernel, then the named flash variants in two interleaved rounds, each row with its O's largest
 * difference from the two-pass kernel's (`--only-flash`: nothing else). Prints one JSON object per line.
 *
 * `--ab NAME[,NAME…] [--only-ab]`: scoring with an environment switch on and off (FLEUVE_QKV_MERGE,
 * FLEUVE_PICK_EPILOGUE, FLEUVE_SWIGLU_EPILOGUE), two engines in this process timed in alternation.
 *
 * `--only-dapt`: full-parameter DAPT through model/wgsl/qwen3-full-trainer.ts, Qwen3-0.6B and 1.7B shapes, 8 × 1024 tokens a step.
 *
 *   node bench/gpu/kernels.ts [--quick] [--ab NAME,… [--only-ab]] [--only-model | --only-training | --only-dapt | --memory] [--flash-variants a,b,… [--only-flash]] [--no-training] [--no-14b] [--profile] [--attention-backward] [--ratio-only] [--split-k-head] [--attention-forward]
 */
import { f16BitsToF32, readBuffer, storageBuffer, toF16, uniformBuffer, type Dispatch } from "../../model/wgsl/kernels/buffers.ts"
import { splitKMatmul } from "../../model/wgsl/kernels/split-k.ts"
import { emit, medianSeconds, rand } from "./common.ts"
import { openGpu, pickMatrixConfig, type Gpu } from "../../model/wgsl/kernels/device.ts"
import { attentionFormName, pickAttentionForm, tensorCoreAttention, TWO_PASS_ATTENTION_TC, UNROLLED_SAFE_FLASH_ATTENTION, type AttentionForm } from "../../model/wgsl/kernels/attention-tc.ts"
import { DEFAULT_FLASH_ATTENTION, flashAttentionSharedBytes, flashAttentionValid, parseFlashAttentionName, UNROLLED_FLASH_ATTENTION, type FlashAttentionVariant } from "../../model/wgsl/kernels/attention-flash.ts"
import { Qwen3Engine, weightBuffers as weightBuffersOf, type EngineShape, type EngineWeights, type TokenScores } from "../../model/wgsl/qwen3-engine.ts"
import { Qwen3LoraTrainer, type TrainerOptions } from "../../model/wgsl/qwen3-trainer.ts"
import { fullParameterShapes, fullTrainerBytes, Qwen3FullTrainer } from "../../model/wgsl/qwen3-full-trainer.ts"
import { defaultLoraConfig } from "../../model/qwen3/lora-config.ts"
import { matmulPlan, tuneLog, type MatmulImpl, type WeightFormat } from "../../model/wgsl/kernels/matmul.ts"
import { epilogueDecisions } from "../../model/wgsl/epilogue-choice.ts"
import { gpuMsEach, profileDispatches, type KernelTime } from "../../model/wgsl/kernels/profile.ts"
import { attentionBackward, type AttentionBackwardBuffers } from "../../model/wgsl/kernels/attention-backward.ts"
import { attentionBackwardTcName, tensorCoreAttentionBackward, type AttentionBackwardTcVariant } from "../../model/wgsl/kernels/attention-backward-tc.ts"

/** Kernel name of a dispatch: its pipeline's label without the format suffixes (matmul tiles keep their shape). */
const kernelOf = (d: Dispatch) => d.pipeline.label || "unlabelled"
/** Timestamp-query profile of a dispatch list, largest first, as one JSON line. */
const emitProfile = async (gpu: Gpu, what: string, ds: ReadonlyArray<readonly [string, Dispatch]>, extra: Record<string, unknown> = {}) => {
  const times: Array<KernelTime> = (await profileDispatches(gpu, ds, 3)).sort((a, b) => b.ms - a.ms)
  const total = times.reduce((a, t) => a + t.ms, 0)
  emit({ kind: "profile", what, ...extra, ms_total_gpu: +total.toFixed(2), kernels: times.map((t) => ({ ...t, share: +(t.ms / total).toFixed(4) })) })
}

const quick = process.argv.includes("--quick")
const profile = process.argv.includes("--profile")
let allocated = 0
let peak = 0
const track = (b: GPUBuffer) => {
  allocated += b.size
  peak = Math.max(peak, allocated)
  return b
}
const free = (bs: Array<GPUBuffer>) => {
  for (const b of bs) {
    allocated -= b.size
    b.destroy()
  }
}

/** Median wall time of `reps` submissions of the same dispatch list (each waited for). */
const time = (gpu: Gpu, ds: Array<Dispatch>, reps: number, warm = 2) => medianSeconds(gpu, ds, reps, warm)

// Host-side weights per (format, shape), made once. Timing needs realistic bytes, not trained
// values: f16 weights repeat one random block of 1M values; NF4 weights are random 4-bit codes
// with random block scales (valid NF4, made directly: quantising 14B values in JS would take minutes).
const hostWeights = new Map<string, { B: Uint16Array | Uint32Array; absmax?: Float32Array }>()
const BLOCK = 1 << 20
const randomF16 = (n: number, scale: number, seed: number) => {
  const block = toF16(rand(Math.min(n, BLOCK), scale, seed))
  const out = new Uint16Array(n)
  for (let at = 0; at < n; at += block.length) out.set(block.subarray(0, Math.min(block.length, n - at)), at)
  return out
}
const randomNf4 = (N: number, K: number, seed: number) => {
  const words = new Uint32Array((N * K) / 8)
  let x = seed >>> 0 || 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x >>> 0
  }
  const absmax = rand((N * K) / 64, 0.05, seed + 1).map((v) => 0.01 + Math.abs(v))
  return { B: words, absmax }
}
const weightBuffers = (gpu: Gpu, format: WeightFormat, N: number, K: number, _seed: number) => {
  const key = `${format} ${N} ${K}`
  let h = hostWeights.get(key)
  if (!h) {
    h = format === "f16" ? { B: randomF16(N * K, 0.05, N * 31 + K) } : randomNf4(N, K, N * 31 + K)
    hostWeights.set(key, h)
  }
  return {
    B: track(storageBuffer(gpu.device, h.B)),
    ...(h.absmax ? { absmax: track(storageBuffer(gpu.device, h.absmax)) } : {})
  }
}

const matmulBench = async (gpu: Gpu, impl: MatmulImpl, format: WeightFormat, M: number, N: number, K: number, label: string) => {
  const plan = await matmulPlan(gpu, format, impl)
  const A = track(storageBuffer(gpu.device, toF16(rand(M * K, 1, 7))))
  const w = weightBuffers(gpu, format, N, K, 9)
  const C = track(storageBuffer(gpu.device, M * N * 4))
  const params = uniformBuffer(gpu.device, [M, N, K, 0])
  const d = plan.dispatch({ A, C, params, ...w }, M, N)
  const flops = 2 * M * N * K
  const reps = flops > 5e11 ? 5 : 20
  // several dispatches per submission so that submit latency does not dominate small shapes
  const per = Math.max(1, Math.min(20, Math.round(2e12 / flops)))
  const s = (await time(gpu, Array(per).fill(d), reps)) / per
  emit({ kind: "matmul", label, impl, variant: plan.variant, format, fragment: plan.fragment ?? null, M, N, K, ms: +(s * 1e3).toFixed(3), tflops: +(flops / s / 1e12).toFixed(2) })
  free([A, C, w.B, ...(w.absmax ? [w.absmax] : [])])
}

/** Model shapes the scoring forward runs at (random weights). */
interface ModelShape { readonly name: string; readonly hidden: number; readonly heads: number; readonly kvHeads: number; readonly headDim: number; readonly intermediate: number; readonly vocab: number; readonly layers: number }
const QWEN3_0_6B: ModelShape = { name: "Qwen3-0.6B-shaped", hidden: 1024, heads: 16, kvHeads: 8, headDim: 128, intermediate: 3072, vocab: 151936, layers: 28 }
const QWEN3_1_7B: ModelShape = { name: "Qwen3-1.7B-shaped", hidden: 2048, heads: 16, kvHeads: 8, headDim: 128, intermediate: 6144, vocab: 151936, layers: 28 }
const QWEN3_14B: ModelShape = { name: "Qwen3-14B-shaped", hidden: 5120, heads: 40, kvHeads: 8, headDim: 128, intermediate: 17408, vocab: 151936, layers: 40 }

/** A model of `shape` with random weights on the GPU (tracked), every layer its own. */
const randomModel = (gpu: Gpu, format: WeightFormat, shape: ModelShape) => {
  const { hidden: Hd, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocab, layers } = shape
  const dev = gpu.device
  const engineShape: EngineShape = { hidden: Hd, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocab, layers, eps: 1e-6, theta: 1e6 }
  const norm = (n: number, seed: number) => track(storageBuffer(dev, rand(n, 1, seed).map((a) => 1 + 0.1 * a)))
  const embed = track(storageBuffer(dev, randomF16(vocab * Hd, 0.05, 11))) // tied embedding / output head, f16 in every format
  const weights: EngineWeights = {
    format, embed, lmHead: embed, finalNorm: norm(Hd, 4),
    layers: Array.from({ length: layers }, (_, l) => ({
      q: weightBuffers(gpu, format, H * D, Hd, 100 + l), k: weightBuffers(gpu, format, KV * D, Hd, 200 + l), v: weightBuffers(gpu, format, KV * D, Hd, 300 + l),
      o: weightBuffers(gpu, format, Hd, H * D, 400 + l),
      gate: weightBuffers(gpu, format, I, Hd, 500 + l), up: weightBuffers(gpu, format, I, Hd, 600 + l), down: weightBuffers(gpu, format, Hd, I, 700 + l),
      inputNorm: norm(Hd, 5), postNorm: norm(Hd, 6), qNorm: norm(D, 7), kNorm: norm(D, 8)
    }))
  }
  return { engineShape, weights }
}

/**
 * LoRA training (r 16, α 32, all 7 projections, LoRA dropout `dropout`) through fleuve's WGSL
 * trainer at sequence `seq`, `batch` sequences a step (one optimizer step = the effective batch).
 */
/** Trainer choices a run departs from the defaults in (the comparisons of one call), named in its output. */
type TrainChoices = Pick<TrainerOptions, "attentionBackward" | "attentionForward" | "headSplitK">
const choiceName = (c: TrainChoices) => [c.attentionBackward ? ` attention backward ${c.attentionBackward}` : "", c.attentionForward ? ` attention forward ${attentionFormName(c.attentionForward)}` : "", c.headSplitK === undefined ? "" : ` head split-K ${c.headSplitK}`].join("")
const trainBench = async (gpu: Gpu, format: WeightFormat, shape: ModelShape, batch: number, seq: number, steps = 3, accumulation = 1, dropout = defaultLoraConfig.dropout, choices: TrainChoices = {}) => {
  const { engineShape, weights } = randomModel(gpu, format, shape)
  const trainer = await Qwen3LoraTrainer.create(gpu, engineShape, weights, { ...defaultLoraConfig, dropout }, batch, seq, { seed: 1, ...choices })
  allocated += trainer.allocatedBytes
  peak = Math.max(peak, allocated)
  const T = batch * seq
  const ids = Uint32Array.from({ length: T }, (_, i) => (i * 7919) % shape.vocab)
  const targets = Uint32Array.from({ length: T }, (_, i) => ((i + 1) % seq === 0 ? 0xffffffff : ((i + 1) * 7919) % shape.vocab))
  const micro = Array.from({ length: accumulation }, () => ({ ids, targets }))
  const losses = [(await trainer.trainStep(micro)).loss] // warm-up (pipelines, first touches)
  // with a comparison flag only the 16 × 1 f16 steps with dropout (the ratio's row and its comparisons) are profiled, to keep the device call short
  const comparing = ["--attention-backward", "--split-k-head", "--attention-forward"].some((f) => process.argv.includes(f))
  const profiled = profile && (!comparing || (format === "f16" && batch === 16 && accumulation === 1 && dropout > 0))
  if (profiled) await emitProfile(gpu, `lora-training ${format} ${shape.name} ${batch}x${seq}${choiceName(choices)}`, trainer.stepDispatches().map((d) => [kernelOf(d), d] as const))
  const t0 = performance.now()
  for (let s = 0; s < steps; s++) losses.push((await trainer.trainStep(micro)).loss)
  const perStep = (performance.now() - t0) / 1000 / steps
  const layerFlops = 2 * T * shape.hidden * (shape.heads * shape.headDim + 2 * shape.kvHeads * shape.headDim) + 2 * T * shape.heads * shape.headDim * shape.hidden + 6 * T * shape.hidden * shape.intermediate + 2 * batch * shape.heads * seq * seq * shape.headDim
  // forward + backward through the frozen base ≈ 2 × forward; attention backward ≈ 2.5 × its forward (LoRA terms not counted)
  const flops = 2 * (shape.layers * layerFlops + 2 * T * shape.hidden * shape.vocab) * accumulation
  emit({
    kind: "lora-training", model: `${shape.name}, random weights`, engine: "fleuve WGSL trainer (model/wgsl)", base: format, lora: `r 16, alpha 32, all 7 projections, dropout ${dropout}`, seq,
    choices: choiceName(choices).trim() || "defaults", micro_batch: batch, grad_accumulation: accumulation, ms_per_step: +(perStep * 1e3).toFixed(1), tokens_per_s: Math.round((T * accumulation) / perStep), tflops_base_fwd_bwd: +(flops / perStep / 1e12).toFixed(2),
    peak_gpu_bytes_allocated: peak, losses: losses.map((l) => +l.toFixed(4))
  })
  allocated -= trainer.allocatedBytes
  trainer.dispose()
  free(weightBuffersOf(weights))
}

/**
 * The DAPT benchmark's token ids, the same in torch_peer.py's dapt_training: an LCG (Numerical
 * Recipes' constants) from seed 12345, id = (x >> 8) mod vocab, row-major over the step's sequences.
 */
export const daptIds = (n: number, vocab: number): Uint32Array<ArrayBuffer> => {
  let x = 12345
  return Uint32Array.from({ length: n }, () => {
    x = (Math.imul(1664525, x) + 1013904223) >>> 0
    return (x >>> 8) % vocab
  })
}

/** A prime-length block of N(0, 0.02²) values (Box-Muller over an LCG): transformers' Qwen3 initialisation of linears and embeddings. */
const GAUSS_BLOCK = 1048573
const gaussianBlock = (): Float32Array => {
  const u = rand(GAUSS_BLOCK + 1, 0.5, 77).map((a) => a + 0.5)
  return Float32Array.from({ length: GAUSS_BLOCK }, (_, i) => 0.02 * Math.sqrt(-2 * Math.log(Math.max(u[i]!, 1e-12))) * Math.cos(2 * Math.PI * u[i + 1]!))
}

/**
 * Full-parameter DAPT (every weight, tied embeddings included; f32 masters and AdamW, f16 compute
 * copies) through fleuve's WGSL trainer: `accumulation` micro-batches of `batch` sequences of `seq` a
 * step, on daptIds' tokens (each micro-batch its own rows, as the peer). Weights as transformers
 * initialises a Qwen3 (the peer's): matrices N(0, 0.02²), norms 1 — the matrices drawn from one
 * prime-length block read from a different offset per tensor, so no two rows repeat each other.
 */
const daptBench = async (gpu: Gpu, shape: ModelShape, batch: number, seq: number, accumulation = 1, steps = 3, weightGradients: "tensor-cores" | "general" = "tensor-cores") => {
  const engineShape: EngineShape = { hidden: shape.hidden, heads: shape.heads, kvHeads: shape.kvHeads, headDim: shape.headDim, intermediate: shape.intermediate, vocab: shape.vocab, layers: shape.layers, eps: 1e-6, theta: 1e6 }
  const block = gaussianBlock()
  const names = fullParameterShapes(engineShape, true)
  const tensor = (name: string) => {
    const index = names.findIndex(([k]) => k === name)
    const n = names[index]![1].reduce((a, b) => a * b, 1)
    const out = new Float32Array(n)
    if (name.includes("norm")) return out.fill(1)
    let from = (index * 7919) % GAUSS_BLOCK
    for (let at = 0; at < n;) {
      const take = Math.min(GAUSS_BLOCK - from, n - at)
      out.set(block.subarray(from, from + take), at)
      at += take
      from = 0
    }
    return out
  }
  const estimate = fullTrainerBytes(engineShape, true, batch, seq)
  const trainer = await Qwen3FullTrainer.create(gpu, engineShape, tensor, true, batch, seq, { learningRate: 2e-5, weightDecay: 0.01, weightGradients })
  allocated += trainer.allocatedBytes
  peak = Math.max(peak, allocated)
  const T = batch * seq
  const all = daptIds(T * accumulation, shape.vocab)
  const micro = Array.from({ length: accumulation }, (_, m) => {
    const ids = all.slice(m * T, (m + 1) * T)
    // each position predicts the next token of its row (labels = ids, as transformers shifts them); a row's last predicts nothing
    return { ids, targets: Uint32Array.from(ids, (_, i) => ((i + 1) % seq === 0 ? 0xffffffff : ids[i + 1]!)) }
  })
  const losses = [(await trainer.trainStep(micro)).loss] // warm-up (pipelines, first touches)
  const t0 = performance.now()
  let skipped = 0
  for (let s = 0; s < steps; s++) {
    const r = await trainer.trainStep(micro)
    losses.push(r.loss)
    if (r.skipped) skipped++
  }
  const perStep = (performance.now() - t0) / 1000 / steps
  const params = fullParameterShapes(engineShape, true).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0)
  const layerFlops = 2 * T * shape.hidden * (shape.heads * shape.headDim + 2 * shape.kvHeads * shape.headDim) + 2 * T * shape.heads * shape.headDim * shape.hidden + 6 * T * shape.hidden * shape.intermediate + 2 * batch * shape.heads * seq * seq * shape.headDim
  // forward + dX + dW ≈ 3 × the forward's matmuls (attention's backward ≈ 2.5 × its forward: counted as 2)
  const flops = 3 * (shape.layers * layerFlops + 2 * T * shape.hidden * shape.vocab) * accumulation
  emit({
    kind: "dapt-training", model: `${shape.name}, random weights`, engine: "fleuve WGSL full-parameter trainer (model/wgsl/qwen3-full-trainer.ts)", weights: "f32 master + AdamW, f16 compute copies",
    trains: "every weight, tied embeddings included", weight_gradients: weightGradients, parameters: params, seq, micro_batch: batch, grad_accumulation: accumulation,
    ms_per_step: +(perStep * 1e3).toFixed(1), tokens_per_s: Math.round((T * accumulation) / perStep), tflops_fwd_bwd: +(flops / perStep / 1e12).toFixed(2),
    peak_gpu_bytes_allocated: peak, estimate_bytes: estimate, skipped_steps: skipped, losses: losses.map((l) => +l.toFixed(4))
  })
  // after the timed steps, so that a profile that fails costs only itself
  if (profile) {
    try {
      await emitProfile(gpu, `dapt ${shape.name} ${batch}x${seq}`, trainer.stepDispatches().map((d) => [`${trainer.isWeightGradient(d) ? "weight-grad " : ""}${kernelOf(d)}`, d] as const))
    } catch (e) {
      emit({ kind: "error", what: `dapt profile ${shape.name}`, reason: e instanceof Error ? e.message : String(e) })
    }
  }
  allocated -= trainer.allocatedBytes
  trainer.dispose()
}

const bytesOf = (bs: ReadonlyArray<GPUBuffer>) => bs.reduce((a, b) => a + b.size, 0)

/** The median seconds of `reps` end-to-end scores (ids up, forward, log-probs and argmaxes back), after one to warm up. */
const scoreSeconds = async (engine: Qwen3Engine, ids: Uint32Array<ArrayBuffer>, targets: Uint32Array<ArrayBuffer>, reps: number) => {
  let scores = await engine.score(ids, targets)
  const ts: Array<number> = []
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now()
    scores = await engine.score(ids, targets)
    ts.push((performance.now() - t0) / 1000)
  }
  return { median: ts.sort((a, b) => a - b)[Math.floor(reps / 2)]!, scores }
}

/**
 * `--ab NAME[,NAME…]`: for each environment switch (FLEUVE_QKV_MERGE, FLEUVE_PICK_EPILOGUE,
 * FLEUVE_SWIGLU_EPILOGUE: 1 or 0), two scoring engines over the same weights in this process, one
 * built with NAME=1 and one with NAME=0, timed end to end in alternation (`rounds` × 5 scores each),
 * so that the card's clocks and this process's state weigh on both alike; and whether their scores
 * agree. Separate processes differed by ±3 ms on a ~90 ms forward, more than such a change gains.
 */
const abBench = async (gpu: Gpu, shape: ModelShape, names: ReadonlyArray<string>, rounds = 8) => {
  const [B, S] = [16, 512]
  const T = B * S
  const { engineShape, weights } = randomModel(gpu, "f16", shape)
  const ids = Uint32Array.from({ length: T }, (_, i) => (i * 7919) % shape.vocab)
  const targets = Uint32Array.from({ length: T }, (_, i) => ((i + 1) * 7919) % shape.vocab)
  for (const name of names) {
    const before = process.env[name]
    const engines: Array<Qwen3Engine> = []
    try {
      for (const v of ["1", "0"]) {
        process.env[name] = v
        engines.push(await Qwen3Engine.create(gpu, engineShape, weights, B, S))
      }
    } finally {
      if (before === undefined) delete process.env[name]
      else process.env[name] = before
    }
    const times: Array<Array<number>> = [[], []]
    let last: Array<TokenScores> = []
    for (let r = 0; r < rounds; r++) {
      last = []
      for (let e = 0; e < 2; e++) {
        const { median, scores } = await scoreSeconds(engines[e]!, ids, targets, 5)
        times[e]!.push(median)
        last.push(scores)
      }
    }
    const med = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const [on, off] = times.map(med) as [number, number]
    let maxDiff = 0
    let argmaxSame = 0
    for (let t = 0; t < T; t++) {
      maxDiff = Math.max(maxDiff, Math.abs(last[0]!.logprob[t]! - last[1]!.logprob[t]!))
      if (last[0]!.argmax[t] === last[1]!.argmax[t]) argmaxSame++
    }
    emit({
      kind: "scoring-ab", switch: name, model: `${shape.name}, random weights`, batch: B, prompt: S, rounds,
      ms_on: +(on * 1e3).toFixed(2), ms_off: +(off * 1e3).toFixed(2), tokens_per_s_on: Math.round(T / on), tokens_per_s_off: Math.round(T / off),
      speedup_on: +(off / on).toFixed(4), ms_rounds_on: times[0]!.map((x) => +(x * 1e3).toFixed(2)), ms_rounds_off: times[1]!.map((x) => +(x * 1e3).toFixed(2)),
      max_logprob_difference: +maxDiff.toExponential(3), argmax_agreement: +(argmaxSame / T).toFixed(5)
    })
    for (const e of engines) e.dispose()
  }
  free(weightBuffersOf(weights))
}

/** Scoring forward at batch 16 × prompt 512 (tokens = B·S) through fleuve's WGSL engine, every layer with its own weights. */
const modelBench = async (gpu: Gpu, format: WeightFormat, shape: ModelShape, attention: "tensor-core" | "scalar" = "tensor-core", attentionVariant?: AttentionForm) => {
  const [B, S] = [16, 512]
  const T = B * S
  const { hidden: Hd, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocab, layers } = shape
  const { engineShape, weights } = randomModel(gpu, format, shape)
  const weightsBefore = bytesOf(weightBuffersOf(weights))
  const engine = await Qwen3Engine.create(gpu, engineShape, weights, B, S, { attention, ...(attentionVariant ? { attentionVariant } : {}) })
  // its activations, and the merged weight copies the scoring forward derives once per weights
  allocated += engine.activationBytes + bytesOf(weightBuffersOf(weights)) - weightsBefore
  peak = Math.max(peak, allocated)
  const ids = Uint32Array.from({ length: T }, (_, i) => (i * 7919) % vocab)
  const targets = Uint32Array.from({ length: T }, (_, i) => ((i + 1) * 7919) % vocab)
  // medians of 10: three runs of a ~90 ms forward moved by ±3 ms between processes on the same card (session 12)
  const forward = await time(gpu, engine.dispatches(), 10, 1)
  // end to end: ids up, forward, log-probs and argmaxes back
  const { median: endToEnd, scores } = await scoreSeconds(engine, ids, targets, 10)
  const layerFlops = 2 * T * Hd * (H * D + 2 * KV * D) + 2 * T * H * D * Hd + 3 * 2 * T * Hd * I + 2 * B * H * S * S * D // causal attention ≈ half of 4·S²·D
  const flops = layers * layerFlops + 2 * T * Hd * vocab
  emit({
    kind: "scoring-forward", model: `${shape.name}, random weights`, engine: "fleuve WGSL (model/wgsl)", weights: format, attention: engine.attention, attention_form: attentionVariant ? attentionFormName(attentionVariant) : "default", matmul: engine.matmul.variant, layers, batch: B, prompt: S,
    ms_forward: +(forward * 1e3).toFixed(1), ms_score_end_to_end: +(endToEnd * 1e3).toFixed(1),
    tokens_per_s: Math.round(T / endToEnd), tokens_per_s_forward_only: Math.round(T / forward), tflops: +(flops / endToEnd / 1e12).toFixed(2),
    peak_gpu_bytes_allocated: peak, finite: [...scores!.logprob].every(Number.isFinite)
  })
  if (profile) await emitProfile(gpu, `scoring ${format} ${shape.name}`, [...engine.dispatches().map((d) => [kernelOf(d), d] as const)])
  // which tile each of the engine's product shapes got, and what every candidate measured
  if (profile) for (const t of tuneLog.splice(0)) emit({ kind: "matmul-tune", ...t })
  // whether the forward runs each matmul epilogue or its separate pass, and why (epilogue-choice.ts)
  for (const d of epilogueDecisions.splice(0)) emit({ kind: "epilogue-choice", ...d })
  if (profile) {
    // each dispatch of one layer on its own, 10 in a submission: where a layer's time goes
    const perKind = new Map<string, number>()
    for (const [label, d] of engine.layerDispatches[0]!) perKind.set(label, (perKind.get(label) ?? 0) + (await time(gpu, Array(10).fill(d), 3, 1)) / 10)
    const head = await time(gpu, [...engine.headDispatches], 3, 1)
    emit({ kind: "layer-profile", weights: format, attention: engine.attention, ms_per_layer: Object.fromEntries([...perKind].map(([k, v]) => [k, +(v * 1e3).toFixed(3)])), ms_sum: +([...perKind.values()].reduce((a, b) => a + b, 0) * 1e3).toFixed(2), ms_final_norm_lm_head_pick: +(head * 1e3).toFixed(2) })
  }
  allocated -= engine.activationBytes
  engine.dispose()
  free(weightBuffersOf(weights))
}

/** Every flash variant (attention-flash.ts) of session 7 that fits the adapter's workgroup memory at head_dim 128, and the default's other reload and its rescale every block. */
const flashVariants = (gpu: Gpu): Array<FlashAttentionVariant> =>
  [...([16, 32, 64] as const).flatMap((queries) => ([1, 2] as const).flatMap((heads) => ([32, 64] as const).map((keyBlock): FlashAttentionVariant => ({ form: "flash", queries, heads, keyBlock, reload: "identity" })))),
    { ...DEFAULT_FLASH_ATTENTION, reload: "result" } as const, { ...DEFAULT_FLASH_ATTENTION, rescale: "always" } as const,
    { ...DEFAULT_FLASH_ATTENTION, prefetch: true }, { ...DEFAULT_FLASH_ATTENTION, shuffle: true }, { ...DEFAULT_FLASH_ATTENTION, prefetch: true, shuffle: true },
    { form: "flash", queries: 64, heads: 1, keyBlock: 32, reload: "identity", prefetch: true } as const,
    ...([[32, 2, 32], [64, 1, 32], [16, 2, 32], [32, 1, 64], [16, 2, 64]] as const).map(([queries, heads, keyBlock]): FlashAttentionVariant => ({ form: "flash", queries, heads, keyBlock, reload: "identity", accumulate: "lanes" }))]
    .filter((v) => flashAttentionValid(v) && flashAttentionSharedBytes(v, 128) <= gpu.device.limits.maxComputeWorkgroupStorageSize)

/**
 * --attention-form NAME (attention-flash.ts' name without its prefix, e.g. q32-h2-k32-ri-la,
 * "auto": pickAttentionForm's choice on this card, or "two-pass"): the form of the
 * --attention-forward runs. Default: the two-pass kernel, the default's form before session 8
 * (the default is now `auto`, which picks the flash kernel where it reproduces the two-pass one).
 */
const comparedForm = async (gpu: Gpu): Promise<AttentionForm> => {
  const at = process.argv.indexOf("--attention-form")
  const name = at < 0 ? "two-pass" : process.argv[at + 1] ?? ""
  if (name === "two-pass") return TWO_PASS_ATTENTION_TC
  if (name === "auto") return pickAttentionForm(gpu, 128, 2)
  const v = parseFlashAttentionName(name)
  if (!v) throw new Error(`--attention-form ${name}: expected q<16|32|64>-h<1|2>-k<16|32|64>-<rr|ri>[-always][-pf][-sh][-la][-n][-u][-il][-qs][-ws], e.g. q32-h2-k32-ri, auto or two-pass`)
  return v
}

/**
 * The tensor-core attention alone at scoring shape (Qwen3-0.6B heads), one variant; `against`
 * (an O read back from another form on the same inputs, the seeds fixed): the row also says how
 * far this form's O is from it (max |Δ|), so a form that is wrong on the card shows in its timing row.
 */
const attentionBench = async (gpu: Gpu, variant: AttentionForm, extra: { readonly round?: number; readonly against?: Float32Array; readonly keep?: (o: Float32Array) => void } = {}) => {
  const [B, S, H, KV, D] = [16, 512, 16, 8, 128]
  const dev = gpu.device
  const attention = await tensorCoreAttention(gpu, D, variant, false, H / KV)
  const q = storageBuffer(dev, toF16(rand(B * S * H * D, 1, 21))), k = storageBuffer(dev, toF16(rand(B * S * KV * D, 1, 22))), v = storageBuffer(dev, toF16(rand(B * S * KV * D, 1, 23)))
  const o = storageBuffer(dev, B * S * H * D * 2)
  const d = attention({ Q: q, K: k, V: v, O: o, params: uniformBuffer(dev, [B, S, S, H, KV, 0, 0, 0], [1 / Math.sqrt(D)]) }, B, S, H, S)
  const s = (await time(gpu, Array(10).fill(d), extra.round === undefined ? 3 : 5, 1)) / 10
  // and the GPU's own time of the same 10 dispatches (timestamps): session 9 found the wall time of the flash kernels 4× their timestamps in the scoring forward
  const gpuMs = gpu.features.includes("timestamp-query") ? { gpu_ms: +((await gpuMsEach(gpu, [Array(10).fill(d)], 3))[0]! / 10).toFixed(3) } : {}
  const flops = 2 * B * H * S * S * D // causal: half of QKᵀ and PV, each 2·S²·D
  let agreement = {}
  if (extra.against || extra.keep) {
    const out = Float32Array.from(new Uint16Array(await readBuffer(dev, o, B * S * H * D * 2)), f16BitsToF32)
    extra.keep?.(out)
    if (extra.against) {
      let e = 0, finite = true
      for (let i = 0; i < out.length; i++) { e = Math.max(e, Math.abs(out[i]! - extra.against[i]!)); finite &&= Number.isFinite(out[i]!) }
      agreement = { max_abs_diff_vs_two_pass: +e.toExponential(2), finite }
    }
  }
  emit({ kind: "attention", form: attentionFormName(variant), variant, batch: B, seq: S, heads: H, kvHeads: KV, headDim: D, ms: +(s * 1e3).toFixed(3), ...gpuMs, tflops: +(flops / s / 1e12).toFixed(2), ...(extra.round === undefined ? {} : { round: extra.round }), ...agreement })
  for (const b of [q, k, v, o]) b.destroy()
}

/**
 * The attention backward alone at (B, S, H, KV, D), causal, S = T: the f32 CUDA-core kernels
 * (attention-backward.ts, f16 inputs) and the tensor-core ones (attention-backward-tc.ts) on the
 * same inputs — O and LSE from the tensor-core forward — per kernel (timestamp queries) and in
 * all (wall time of 10 in a submission), with the largest difference between their gradients.
 */
const attentionBackwardBench = async (gpu: Gpu, B: number, S: number, H: number, KV: number, D: number) => {
  const dev = gpu.device
  const n = B * S * H * D, nkv = B * S * KV * D
  const q = storageBuffer(dev, toF16(rand(n, 1, 31))), k = storageBuffer(dev, toF16(rand(nkv, 1, 32))), v = storageBuffer(dev, toF16(rand(nkv, 1, 33)))
  const o = storageBuffer(dev, n * 2), lse = storageBuffer(dev, B * S * H * 4), dO = storageBuffer(dev, rand(n, 1, 34))
  const params = uniformBuffer(dev, [B, S, S, H, KV, 0, 0, 0], [1 / Math.sqrt(D)])
  const forward = await tensorCoreAttention(gpu, D, undefined, true)
  await time(gpu, [forward({ Q: q, K: k, V: v, O: o, LSE: lse, params }, B, S, H, S)], 1, 0)
  const grads: Record<string, Array<Float32Array>> = {}
  const all = [q, k, v, o, lse, dO]
  // the tensor-core variants: dK/dV and dQ are timed separately, so these runs cover every choice of each
  const variants: Array<AttentionBackwardTcVariant> = [
    { kvStep: 32, qStep: 32, holdQ: true }, { kvStep: 16, qStep: 16, holdQ: true }, { kvStep: 32, qStep: 32, holdQ: false }, { kvStep: 16, qStep: 16, holdQ: false },
    { kvStep: 32, qStep: 32, holdQ: true, splitD: 2 }, { kvStep: 16, qStep: 16, holdQ: false, splitD: 2 }
  ]
  const impls: Array<readonly [string, () => Promise<(b: AttentionBackwardBuffers, B: number, S: number, H: number, KV: number, T: number) => Array<Dispatch>>]> = [
    ["f32", () => attentionBackward(gpu, D, "f16")],
    ...variants.map((v) => [`tensor-core ${attentionBackwardTcName(v)}`, () => tensorCoreAttentionBackward(gpu, D, "subgroup", v)] as const)
  ]
  for (const [impl, make] of impls) {
    // each implementation on its own: one that fails to compile does not hide the others
    try {
      const dQ = storageBuffer(dev, n * 4), dK = storageBuffer(dev, nkv * 4), dV = storageBuffer(dev, nkv * 4)
      all.push(dQ, dK, dV)
      const ds = (await make())({ Q: q, K: k, V: v, O: o, dO, LSE: lse, dQ, dK, dV, params }, B, S, H, KV, S)
      const s = (await time(gpu, Array(10).fill(ds).flat(), 3, 1)) / 10
      const kernels = (await profileDispatches(gpu, ds.map((d) => [kernelOf(d), d] as const), 3)).map((t) => ({ label: t.label, ms: +t.ms.toFixed(3) }))
      grads[impl] = await Promise.all([[dQ, n], [dK, nkv], [dV, nkv]].map(async ([b, len]) => new Float32Array(await readBuffer(dev, b as GPUBuffer, (len as number) * 4))))
      // useful flops (the FlashAttention convention): causal S²/2 (query, key) pairs a head, 5 products
      // of 2·D flops each (S, dP, dV, dK, dQ); both implementations also recompute S and dP for dQ
      const flops = 5 * B * H * S * S * D
      emit({ kind: "attention-backward", impl, batch: B, seq: S, heads: H, kvHeads: KV, headDim: D, ms: +(s * 1e3).toFixed(3), tflops: +(flops / s / 1e12).toFixed(2), kernels })
    } catch (e) {
      emit({ kind: "error", what: `attention backward ${impl} ${B}x${S}`, reason: e instanceof Error ? e.message : String(e) })
    }
  }
  // how far the tensor-core gradients are from the f32 kernels' (max |difference| / max |f32|)
  const diff = (a: Float32Array, b: Float32Array) => {
    let e = 0, m = 0
    for (let i = 0; i < a.length; i++) { e = Math.max(e, Math.abs(a[i]! - b[i]!)); m = Math.max(m, Math.abs(a[i]!)) }
    return +(e / (m || 1)).toExponential(2)
  }
  const f = grads["f32"]
  for (const [impl, t] of Object.entries(grads)) {
    if (f && impl !== "f32") emit({ kind: "attention-backward-agreement", impl, batch: B, seq: S, dQ: diff(f[0]!, t[0]!), dK: diff(f[1]!, t[1]!), dV: diff(f[2]!, t[2]!), finite: t.every((g) => g.every(Number.isFinite)) })
  }
  for (const b of all) b.destroy()
}

/**
 * The trainer's lm_head dX alone (a 1024-row chunk: M 1024, N hidden 1024, K vocabulary 151 936,
 * the embedding read [K,N]): the matmul plan's one product against split-K into 2, 4 and 8 ranges.
 */
const splitKBench = async (gpu: Gpu) => {
  const [M, N, K] = [1024, 1024, 151936]
  const dev = gpu.device
  const A = storageBuffer(dev, randomF16(M * K, 1, 41)), B = storageBuffer(dev, randomF16(K * N, 0.05, 42)), C = storageBuffer(dev, M * N * 4)
  const plan = await matmulPlan(gpu, "f16", undefined, { weightLayout: "kn" })
  const ms = async (ds: Array<Dispatch>) => +((await time(gpu, Array(10).fill(ds).flat(), 3, 1)) / 10 * 1e3).toFixed(3)
  const runs: Record<string, number> = { [`plan ${plan.choice(M, N, K)}`]: await ms([plan.dispatch({ A, B, C, params: uniformBuffer(dev, [M, N, K, 0]) }, M, N, K)]) }
  const split = await splitKMatmul(gpu, "kn", pickMatrixConfig(gpu)!.M)
  for (const splits of [2, 4, 8]) runs[`split-K ${splits}`] = await ms(split({ A, B, C }, M, N, K, splits))
  emit({ kind: "lm-head-dx", M, N, K, ms: runs, tflops: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, +((2 * M * N * K) / v / 1e9).toFixed(1)])) })
  for (const b of [A, B, C]) b.destroy()
}

const main = async () => {
  const opened = await openGpu()
  if (opened._tag !== "Ready") {
    emit({ kind: "error", reason: opened.reason })
    process.exitCode = 1
    return
  }
  const gpu = opened.gpu
  emit({ kind: "adapter", ...gpu.adapter, features: gpu.features, subgroupMatrixConfigs: gpu.subgroupMatrixConfigs, chosen: pickMatrixConfig(gpu) ?? null, maxStorageBufferBindingSize: gpu.maxStorageBufferBindingSize })
  const impls: Array<MatmulImpl> = pickMatrixConfig(gpu) ? ["subgroup-matrix", "tiled"] : ["tiled"]
  const guard = async (what: string, f: () => Promise<void>) => {
    try {
      await f()
    } catch (e) {
      emit({ kind: "error", what, reason: e instanceof Error ? e.message : String(e) })
    }
  }
  if (process.argv.includes("--only-dapt")) {
    // issue 22 item 3: full-parameter DAPT where it fits one card (0.6B, 1.7B), 8 × 1024 tokens a step
    // (1.7B as 2 micro-batches of 4: PyTorch's activations at 8 would not fit 80 GB); the PyTorch peer:
    // torch_peer.py --only-dapt, the same shapes and batches
    for (const [shape, micro, accumulation] of quick ? [[{ ...QWEN3_0_6B, layers: 2 }, 8, 1] as const] : [[QWEN3_0_6B, 8, 1] as const, [QWEN3_1_7B, 4, 2] as const]) {
      peak = allocated
      await guard(`dapt ${shape.name}`, () => daptBench(gpu, shape, micro, 1024, accumulation))
    }
    if (process.argv.includes("--dapt-general")) {
      peak = allocated
      await guard("dapt general dW", () => daptBench(gpu, QWEN3_0_6B, 8, 1024, 1, 2, "general"))
    }
    return
  }
  if (process.argv.includes("--flash-variants") && pickMatrixConfig(gpu)) {
    // --flash-variants a,b,…: the attention alone, the two-pass kernel and the named flash variants
    // (attention-flash.ts names without the prefix), in two interleaved rounds (the noise shows as
    // their spread), each O compared with the two-pass kernel's; then the rest as the other flags
    // say, or nothing more with --only-flash
    const names = (process.argv[process.argv.indexOf("--flash-variants") + 1] ?? "").split(",").filter((n) => n !== "")
    const variants = names.map((n) => {
      const v = parseFlashAttentionName(n)
      if (!v || !flashAttentionValid(v)) throw new Error(`--flash-variants: ${n} is not a valid flash variant (q<16|32|64>-h<1|2>-k<16|32|64>-<rr|ri>[-always][-pf][-sh][-la][-n][-u][-uo][-uk][-il][-qs][-db][-ws])`)
      return v
    })
    let reference: Float32Array | undefined
    await guard("attention two-pass", () => attentionBench(gpu, TWO_PASS_ATTENTION_TC, { round: 0, keep: (o) => { reference = o } }))
    for (const round of [1, 2]) for (const v of variants) await guard(`attention ${attentionFormName(v)}`, () => attentionBench(gpu, v, { round, ...(reference ? { against: reference } : {}) }))
    if (process.argv.includes("--only-flash")) return
  }
  const onlyModel = process.argv.includes("--only-model")
  const onlyTraining = process.argv.includes("--only-training")
  if (process.argv.includes("--memory")) {
    // Issue 22 item 5: the runs whose memory the driver is asked about (nvidia-smi sampled
    // beside this process: bench/gpu/memory.sh), each between two phase lines with wall-clock
    // times, with fleuve's own count of its buffers (peak_gpu_bytes_allocated) in its result line.
    // --phase TEXT: only the runs whose name contains it (one process per run: Dawn keeps freed
    // buffers' memory for reuse, so a run's reading in a shared process includes the runs before it)
    const only = process.argv.includes("--phase") ? process.argv[process.argv.indexOf("--phase") + 1] ?? "" : ""
    const phase = async (what: string, f: () => Promise<void>) => {
      if (!what.includes(only)) return
      emit({ kind: "phase", what, at: "start", t: Date.now() })
      await guard(what, f)
      emit({ kind: "phase", what, at: "end", t: Date.now() })
      await new Promise((r) => setTimeout(r, 1500)) // the sampler sees the memory go back between runs
    }
    await phase("scoring 0.6B f16 16×512", async () => { peak = allocated; await modelBench(gpu, "f16", QWEN3_0_6B) })
    await phase("LoRA 0.6B f16 16×1024 dropout 0.05", async () => { peak = allocated; await trainBench(gpu, "f16", QWEN3_0_6B, 16, 1024, 3, 1, 0.05) })
    hostWeights.clear()
    await phase("QLoRA 14B nf4 1×1024", async () => { peak = allocated; await trainBench(gpu, "nf4", QWEN3_14B, 1, 1024, 2, 1) })
    hostWeights.clear()
    await phase("scoring 14B nf4", async () => { peak = allocated; await modelBench(gpu, "nf4", QWEN3_14B) })
    return
  }
  if (process.argv.includes("--split-k-head") && pickMatrixConfig(gpu)) await guard("split-K lm_head dX", () => splitKBench(gpu))
  if (process.argv.includes("--attention-backward") && pickMatrixConfig(gpu)) {
    // the LoRA step's shape (16 × 1024, Qwen3-0.6B heads), then the scoring batch's
    for (const [B, S] of [[16, 1024], [16, 512]] as const) await guard(`attention backward ${B}x${S}`, () => attentionBackwardBench(gpu, B, S, 16, 8, 128))
  }
  if (pickMatrixConfig(gpu) && !onlyTraining && (profile || !onlyModel)) {
    // --attention-candidates: only the two-pass default, session 5's one-pass form and the flash variants O held by the lanes
    const short = process.argv.includes("--attention-candidates")
    if (short) await guard("attention two-pass", () => attentionBench(gpu, TWO_PASS_ATTENTION_TC))
    else for (const queryFragments of [1, 2] as const) for (const keyBlock of [32, 64] as const) for (const pad of [0, 4] as const) await guard(`attention ${queryFragments} ${keyBlock} ${pad}`, () => attentionBench(gpu, { queryFragments, keyBlock, pad }))
    for (const queryFragments of short ? ([1] as const) : ([1, 2] as const)) for (const keyBlock of short ? ([32] as const) : ([32, 64] as const)) await guard(`attention ${queryFragments} ${keyBlock} one pass`, () => attentionBench(gpu, { queryFragments, keyBlock, pad: 4, onePass: true }))
    // (short: the default, session 8's fastest variant, auto's unrolled candidate, and the lanes forms)
    const shortList = [DEFAULT_FLASH_ATTENTION, UNROLLED_FLASH_ATTENTION, UNROLLED_SAFE_FLASH_ATTENTION, ...flashVariants(gpu).filter((x) => x.accumulate === "lanes")]
    for (const v of short ? shortList : flashVariants(gpu)) await guard(`attention ${attentionFormName(v)}`, () => attentionBench(gpu, v))
  }
  for (const impl of onlyModel || onlyTraining ? [] : impls) {
    for (const format of ["f16", "nf4"] as const) {
      for (const n of quick ? [2048] : [4096, 8192]) await guard(`matmul ${impl} ${format} ${n}`, () => matmulBench(gpu, impl, format, n, n, n, `square ${n}`))
    }
  }
  const T = 16 * 512
  const shapes: Array<[string, number, number]> = [["q_proj", 2048, 1024], ["k/v_proj", 1024, 1024], ["o_proj", 1024, 2048], ["gate/up_proj", 3072, 1024], ["down_proj", 1024, 3072], ["lm_head chunk (M=1024)", 151936, 1024]]
  for (const format of onlyModel || onlyTraining ? [] : (["f16", "nf4"] as const)) {
    for (const [label, N, K] of shapes) {
      if (format === "nf4" && label.startsWith("lm_head")) continue
      await guard(`linear ${label}`, () => matmulBench(gpu, impls[0]!, format, label.startsWith("lm_head") ? 1024 : T, N, K, label))
    }
  }
  if (process.argv.includes("--ab")) {
    const names = (process.argv[process.argv.indexOf("--ab") + 1] ?? "").split(",").filter((n) => n !== "")
    await guard(`scoring A/B ${names.join(", ")}`, () => abBench(gpu, quick ? { ...QWEN3_0_6B, layers: 2 } : QWEN3_0_6B, names))
    if (process.argv.includes("--only-ab")) return
  }
  if (!onlyTraining) {
    const ratioOnly = process.argv.includes("--ratio-only") // f16 weights only: the scoring ratio's row
    for (const format of ratioOnly ? (["f16"] as const) : (["f16", "nf4"] as const)) {
      peak = allocated
      await guard(`model ${format}`, () => modelBench(gpu, format, quick ? { ...QWEN3_0_6B, layers: 2 } : QWEN3_0_6B))
    }
    if (process.argv.includes("--attention-forward")) {
      peak = allocated
      await guard("model f16, the compared attention form", async () => modelBench(gpu, "f16", quick ? { ...QWEN3_0_6B, layers: 2 } : QWEN3_0_6B, "tensor-core", await comparedForm(gpu)))
    }
    peak = allocated
    if (!ratioOnly) await guard("model f16, scalar attention", () => modelBench(gpu, "f16", quick ? { ...QWEN3_0_6B, layers: 2 } : QWEN3_0_6B, "scalar"))
  }
  if (!process.argv.includes("--no-training")) {
    // LoRA training at sequence 1024, effective batch 16 in one step (and a step of 4 for
    // comparison), with the EnMed protocol's dropout 0.05 and, once, without
    // --ratio-only: the rows of the ratios (f16 and NF4 base, 16 × 1, dropout 0.05; torch_peer.py takes the same flag);
    // --attention-backward adds the f16 row on the f32 attention backward: before/after in one call
    const ratioOnly = process.argv.includes("--ratio-only")
    const runs: Array<readonly [WeightFormat, number, number, number, TrainChoices?]> = ratioOnly
      ? [["f16", 16, 1, 0.05], ["nf4", 16, 1, 0.05]]
      : [["f16", 16, 1, 0.05], ["f16", 16, 1, 0], ["f16", 4, 4, 0.05], ["nf4", 16, 1, 0.05]]
    // the f16 row as the step was before this session's kernels: the f32 attention backward, the two-pass forward and the lm_head's dX as one product
    if (process.argv.includes("--attention-backward")) runs.splice(1, 0, ["f16", 16, 1, 0.05, { attentionBackward: "f32", attentionForward: TWO_PASS_ATTENTION_TC, headSplitK: 0 }])
    // --split-k-head: the same step with only the lm_head's dX as one product
    if (process.argv.includes("--split-k-head")) runs.splice(1, 0, ["f16", 16, 1, 0.05, { headSplitK: 0 }])
    // --attention-forward: the same step with the one-pass multi-subgroup forward attention
    if (process.argv.includes("--attention-forward")) runs.splice(1, 0, ["f16", 16, 1, 0.05, { attentionForward: await comparedForm(gpu) }])
    for (const [format, batch, accumulation, dropout, choices] of runs) {
      peak = allocated
      await guard(`training ${format} ${batch}×${accumulation} dropout ${dropout}${choiceName(choices ?? {})}`, () => trainBench(gpu, format, quick ? { ...QWEN3_0_6B, layers: 2 } : QWEN3_0_6B, batch, 1024, 3, accumulation, dropout, choices))
    }
    if (!quick && !process.argv.includes("--no-14b")) {
      hostWeights.clear()
      peak = allocated
      await guard("training 14B nf4", () => trainBench(gpu, "nf4", QWEN3_14B, 1, 1024, 2, 1))
      hostWeights.clear()
    }
  }
  if (!quick && !onlyModel && !onlyTraining) {
    // Qwen3-14B in NF4 (issue 9: it must fit one 80 GB card): 40 layers of NF4 linears
    hostWeights.clear()
    peak = allocated
    await guard("model 14B nf4", () => modelBench(gpu, "nf4", QWEN3_14B))
  }
}

await main()
// Dawn's threads can keep the process alive (and have crashed it at exit): leave explicitly.
process.exit(process.exitCode ?? 0)
