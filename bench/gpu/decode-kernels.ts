/**
 * The fused decoding layer's kernels (model/wgsl/kernels/decode-layer.ts) at Qwen3-0.6B's shapes,
 * each GEMV kind in every layout (GemvShape: columns a thread × slices of K) at 16 rows and at 1,
 * against the unfused GEMV (model/wgsl/kernels/gemv.ts) where it computes the same product: GPU
 * microseconds a dispatch by timestamp queries (model/wgsl/kernels/profile.ts; 28 dispatches over
 * distinct weight copies, as a step's 28 layers, so the weights come from memory, not the L2
 * cache), and the weight bandwidth that makes. Also `wall_us`: 28 × the dispatch in one pass,
 * submitted and waited for, a dispatch's share (barriers and launch included). One JSON line each.
 * At 8 or 16 rows the blocked GEMVs (model/wgsl/kernels/decode-gemv-blocked.ts) too, every layout
 * of BLOCKED_CANDIDATES (`blocked: {columns, warpColumns, unroll}`), beside the CUDA-core ones,
 * and per kind a `gemv-gain` line: the best blocked layout's GPU µs against the best CUDA-core one's.
 * Where the card has 16 × 16 f16 fragments, the tensor-core GEMVs (decode-gemv-tc.ts) at unroll 1, 2
 * and 4, each with and without their loads a step ahead (`prefetch`), in 8 warps a workgroup and
 * (unroll 1 and 2) in 16; then o and down with K split over 2 and 4 workgroups, and the norm kinds
 * reading the partials such a split leaves pending (timeSplitK, one JSON line each, `split` in it).
 *
 *   node --import tsx bench/gpu/decode-kernels.ts --rows 16,8 --gemv-only   (each kind alone at 16 and 8
 *     rows: every CUDA-core layout, the tuner's candidates among them, against every blocked layout;
 *     --quick: only the CUDA-core default and 1×8)
 *   node --import tsx bench/gpu/decode-kernels.ts [--rows 16,1] [--quick]
 *   VK_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json node --import tsx bench/gpu/decode-kernels.ts \
 *     --quick --rows 1 --storage f32 --layers 2 --tiny          (a smoke run on SwiftShader: no f16 there)
 *   --robustness-off: Dawn's disable_robustness toggle (no clamp on each storage index)
 */
import { parseArgs } from "node:util"
import { storageBuffer, uniformBuffer, type Dispatch } from "../../model/wgsl/kernels/buffers.ts"
import { attendPartialBytes, type DecodeAttend, DEFAULT_GEMV_SHAPE, decodeAttendParams, decodeGemvParams, decodeKernelRows, decodeLayerKernels, type DecodeLayerOptions, type GemvShape, type GqaLayout } from "../../model/wgsl/kernels/decode-layer.ts"
import { BLOCKED_CANDIDATES, BLOCKED_ROWS, type BlockedGemvShape } from "../../model/wgsl/kernels/decode-gemv-blocked.ts"
import { tcGemvKStep, type TcGemvShape } from "../../model/wgsl/kernels/decode-gemv-tc.ts"
import { DAWN_TOGGLES, openGpu, pickMatrixConfig } from "../../model/wgsl/kernels/device.ts"
import { gemvPlan } from "../../model/wgsl/kernels/gemv.ts"
import { profileDispatches } from "../../model/wgsl/kernels/profile.ts"
import { emit, medianSeconds, rand } from "./common.ts"

