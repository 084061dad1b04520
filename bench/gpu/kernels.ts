/**
 * GPU kernel benchmark (run on the device): adapter info, matmul TFLOP/s (f16 tensor-core and
 * tiled, f16 and NF4 weights), Qwen3-0.6B-shaped linears at scoring shape (batch 16 × prompt 512
 * = 8192 tokens), and a full scoring forward of a Qwen3-0.6B-shaped model with random weights
 * (28 layers, each with its own weights; final norm; lm_head in 1024-row chunks, as a binding is
 * limited to 2 GiB) built from fleuve's WGSL kernels. Prints one JSON object per line.
 *
 *   node bench/gpu/kernels.ts [--quick]
 */
import { readBuffer, runDispatches, storageBuffer, toF16, uniformBuffer, type Dispatch } from "../../gpu/kernels/buffers.ts"
import { openGpu, pickMatrixConfig, type Gpu } from "../../gpu/kernels/device.ts"
import { tensorCoreAttention } from "../../gpu/kernels/attention-tc.ts"
import { elementwiseKernels, fusedKernels } from "../../gpu/kernels/fused.ts"
import { matmulPlan, type MatmulImpl, type WeightFormat } from "../../gpu/kernels/matmul.ts"

const quick = process.argv.includes("--quick")
const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o))
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

const rand = (n: number, scale: number, seed = 1) => {
  let x = seed
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    x = (x * 1664525 + 1013904223) >>> 0
    out[i] = (x / 2 ** 32 * 2 - 1) * scale
  }
  return out
}

/** Median wall time of `reps` submissions of the same dispatch list (each waited for). */
const time = async (gpu: Gpu, ds: Array<Dispatch>, reps: number, warm = 2) => {
  for (let i = 0; i < warm; i++) await runDispatches(gpu.device, ds)
  const ts: Array<number> = []
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now()
    await runDispatches(gpu.device, ds)
    ts.push(performance.now() - t0)
  }
  ts.sort((a, b) => a - b)
  return ts[Math.floor(ts.length / 2)]! / 1000
}

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
const QWEN3_14B: ModelShape = { name: "Qwen3-14B-shaped", hidden: 5120, heads: 40, kvHeads: 8, headDim: 128, intermediate: 17408, vocab: 151936, layers: 40 }

