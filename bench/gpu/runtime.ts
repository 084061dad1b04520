/**
 * fleuve's Qwen3 runtime (tfjs on WebGPU) on a Qwen3-0.6B-shaped model with random weights:
 * scoring, greedy generation with the KV cache, and LoRA training, the shapes of issue 9's
 * benchmark. Run it twice — FLEUVE_WEBGPU_KERNELS=stock (tfjs' kernels) and the default (fleuve's
 * tensor-core matmul) — next to bench/gpu/torch_peer.py on the same card. One JSON object a line.
 *
 *   node bench/gpu/runtime.mjs [--layers 28] [--quick] [--only scoring,generation,training]
 */
import * as tf from "@tensorflow/tfjs-core"
import { parseArgs } from "node:util"
import { type BackendName, selectBackend } from "../../model/tfjs/backend.ts"
import { attachLora, defaultLoraConfig } from "../../model/qwen3/lora.ts"
import { parseQwen3Config } from "../../model/qwen3/config.ts"
import { expectedShapes, type KvCache, Qwen3Model } from "../../model/tfjs/qwen3-model.ts"
import { defaultTrainOptions, train } from "../../model/train/trainer.ts"
import { kernelUse, webgpuKernelsRegistered } from "../../model/tfjs/webgpu-kernels.ts"

const { values: args } = parseArgs({
  options: {
    layers: { type: "string", default: "28" }, quick: { type: "boolean", default: false }, only: { type: "string" },
    // a smoke run of this script on a CPU: a tiny model on another backend
    tiny: { type: "boolean", default: false }, backend: { type: "string", default: "webgpu" },
    // LoRA micro-batch (sequences a forward/backward); the optimizer step is always 16 sequences
    micro: { type: "string", default: "1" }
  }
})
const layers = Number(args.layers)
const quick = args.quick!
const wanted = (what: string) => !args.only || args.only.split(",").includes(what)
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o))

const choice = await selectBackend(args.backend as BackendName)
const kernels = webgpuKernelsRegistered() ? "fleuve" : "tfjs-stock"
emit({ kind: "runtime", backend: choice.backend, device: choice.device, kernels, tfjs: tf.version_core })

const config = parseQwen3Config({
  model_type: "qwen3", vocab_size: 151936, hidden_size: 1024, intermediate_size: 3072, num_hidden_layers: layers,
  num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128, rms_norm_eps: 1e-6, rope_theta: 1000000, max_position_embeddings: 4096, tie_word_embeddings: true,
  ...(args.tiny ? { vocab_size: 512, hidden_size: 64, intermediate_size: 128, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 32 } : {})
})
const params = new Map<string, tf.Tensor>()
for (const [name, shape] of expectedShapes(config)) params.set(name, name.includes("norm") ? tf.ones(shape) : tf.randomNormal(shape, 0, 0.02, "float32", 7))
const model = new Qwen3Model(config, params)
const V = config.vocabSize
const tokens = (rows: number, length: number, salt: number) => Array.from({ length: rows }, (_, r) => Array.from({ length }, (_, i) => (r * 977 + i * 131 + salt) % V))
const seconds = (t0: number) => (performance.now() - t0) / 1000
const memory = () => (tf.memory() as { numBytesInGPU?: number }).numBytesInGPU ?? tf.memory().numBytes
const guard = async (what: string, f: () => Promise<void>) => {
  try {
    await f()
  } catch (e) {
    emit({ kind: "error", what, reason: e instanceof Error ? e.message.slice(0, 500) : String(e), stack: e instanceof Error ? e.stack?.split("\n").slice(1, 8).join(" / ") : undefined })
  }
}

/**
 * Scoring, batch 16 × prompt 512: the full logits of 16 × 512 × 151,936 f32 are 5 GB, over
 * WebGPU's 2 GiB binding limit, so the batch runs as micro-batches of 4 rows (1.2 GB of logits
 * each) — what the scorer does when a batch is too large. Also returns log-probs of a few
 * tokens, to compare the kernel choices.
 */