const { values: args } = parseArgs({
  options: {
    rows: { type: "string", default: "16,1" }, quick: { type: "boolean", default: false }, storage: { type: "string", default: "f16" },
    layers: { type: "string", default: "28" }, tiny: { type: "boolean", default: false },
    // Dawn's robustness transform off (every storage index clamped otherwise): what the clamps cost the GEMVs' loads
    "robustness-off": { type: "boolean", default: false },
    // the attention variants only (a smoke run of them on SwiftShader, where the GEMVs take minutes)
    "attend-only": { type: "boolean", default: false },
    // the fused GEMVs only (no unfused GEMV, no attention)
    "gemv-only": { type: "boolean", default: false }
  }
})
const storage = args.storage as "f16" | "f32"
const bytes = storage === "f16" ? 2 : 4
const opened = await openGpu(args["robustness-off"] ? { toggles: [DAWN_TOGGLES[0] + ",disable_robustness", ...DAWN_TOGGLES.slice(1)] } : {})
if (opened._tag !== "Ready") {
  emit({ kind: "error", reason: opened.reason })
  process.exit(1)
}
const gpu = opened.gpu
const dev = gpu.device
emit({ kind: "device", adapter: gpu.adapter.description, f16: gpu.hasF16, robustness_off: args["robustness-off"] })
const [Hd, H, KV, D, I, vocab] = args.tiny ? [256, 4, 2, 64, 512, 4096] : [1024, 16, 8, 128, 3072, 151936]
const LAYERS = Number(args.layers)
const shapes: ReadonlyArray<GemvShape> = args.quick
  ? [DEFAULT_GEMV_SHAPE, { columns: 1, slices: 8 }]
  : [{ columns: 1, slices: 1 }, DEFAULT_GEMV_SHAPE, { columns: 4, slices: 1 }, { columns: 1, slices: 2 }, { columns: 2, slices: 2 }, { columns: 4, slices: 2 }, { columns: 1, slices: 4 }, { columns: 2, slices: 4 }, { columns: 1, slices: 8 }, { columns: 2, slices: 8 }]

const f16Random = (n: number, seed: number) => {
  const f = rand(n, 0.05, seed)
  if (storage === "f32") return storageBuffer(dev, f)
  const h = new Uint16Array(n)
  // bytes only matter for bandwidth: f16 bits of small values (exponent 0x2000-ish), no NaN
  for (let i = 0; i < n; i++) h[i] = 0x2000 + Math.floor((f[i]! + 0.05) * 40000) % 0x1000
  return storageBuffer(dev, h)
}
/** Distinct copies of an [N, K] f16 weight, enough for LAYERS dispatches (the lm_head: one). */
const weights = (N: number, K: number, copies = LAYERS) => Array.from({ length: copies }, (_, i) => f16Random(N * K, 100 + i))

/** `per`: dispatches a layer (the split attention's 2): the times are a layer's */
const time = async (label: string, ds: ReadonlyArray<Dispatch>, bytes: number, extra: Record<string, unknown>, per = 1) => {
  const [t] = await profileDispatches(gpu, ds.map((d) => [label, d] as const), 5)
  const wall = await medianSeconds(gpu, ds, 5)
  const n = ds.length / per
  const us = (t!.ms * 1000) / n
  emit({ kind: "decode-kernel", label, ...extra, gpu_us: +us.toFixed(2), wall_us: +((wall * 1e6) / n).toFixed(2), weight_gb_s: Math.round(bytes / (us * 1e-6) / 1e9) })
  return { us, gbs: bytes / (us * 1e-6) / 1e9 }
}