/** Scoring forward at batch 16 × prompt 512 (tokens = B·S), every layer with its own weights. */
const modelBench = async (gpu: Gpu, format: WeightFormat, shape: ModelShape, attentionKind: "tensor-core" | "scalar" = "tensor-core") => {
  const [B, S, Hd, H, KV, D, I, vocab, layers] = [16, 512, shape.hidden, shape.heads, shape.kvHeads, shape.headDim, shape.intermediate, shape.vocab, shape.layers]
  const T = B * S
  const dev = gpu.device
  const mm = await matmulPlan(gpu, format)
  const mmF16 = await matmulPlan(gpu, "f16")
  const fused = await fusedKernels(gpu, D)
  const attention = attentionKind === "tensor-core" && pickMatrixConfig(gpu) ? await tensorCoreAttention(gpu, D) : fused.attention
  const el = await elementwiseKernels(gpu)
  const f32 = (n: number) => track(storageBuffer(dev, n * 4))
  const f16 = (n: number) => track(storageBuffer(dev, n * 2))
  // activations
  const x = track(storageBuffer(dev, rand(T * Hd, 1, 3)))
  const xn = f32(T * Hd), xh = f16(T * Hd)
  const q = f32(T * H * D), k = f32(T * KV * D), v = f32(T * KV * D), att = f32(T * H * D), atth = f16(T * H * D)
  const o = f32(T * Hd), g = f32(T * I), u = f32(T * I), act = f32(T * I), acth = f16(T * I), down = f32(T * Hd)
  const normW = track(storageBuffer(dev, rand(Hd, 1, 5).map((a) => 1 + 0.1 * a)))
  const headNormW = track(storageBuffer(dev, rand(D, 1, 6).map((a) => 1 + 0.1 * a)))
  const weights = Array.from({ length: layers }, (_, l) => ({
    q: weightBuffers(gpu, format, H * D, Hd, 100 + l),
    k: weightBuffers(gpu, format, KV * D, Hd, 200 + l),
    v: weightBuffers(gpu, format, KV * D, Hd, 300 + l),
    o: weightBuffers(gpu, format, Hd, H * D, 400 + l),
    gate: weightBuffers(gpu, format, I, Hd, 500 + l),
    up: weightBuffers(gpu, format, I, Hd, 600 + l),
    down: weightBuffers(gpu, format, Hd, I, 700 + l)
  }))
  const lmHead = track(storageBuffer(dev, randomF16(vocab * Hd, 0.05, 11))) // the output head stays f16
  const chunk = 1024
  const logits = f32(chunk * vocab)
  const u32 = (words: Array<number>, floats: Array<number> = []) => uniformBuffer(dev, words, floats)
  const p = {
    norm: u32([T, Hd, 0, 0], [1e-6]),
    castX: u32([T * Hd]), castAtt: u32([T * H * D]), castAct: u32([T * I]),
    q: u32([T, H * D, Hd, 0]), kv: u32([T, KV * D, Hd, 0]), o: u32([T, Hd, H * D, 0]), gu: u32([T, I, Hd, 0]), down: u32([T, Hd, I, 0]),
    qkQ: u32([T, S, H, 0], [1e-6, 1e6]), qkK: u32([T, S, KV, 0], [1e-6, 1e6]),
    att: u32([B, S, S, H, KV, 0, 0, 0], [1 / Math.sqrt(D)]),
    add: u32([T * Hd]), swiglu: u32([T * I]),
    lm: u32([chunk, vocab, Hd, 0])
  }
  const layer = (w: (typeof weights)[number]): Array<Dispatch> => [
    fused.rmsnorm({ X: x, W: normW, Y: xn, params: p.norm }, T),
    el.castF16({ X: xn, Y: xh, params: p.castX }, T * Hd),
    mm.dispatch({ A: xh, C: q, params: p.q, ...w.q }, T, H * D),
    mm.dispatch({ A: xh, C: k, params: p.kv, ...w.k }, T, KV * D),
    mm.dispatch({ A: xh, C: v, params: p.kv, ...w.v }, T, KV * D),
    fused.qkNormRope({ X: q, W: headNormW, params: p.qkQ }, T, H),
    fused.qkNormRope({ X: k, W: headNormW, params: p.qkK }, T, KV),
    attention({ Q: q, K: k, V: v, O: att, params: p.att }, B, S, H),
    el.castF16({ X: att, Y: atth, params: p.castAtt }, T * H * D),
    mm.dispatch({ A: atth, C: o, params: p.o, ...w.o }, T, Hd),
    el.add({ X: x, R: o, params: p.add }, T * Hd),
    fused.rmsnorm({ X: x, W: normW, Y: xn, params: p.norm }, T),
    el.castF16({ X: xn, Y: xh, params: p.castX }, T * Hd),
    mm.dispatch({ A: xh, C: g, params: p.gu, ...w.gate }, T, I),
    mm.dispatch({ A: xh, C: u, params: p.gu, ...w.up }, T, I),
    fused.swiglu({ G: g, U: u, Y: act, params: p.swiglu }, T * I),
    el.castF16({ X: act, Y: acth, params: p.castAct }, T * I),
    mm.dispatch({ A: acth, C: down, params: p.down, ...w.down }, T, Hd),
    el.add({ X: x, R: down, params: p.add }, T * Hd)
  ]
  // lm_head over the final-normed hidden states, 1024 token rows at a time (logits are consumed per chunk)
  const head: Array<Dispatch> = [fused.rmsnorm({ X: x, W: normW, Y: xn, params: p.norm }, T), el.castF16({ X: xn, Y: xh, params: p.castX }, T * Hd)]
  const lmChunks: Array<Dispatch> = []
  for (let c = 0; c < T / chunk; c++) {
    // A sub-range of xh as its own binding would need offsets; the chunk's rows are re-read from the start
    // of xh, the same FLOPs and bytes as the real chunk.
    lmChunks.push(mmF16.dispatch({ A: xh, B: lmHead, C: logits, params: p.lm }, chunk, vocab))
  }
  const body = weights.flatMap(layer)
  const tLayers = await time(gpu, body, 3, 1)
  const tHead = await time(gpu, [...head, ...lmChunks], 3, 1)
  const total = tLayers + tHead
  const layerFlops = 2 * T * Hd * (H * D + 2 * KV * D) + 2 * T * H * D * Hd + 3 * 2 * T * Hd * I + 2 * B * H * S * S * D // causal attention ≈ half of 4·S²·D
  const flops = layers * layerFlops + 2 * T * Hd * vocab
  // sanity: the forward produced finite numbers
  const sample = new Float32Array(await readBuffer(dev, logits, 4096))
  emit({
    kind: "scoring-forward", model: `${shape.name}, random weights`, weights: format, attention: attention === fused.attention ? "scalar" : "tensor-core", matmul: mm.variant, layers, batch: B, prompt: S,
    ms_layers: +(tLayers * 1e3).toFixed(1), ms_final_norm_lm_head: +(tHead * 1e3).toFixed(1),
    tokens_per_s: Math.round(T / total), tflops: +(flops / total / 1e12).toFixed(2),
    peak_gpu_bytes_allocated: peak, finite: sample.every(Number.isFinite)
  })
  free([x, xn, xh, q, k, v, att, atth, o, g, u, act, acth, down, normW, headNormW, lmHead, logits, ...weights.flatMap((w) => Object.values(w).flatMap((b) => [b.B, ...(b.absmax ? [b.absmax] : [])]))])
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
  const onlyModel = process.argv.includes("--only-model")
  const guard = async (what: string, f: () => Promise<void>) => {
    try {
      await f()
    } catch (e) {
      emit({ kind: "error", what, reason: e instanceof Error ? e.message : String(e) })
    }
  }
  for (const impl of onlyModel ? [] : impls) {
    for (const format of ["f16", "nf4"] as const) {
      for (const n of quick ? [2048] : [4096, 8192]) await guard(`matmul ${impl} ${format} ${n}`, () => matmulBench(gpu, impl, format, n, n, n, `square ${n}`))
    }
  }
  const T = 16 * 512
  const shapes: Array<[string, number, number]> = [["q_proj", 2048, 1024], ["k/v_proj", 1024, 1024], ["o_proj", 1024, 2048], ["gate/up_proj", 3072, 1024], ["down_proj", 1024, 3072], ["lm_head chunk (M=1024)", 151936, 1024]]
  for (const format of onlyModel ? [] : (["f16", "nf4"] as const)) {
    for (const [label, N, K] of shapes) {
      if (format === "nf4" && label.startsWith("lm_head")) continue
      await guard(`linear ${label}`, () => matmulBench(gpu, impls[0]!, format, label.startsWith("lm_head") ? 1024 : T, N, K, label))
    }
  }
  for (const format of ["f16", "nf4"] as const) {
    peak = allocated
    await guard(`model ${format}`, () => modelBench(gpu, format, quick ? { ...QWEN3_0_6B, layers: 2 } : QWEN3_0_6B))
  }
  peak = allocated
  await guard("model f16, scalar attention", () => modelBench(gpu, "f16", quick ? { ...QWEN3_0_6B, layers: 2 } : QWEN3_0_6B, "scalar"))
  if (!quick && !onlyModel) {
    // Qwen3-14B in NF4 (issue 9: it must fit one 80 GB card): 40 layers of NF4 linears
    hostWeights.clear()
    peak = allocated
    await guard("model 14B nf4", () => modelBench(gpu, "nf4", QWEN3_14B))
  }
}

await main()
// Dawn's threads can keep the process alive (and have crashed it at exit): leave explicitly.
process.exit(process.exitCode ?? 0)