const scoring = async () => {
  const [B, S, micro] = [16, 512, 4]
  const ids = tokens(B, S, 1)
  const pass = async () => {
    let checksum = 0
    for (let r = 0; r < B; r += micro) {
      const { logits } = model.forward(ids.slice(r, r + micro))
      const lp = tf.tidy(() => tf.slice(tf.logSoftmax(tf.slice(logits, [0, S - 4, 0], [1, 4, V])), [0, 0, 0], [1, 4, 8]))
      const data = Array.from(await lp.data())
      if (r === 0) checksum = data.reduce((a, x) => a + x, 0)
      tf.dispose([logits, lp])
    }
    return checksum
  }
  const use0 = { ...kernelUse }
  await pass() // compile shaders
  const times: Array<number> = []
  let sample = 0
  for (let i = 0; i < (quick ? 1 : 3); i++) {
    const t0 = performance.now()
    sample = await pass()
    times.push(seconds(t0))
  }
  const best = Math.min(...times)
  const Tk = B * S
  const { hiddenSize: Hd, numHeads: H, numKvHeads: KV, headDim: D, intermediateSize: I } = config
  const flops = layers * (2 * Tk * Hd * (H * D + 2 * KV * D) + 2 * Tk * H * D * Hd + 3 * 2 * Tk * Hd * I + 2 * B * H * S * S * D) + 2 * Tk * Hd * V
  emit({ kind: "scoring", kernels, layers, batch: B, prompt: S, micro_batch: micro, tokens_per_s: Math.round(Tk / best), ms: +(best * 1e3).toFixed(1),
    tflops: +(flops / best / 1e12).toFixed(2), logprob_sum_sample: sample, gpu_bytes_in_use: memory(),
    tensor_core_calls: kernelUse.tensorCore - use0.tensorCore, stock_calls: kernelUse.stock - use0.stock })
}

/** Greedy generation, batch 16, prompt 128, 128 new tokens, with the KV cache (prefill + 127 decode steps). */
const generation = async () => {
  const [B, P, NEW] = [16, 128, quick ? 8 : 128]
  const argmaxLast = async (logits: tf.Tensor3D) => {
    const t = tf.tidy(() => tf.argMax(tf.squeeze(tf.slice(logits, [0, logits.shape[1] - 1, 0], [logits.shape[0], 1, V]), [1]), 1))
    const out = Array.from(await t.data())
    t.dispose()
    return out
  }
  const run = async (steps: number) => {
    const ids = tokens(B, P, 2)
    let { logits, cache } = model.forward(ids, { keepCache: true }) as { logits: tf.Tensor3D; cache: KvCache }
    const t0 = performance.now()
    let prefill = 0
    for (let step = 0; step < steps; step++) {
      const next = await argmaxLast(logits)
      if (step === 0) prefill = seconds(t0)
      logits.dispose()
      if (step === steps - 1) break
      const r = model.forward(next.map((t) => [t]), { cache, positions: next.map(() => [P + step]), keepCache: true })
      for (const t of [...cache.k, ...cache.v]) t.dispose()
      logits = r.logits as tf.Tensor3D
      cache = r.cache!
    }
    for (const t of [...cache.k, ...cache.v]) t.dispose()
    return prefill
  }
  await run(2) // compile shaders
  const t0 = performance.now()
  await run(NEW)
  const total = seconds(t0)
  emit({ kind: "generation", kernels, layers, batch: B, prompt: P, new_tokens: NEW, tokens_per_s: Math.round((B * NEW) / total), ms_total: +(total * 1e3).toFixed(1), gpu_bytes_in_use: memory() })
}

/**
 * LoRA (r 16, α 32, all projections) training, sequence 1024, effective batch 16 (micro-batch 1
 * × 16 accumulation by default: tfjs keeps every intermediate of the tape, and micro-batches of 2
 * ran the H100 out of memory).
 */
const training = async () => {
  attachLora(model, defaultLoraConfig, 1)
  const micro = Number(args.micro)
  const [S, accumulation] = [1024, quick ? 1 : 16 / micro]
  const data = tokens(micro * accumulation * 4, S, 3).map((ids) => ({ ids }))
  const stamps: Array<{ t: number; loss: number }> = []
  const steps = quick ? 2 : 3
  const t0 = performance.now()
  await train(model, { kind: "lora", lora: defaultLoraConfig, baseModel: "random-0.6B" }, data,
    { ...defaultTrainOptions, microBatch: micro, gradAccumulation: accumulation, totalSteps: 100, stopAfter: steps, outDir: "/tmp/fleuve-bench-lora" },
    (r) => stamps.push({ t: performance.now(), loss: r.loss }))
  // the first step compiles shaders: rate from the later ones
  const later = (stamps.at(-1)!.t - stamps[0]!.t) / 1000 / (stamps.length - 1)
  const perStep = micro * accumulation * S
  emit({ kind: "lora-training", kernels, layers, sequence: S, micro_batch: micro, grad_accumulation: accumulation, tokens_per_s: Math.round(perStep / later),
    s_per_step: +later.toFixed(2), first_step_s: +((stamps[0]!.t - t0) / 1000).toFixed(1), losses: stamps.map((s) => +s.loss.toFixed(4)), gpu_bytes_in_use: memory() })
}

if (wanted("scoring")) await guard("scoring", scoring)
if (wanted("generation")) await guard("generation", generation)
if (wanted("training")) await guard("training", training)
emit({ kind: "kernel-use", ...kernelUse })
process.exit(0)