const x = storageBuffer(dev, rand(16 * I, 1, 3)) // f32 activations (the norm kinds read [M, Hd])
const xh = storage === "f16" ? storageBuffer(dev, new Uint16Array(16 * I).fill(0x3c00)) : storageBuffer(dev, new Float32Array(16 * I).fill(1)) // activations in storage (o, down read [M, K])
const g = storageBuffer(dev, new Float32Array(I).fill(1))
const out = storageBuffer(dev, 16 * vocab * 4)
const Wq = weights(H * D, Hd), Wk = weights(KV * D, Hd), Wv = weights(KV * D, Hd), Wo = weights(Hd, H * D)
const Wg = weights(I, Hd), Wu = weights(I, Hd), Wd = weights(Hd, I), Wh = weights(vocab, Hd, 1)
const W = (H + 2 * KV) * D
// the tensor-core GEMVs' staging depths timed (16-value steps of K a subgroup stages at once), each
// with and without its loads a step ahead (DecodeGemvTcSpec.prefetch), in 8 warps a workgroup and,
// at depths 1 and 2, in 16 (a layout past the device's workgroup limits: an error line)
const TC_LAYOUTS: ReadonlyArray<{ tc: TcGemvShape }> = [
  ...[1, 2, 4].flatMap((unroll) => [false, true].map((prefetch) => ({ tc: { unroll, prefetch } }))),
  ...[1, 2].flatMap((unroll) => [false, true].map((prefetch) => ({ tc: { unroll, prefetch, warps: 16 } })))
]
// the gqa attention's layouts timed beside its defaults (subgroups a workgroup, keys a team a sweep;
// past the device's workgroup size: an error line): fewer keys a lane, more subgroups an SM
const GQA_LAYOUTS: ReadonlyArray<GqaLayout> = [{ warps: 8, keys: 8 }, { warps: 16, keys: 8 }, { warps: 32, keys: 8 }, { warps: 32, keys: 4 }, { warps: 16, keys: 16 }]
const GQA_SPLIT_LAYOUTS: ReadonlyArray<GqaLayout> = [{ warps: 8, keys: 8 }, { warps: 4, keys: 8 }, { warps: 8, keys: 4 }, { warps: 16, keys: 8 }]
/**
 * The tensor-core GEMVs with K split over workgroups (DecodeLayerOptions.tcSplit, opt-in): o and
 * down (N = 1024: 64 workgroups of 16 columns on the H100's 132 SMs) in 2 and 4 parts, each folding
 * the slices the kind before left pending (as every one but the step's first does), and what reading
 * those slices costs the norm kinds after a split (qkv and gate/up reading A plus them).
 */
const timeSplitK = async (M: number) => {
  const pend = storageBuffer(dev, 3 * 16 * I * 4)
  const part = storageBuffer(dev, 3 * 16 * Hd * 4)
  const p = (N: number, K: number, n1 = 0, n2 = 0) => uniformBuffer(dev, ...decodeGemvParams(M, N, K, n1, n2, 1e-6))
  for (const shape of [2, 4].flatMap((unroll) => [false, true].map((prefetch): TcGemvShape => ({ unroll, prefetch })))) {
    for (const split of [2, 4]) {
      const info = { rows: M, gemv: "tensor-cores", warps: 8, ...shape, split, pending: split - 1 }
      const k = await decodeLayerKernels(gpu, D, { rows: M, storage, gemv: "tensor-cores", shapes: { qkv: shape, gateUp: shape, accumulate: shape, head: shape }, tcSplit: split })
      for (const [label, ws, K] of [["o (+residual)", Wo, H * D], ["down (+residual)", Wd, I]] as const) {
        const step = tcGemvKStep(shape.unroll, 8, split)
        if (K % step !== 0) {
          emit({ kind: "error", what: `${label} ${JSON.stringify(info)}`, reason: `K ${K} is not a multiple of ${step}` })
          continue
        }
        const params = p(Hd, K)
        await time(`${label}, K split`, ws.map((w) => k.accumulate({ A: xh, B: w, C: out, params, Pend: pend, Part: part }, Hd)), Hd * K * bytes, info)
      }
      const qp = p(W, Hd, H * D, (H + KV) * D)
      await time("qkv, A pending", Wq.map((_, l) => k.qkv({ A: x, B0: Wq[l]!, B1: Wk[l]!, B2: Wv[l]!, C: out, G: g, params: qp, Pend: pend }, W)), W * Hd * bytes, info)
      const gp = p(I, Hd)
      await time("gate/up, A pending", Wg.map((_, l) => k.gateUp({ A: x, B0: Wg[l]!, B1: Wu[l]!, Y: xh, G: g, params: gp, Pend: pend }, I)), 2 * I * Hd * bytes, info)
    }
  }
  pend.destroy()
  part.destroy()
}

for (const M of args.rows!.split(",").map(Number)) {
  // every CUDA-core layout, then the tensor-core GEMVs (decode-gemv-tc.ts) where the card has 16 × 16 f16 fragments
  const tc = pickMatrixConfig(gpu)?.M === 16 && storage === "f16"
  // and the blocked GEMVs where the kernels are written for 8 or 16 rows
  const blocked = BLOCKED_ROWS.includes(decodeKernelRows(M)) ? BLOCKED_CANDIDATES.map((b) => ({ blocked: b })) : []
  const layouts: ReadonlyArray<GemvShape | { tc: TcGemvShape } | { blocked: BlockedGemvShape }> = args["attend-only"] ? [] : [...shapes, ...(tc ? TC_LAYOUTS : []), ...blocked]
  // each kind's best time per GEMV family (cuda-cores, tensor-cores, blocked), for the gemv-gain lines
  const best = new Map<string, { us: number; gbs: number; layout: unknown }>()
  for (const shape of layouts) {
    const each = <S>(s: S) => ({ qkv: s, gateUp: s, accumulate: s, head: s })
    const options: DecodeLayerOptions = "tc" in shape ? { gemv: "tensor-cores", shapes: each(shape.tc) } : "blocked" in shape ? { gemv: "blocked", shapes: each(shape.blocked) } : { shapes: each(shape) }
    let k
    try {
      k = await decodeLayerKernels(gpu, D, { rows: M, storage, ...options })
    } catch (e) {
      emit({ kind: "error", what: `shape ${JSON.stringify(shape)} rows ${M}`, reason: String(e).slice(0, 300) })
      continue
    }
    const extra = "tc" in shape ? { rows: M, gemv: "tensor-cores", warps: 8, ...shape.tc } : "blocked" in shape ? { rows: M, gemv: "blocked", ...shape.blocked } : { rows: M, gemv: "cuda-cores", columns: shape.columns, slices: shape.slices }
    const p = (N: number, K: number, n1 = 0, n2 = 0, eps = 1e-6) => uniformBuffer(dev, ...decodeGemvParams(M, N, K, n1, n2, eps))
    const family = extra.gemv
    const timeKind = async (label: string, ds: ReadonlyArray<Dispatch>, bytes: number, info: Record<string, unknown>) => {
      const got = await time(label, ds, bytes, info)
      const was = best.get(`${label}|${family}`)
      if (!was || got.us < was.us) best.set(`${label}|${family}`, { ...got, layout: shape })
    }
    await timeKind("qkv", Wq.map((_, l) => k.qkv({ A: x, B0: Wq[l]!, B1: Wk[l]!, B2: Wv[l]!, C: out, G: g, params: p(W, Hd, H * D, (H + KV) * D) }, W)), W * Hd * bytes, extra)
    await timeKind("o (+residual)", Wo.map((w) => k.accumulate({ A: xh, B: w, C: out, params: p(Hd, H * D) }, Hd)), Hd * H * D * bytes, extra)
    await timeKind("gate/up", Wg.map((_, l) => k.gateUp({ A: x, B0: Wg[l]!, B1: Wu[l]!, Y: xh, G: g, params: p(I, Hd) }, I)), 2 * I * Hd * bytes, extra)
    await timeKind("down (+residual)", Wd.map((w) => k.accumulate({ A: xh, B: w, C: out, params: p(Hd, I) }, Hd)), Hd * I * bytes, extra)
    await timeKind("lm_head", [k.head({ A: x, B: Wh[0]!, C: out, G: g, params: p(vocab, Hd) }, vocab)], vocab * Hd * bytes, extra)
  }
  // per kind: the best blocked layout against the best CUDA-core one (same rows, same run)
  for (const label of ["qkv", "o (+residual)", "gate/up", "down (+residual)", "lm_head"]) {
    const [cuda, blk, mma] = [best.get(`${label}|cuda-cores`), best.get(`${label}|blocked`), best.get(`${label}|tensor-cores`)]
    const family = (b: { us: number; gbs: number; layout: unknown }) => ({ gpu_us: +b.us.toFixed(2), weight_gb_s: Math.round(b.gbs), layout: b.layout })
    if (cuda && blk) emit({ kind: "gemv-gain", rows: M, label, cuda_cores: family(cuda), blocked: { ...family(blk), layout: (blk.layout as { blocked: unknown }).blocked }, speedup: +(cuda.us / blk.us).toFixed(2), ...(mma ? { tensor_cores: { ...family(mma), layout: (mma.layout as { tc: unknown }).tc }, tensor_cores_vs_blocked: +(blk.us / mma.us).toFixed(2) } : {}) })
  }
  // a failure here leaves the attention's timings below to run
  if (tc && !args["attend-only"]) await timeSplitK(M).catch((e) => emit({ kind: "error", what: `K split, rows ${M}`, reason: String(e).slice(0, 300) }))
  // the unfused GEMV (no norm folded in) on the same products
  if (args["gemv-only"]) continue
  if (!args["attend-only"]) {
    const plan = await gemvPlan(gpu, { accumulate: true, storage })
    const q = (N: number, K: number) => uniformBuffer(dev, [M, N, K, 0])
    const extra = { rows: M, kernel: "gemv.ts (unfused)" }
    await time("o (+residual)", Wo.map((w) => plan.dispatch({ A: xh, B: w, C: out, params: q(Hd, H * D) }, M, Hd)), Hd * H * D * bytes, extra)
    await time("down (+residual)", Wd.map((w) => plan.dispatch({ A: xh, B: w, C: out, params: q(Hd, I) }, M, Hd)), Hd * I * bytes, extra)
    await time("gate (one of the two)", Wg.map((w) => plan.dispatch({ A: xh, B: w, C: out, params: q(I, Hd) }, M, I)), I * Hd * bytes, extra)
  }
  // the attention at the middle and the last position of a 128 + 128 generation: every variant, the
  // gqa ones in several layouts (subgroups a workgroup x keys a team a sweep; none: the defaults)
  const positions = 256
  const caches = Array.from({ length: LAYERS }, () => ({ K: storageBuffer(dev, positions * M * KV * D * bytes), V: storageBuffer(dev, positions * M * KV * D * bytes) }))
  const qkv = storageBuffer(dev, rand(M * W, 1, 5))
  const Part = storageBuffer(dev, attendPartialBytes(M, H, D, positions))
  const attends: ReadonlyArray<readonly [DecodeAttend, GqaLayout?]> = [
    ["coalesced"], ["split"], ["gqa"], ["gqa-split"],
    ...GQA_LAYOUTS.map((l) => ["gqa", l] as const), ...GQA_SPLIT_LAYOUTS.map((l) => ["gqa-split", l] as const)
  ]
  for (const pos of [191, 255]) {
    const ap = uniformBuffer(dev, ...decodeAttendParams(M, pos, H, KV, 1 / Math.sqrt(D), 1e-6, 1e6))
    for (const [attend, gqa] of attends) {
      let k
      try {
        k = await decodeLayerKernels(gpu, D, { rows: M, storage, attend, queryGroup: H / KV, ...(gqa ? { gqa } : {}) })
      } catch (e) {
        emit({ kind: "error", what: `attend ${attend} ${JSON.stringify(gqa ?? {})} rows ${M}`, reason: String(e).slice(0, 300) })
        continue
      }
      const ds = caches.flatMap((c) => k.attend({ QKV: qkv, QN: g, KN: g, K: c.K, V: c.V, O: xh, Part, params: ap }, M, H, positions))
      await time(`attend (position ${pos})`, ds, 2 * (pos + 1) * M * KV * D * bytes, { rows: M, attend, ...(gqa ? { gqa: `${gqa.warps}x${gqa.keys}` } : {}) }, ds.length / caches.length)
    }
    ap.destroy()
  }
  Part.destroy()
  for (const c of caches) c.K.destroy(), c.V.destroy()
}
gpu.close()
