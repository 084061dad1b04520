import { bestWallMs, type Binding, type Dispatch, readBuffer, runDispatches, seededRandoms, storageBuffer, toF16, uniformBuffer } from "./kernels/buffers.ts"
import { mismatch, probeTolerance, valuesOf } from "./probe-check.ts"
import { decodeAttendParams, decodeGemvParams, decodeKernelRows, decodeLayerKernels, type DecodeLayerKernels, type DecodeLayerOptions, type DecodeStorage, gemvColumnsPerGroup, type GemvShape } from "./kernels/decode-layer.ts"
import { BLOCKED_CANDIDATES, blockedColumnsPerGroup, type BlockedGemvShape, DEFAULT_BLOCKED_SHAPE, isBlockedShape } from "./kernels/decode-gemv-blocked.ts"
import type { Gpu } from "./kernels/device.ts"
import { TC_CANDIDATES, TC_COLUMNS, type TcGemvShape, tcGemvKStep } from "./kernels/decode-gemv-tc.ts"
import type { EngineShape, EngineWeights } from "./qwen3-engine.ts"

/**
 * Each fused GEMV kind's layout (GemvShape) for a decoder, timed on the device at first use: the
 * best layout depends on the card, the rows (16 rows are bound by reading the activations, one row
 * by the weights' latency) and N (a narrow N needs its K split over more threads to keep enough
 * loads in flight). Each candidate runs the kind over every layer's weights (as a step does, so
 * the weights come from memory, not the L2 cache), three times; the fastest wall time wins. The
 * choice is kept per device, rows (rounded up to a power of two) and shape: only the first decoder
 * of a size pays (a second or so).
 */
export const GEMV_CANDIDATES: ReadonlyArray<GemvShape> = [
  { columns: 1, slices: 1 }, { columns: 2, slices: 1 }, { columns: 4, slices: 1 }, { columns: 1, slices: 2 },
  { columns: 2, slices: 2 }, { columns: 1, slices: 4 }, { columns: 2, slices: 4 }, { columns: 1, slices: 8 }
]

type Kind = "qkv" | "gateUp" | "accumulate" | "head" | "oCombined"
/** A layout for each GEMV kind; `oCombined` (the o GEMV folding the split attention's chunks) only where it was tuned. */
export type TunedShapes<S = GemvShape> = Readonly<Record<"qkv" | "gateUp" | "accumulate" | "head", S>> & { readonly oCombined?: S }

const tuned = new WeakMap<GPUDevice, Map<string, TunedShapes<AnyGemvShape>>>()

/** The buffers a tuning run writes into (the decoder's own: garbage until its first step). */
export interface TuneBuffers {
  readonly x: Binding
  readonly qkv: Binding
  readonly atth: Binding
  readonly acth: Binding
  readonly logits: Binding
  /**
   * the split attention's partials (and the cache's positions) where the decoder folds their
   * combination into the o GEMV: that GEMV is then timed apart ("oCombined"), at the last
   * position (the most chunks to fold). Never written before the tuning: the products are NaN
   * garbage in x, which the first step's embedding overwrites.
   */
  readonly fold?: { readonly part: Binding; readonly positions: number }
}

export const tuneDecodeShapes = (gpu: Gpu, shape: EngineShape, weights: EngineWeights, decoderRows: number, b: TuneBuffers, withHead: boolean, storage: DecodeStorage = "f16", candidates: ReadonlyArray<GemvShape> = GEMV_CANDIDATES): Promise<TunedShapes> =>
  tuneLayouts(gpu, shape, weights, decoderRows, b, withHead, storage, {
    name: "cuda-cores", candidates, fallback: { columns: 2, slices: 1 }, columns: gemvColumnsPerGroup,
    options: (c) => ({ shapes: { qkv: c, gateUp: c, accumulate: c, head: c, oCombined: c } })
  })

/**
 * For a decoder whose kernels are written for 8 or 16 rows and that asks for the blocked GEMVs
 * (DecodeLayerOptions.gemv "blocked"): their layouts (model/wgsl/kernels/decode-gemv-blocked.ts
 * BlockedGemvShape, BLOCKED_CANDIDATES) added to the CUDA-core ones as candidates, timed as
 * tuneDecodeShapes times those, so each kind runs the fastest of either family (the result is the
 * kernels' `shapes` as it is: DecodeLayerOptions.shapes takes either). The o GEMV folding the split
 * attention's chunks is
 * not blocked: not timed here (its default layout).
 */
export const tuneBlockedShapes = (gpu: Gpu, shape: EngineShape, weights: EngineWeights, decoderRows: number, b: TuneBuffers, withHead: boolean, storage: DecodeStorage = "f16", candidates: ReadonlyArray<GemvShape | BlockedGemvShape> = [...GEMV_CANDIDATES, ...BLOCKED_CANDIDATES]): Promise<TunedShapes<GemvShape | BlockedGemvShape>> => {
  const { fold: _fold, ...plain } = b
  const each = <S>(c: S) => ({ qkv: c, gateUp: c, accumulate: c, head: c })
  return tuneLayouts(gpu, shape, weights, decoderRows, plain, withHead, storage, {
    name: "blocked", candidates, fallback: DEFAULT_BLOCKED_SHAPE,
    columns: (c) => (isBlockedShape(c) ? blockedColumnsPerGroup(c) : gemvColumnsPerGroup(c)),
    options: (c) => ({ gemv: "blocked", shapes: each(c) })
  })
}

/** The tensor-core layouts whose K step divides every width of `shape` (hidden, H · D, intermediate): the ones its GEMVs can run. */
export const tcShapesFitting = (shape: EngineShape, candidates: ReadonlyArray<TcGemvShape> = TC_CANDIDATES): ReadonlyArray<TcGemvShape> =>
  candidates.filter((c) => [shape.hidden, shape.heads * shape.headDim, shape.intermediate].every((k) => k % tcGemvKStep(c.unroll, c.warps) === 0))

/**
 * For a decoder whose GEMVs run on the tensor cores (decode-gemv-tc.ts): each kind's staging depth
 * and whether its loads run a step ahead (TcGemvShape), timed as tuneDecodeShapes times the CUDA-core
 * layouts. Candidates whose K step does not divide every width are left out, and so is any whose
 * products differ from the first candidate's on this device (layoutCheck: these kernels are the
 * newest, and a card once read wrong values from one whose emulated test passed, session 15);
 * `options` joins each candidate's kernel options (tests: the emulated fragments). Depth and
 * prefetch change no result; more warps change the order of the K slices' sums.
 */
export const tuneTensorCoreShapes = (gpu: Gpu, shape: EngineShape, weights: EngineWeights, decoderRows: number, b: TuneBuffers, withHead: boolean, storage: DecodeStorage = "f16", candidates: ReadonlyArray<TcGemvShape> = TC_CANDIDATES, options: DecodeLayerOptions = {}): Promise<TunedShapes<TcGemvShape>> => {
  const { fold: _fold, ...plain } = b
  const fits = tcShapesFitting(shape, candidates)
  if (fits.length === 0) return Promise.reject(new Error(`decode tuner: no tensor-core GEMV layout of ${JSON.stringify(candidates)} divides the widths ${shape.hidden}, ${shape.heads * shape.headDim}, ${shape.intermediate}`))
  return tuneLayouts(gpu, shape, weights, decoderRows, plain, withHead, storage, {
    name: "tensor-cores", candidates: fits, fallback: fits[0]!, columns: () => TC_COLUMNS, check: true,
    options: (c) => ({ ...options, gemv: "tensor-cores", shapes: { qkv: c, gateUp: c, accumulate: c, head: c } })
  })
}

type AnyGemvShape = GemvShape | BlockedGemvShape | TcGemvShape

/** What tuneLayouts times: a family of layouts, each one's workgroup columns and the kernels' options that make it. */
interface LayoutFamily<S extends AnyGemvShape> {
  readonly name: string
  readonly candidates: ReadonlyArray<S>
  readonly fallback: S
  readonly columns: (candidate: S) => number
  readonly options: (candidate: S) => DecodeLayerOptions
  /** true: each candidate must reproduce the first's products (layoutCheck) before it is timed */
  readonly check?: boolean
}

/** Candidates a tuning left out because their products differed from the first candidate's, and by how much (benches and tests read them). */
export const leftOutLayouts: Array<{ readonly family: string; readonly rows: number; readonly layout: AnyGemvShape; readonly why: string }> = []

/**
 * One layer's products on random activations, each kind once (qkv, gate/up, down accumulated
 * from zeros, the head where timed), for comparing a candidate's kernels with the first one's:
 * layouts sum in other orders, so within probeTolerance, not bit for bit.
 */
const layoutCheck = (dev: GPUDevice, shape: EngineShape, weights: EngineWeights, rows: number, storage: DecodeStorage, withHead: boolean, p: Record<"qkv" | "gateUp" | "down" | "head", GPUBuffer>) => {
  const { hidden: Hd, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocab } = shape
  const W = (H + 2 * KV) * D
  const bytes = storage === "f16" ? 2 : 4
  const made: Array<GPUBuffer> = []
  const keep = (b: GPUBuffer) => (made.push(b), b)
  const x = keep(storageBuffer(dev, seededRandoms(rows * Hd, 3, 1)))
  const a = seededRandoms(rows * I, 5, 1)
  const acts = keep(storageBuffer(dev, storage === "f16" ? toF16(a) : a))
  const out = { qkv: keep(storageBuffer(dev, rows * W * 4)), y: keep(storageBuffer(dev, rows * I * bytes)), down: keep(storageBuffer(dev, rows * Hd * 4)), head: keep(storageBuffer(dev, withHead ? rows * vocab * 4 : 16)) }
  const w = weights.layers[0]!
  const names = ["qkv", "gate/up", "down", ...(withHead ? ["head"] : [])]
  let want: ReadonlyArray<Float32Array> | undefined
  return {
    /** why k's products are not the first checked kernels', or undefined (the first: undefined) */
    differs: async (k: DecodeLayerKernels): Promise<string | undefined> => {
      dev.queue.writeBuffer(out.down, 0, new Float32Array(rows * Hd))
      await runDispatches(dev, [
        k.qkv({ A: x, B0: w.q.B, B1: w.k.B, B2: w.v.B, C: out.qkv, G: w.inputNorm, params: p.qkv }, W),
        k.gateUp({ A: x, B0: w.gate.B, B1: w.up.B, Y: out.y, G: w.postNorm, params: p.gateUp }, I),
        k.accumulate({ A: acts, B: w.down.B, C: out.down, params: p.down }, Hd),
        ...(withHead ? [k.head({ A: x, B: weights.lmHead, C: out.head, G: weights.finalNorm, params: p.head }, vocab)] : [])
      ])
      const got = [
        valuesOf(await readBuffer(dev, out.qkv, rows * W * 4), "f32"),
        valuesOf(await readBuffer(dev, out.y, rows * I * bytes), storage),
        valuesOf(await readBuffer(dev, out.down, rows * Hd * 4), "f32"),
        ...(withHead ? [valuesOf(await readBuffer(dev, out.head, rows * vocab * 4), "f32")] : [])
      ]
      if (!want) {
        want = got
        return undefined
      }
      return mismatch(got, want, probeTolerance(storage), names)
    },
    destroy: () => made.forEach((b) => b.destroy())
  }
}

const tuneLayouts = async <S extends AnyGemvShape>(gpu: Gpu, shape: EngineShape, weights: EngineWeights, decoderRows: number, b: TuneBuffers, withHead: boolean, storage: DecodeStorage, family: LayoutFamily<S>): Promise<TunedShapes<S>> => {
  const { hidden: Hd, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocab, eps } = shape
  // timed at the rows the kernels are written for (a power of two), kept for every decoder of that many
  const rows = decodeKernelRows(decoderRows)
  const key = JSON.stringify([family.name, rows, Hd, H, KV, D, I, vocab, weights.layers.length, withHead, storage, ...(b.fold ? [b.fold.positions] : [])])
  let cache = tuned.get(gpu.device)
  if (!cache) tuned.set(gpu.device, (cache = new Map()))
  const hit = cache.get(key)
  if (hit) return hit as TunedShapes<S>
  const dev = gpu.device
  const W = (H + 2 * KV) * D
  const made: Array<GPUBuffer> = []
  const u = (...a: Parameters<typeof decodeGemvParams>) => {
    const buf = uniformBuffer(dev, ...decodeGemvParams(...a))
    made.push(buf)
    return buf
  }
  const p = { qkv: u(rows, W, Hd, H * D, (H + KV) * D, eps), o: u(rows, Hd, H * D), gateUp: u(rows, I, Hd, 0, 0, eps), down: u(rows, Hd, I), head: u(rows, vocab, Hd, 0, 0, eps) }
  const step = b.fold ? uniformBuffer(dev, ...decodeAttendParams(rows, b.fold.positions - 1, H, KV, 1 / Math.sqrt(D), eps, shape.theta)) : undefined
  if (step) made.push(step)
  const best: Partial<Record<Kind, { shape: S; ms: number }>> = {}
  const check = family.check ? layoutCheck(dev, shape, weights, rows, storage, withHead, p) : undefined
  try {
    for (const candidate of family.candidates) {
      const per = family.columns(candidate)
      if (W % per !== 0 || (H * D) % per !== 0 || ((H + KV) * D) % per !== 0) continue // qkv's boundaries must fall between workgroups
      // a layout whose kernels this device does not compile is left out, as one it refuses to run
      const k = await decodeLayerKernels(gpu, D, { rows, ...family.options(candidate), storage, ...(b.fold ? { attend: "split", foldCombine: { heads: H } } : {}) }).catch((e: unknown) => {
        if (process.env.FLEUVE_GENERATION_LOG === "1") process.stderr.write(`generation: decoder layout ${JSON.stringify(candidate)} left out: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}\n`)
        return undefined
      })
      if (!k) continue
      const wrong = await check?.differs(k)
      if (wrong !== undefined) {
        leftOutLayouts.push({ family: family.name, rows, layout: candidate, why: `does not reproduce the first layout's products here (${wrong})` })
        if (process.env.FLEUVE_GENERATION_LOG === "1") process.stderr.write(`generation: decoder layout ${JSON.stringify(candidate)} left out: its products differ from the first layout's (${wrong})\n`)
        continue
      }
      const runs: Array<[Kind, ReadonlyArray<Dispatch>]> = [
        ["qkv", weights.layers.map((w, l) => k.qkv({ A: b.x, B0: w.q.B, B1: w.k.B, B2: w.v.B, C: b.qkv, G: weights.layers[l]!.inputNorm, params: p.qkv }, W))],
        ["gateUp", weights.layers.map((w) => k.gateUp({ A: b.x, B0: w.gate.B, B1: w.up.B, Y: b.acth, G: w.postNorm, params: p.gateUp }, I))],
        // o and down: one layout for both (the same kernel); timed together
        ["accumulate", weights.layers.flatMap((w) => [k.accumulate({ A: b.atth, B: w.o.B, C: b.x, params: p.o }, Hd), k.accumulate({ A: b.acth, B: w.down.B, C: b.x, params: p.down }, Hd)])],
        ...(step && b.fold && k.folds ? [["oCombined", weights.layers.map((w) => k.oCombined({ Part: b.fold!.part, B: w.o.B, C: b.x, params: p.o, step }, Hd))] as [Kind, ReadonlyArray<Dispatch>]] : []),
        ...(withHead ? [["head", Array(4).fill(k.head({ A: b.x, B: weights.lmHead, C: b.logits, G: weights.finalNorm, params: p.head }, vocab))] as [Kind, ReadonlyArray<Dispatch>]] : [])
      ]
      for (const [kind, ds] of runs) {
        // a layout the device refuses (validation) is left out, not timed
        const ms = (await bestWallMs(dev, [ds], 2).catch(() => [Infinity]))[0]!
        if (Number.isFinite(ms) && (!best[kind] || ms < best[kind]!.ms)) best[kind] = { shape: candidate, ms }
      }
    }
  } finally {
    for (const buf of made) buf.destroy()
    check?.destroy()
  }
  const fallback = family.fallback
  const result: TunedShapes<S> = { qkv: best.qkv?.shape ?? fallback, gateUp: best.gateUp?.shape ?? fallback, accumulate: best.accumulate?.shape ?? fallback, head: best.head?.shape ?? fallback, ...(best.oCombined ? { oCombined: best.oCombined.shape } : {}) }
  if (process.env.FLEUVE_GENERATION_LOG === "1") process.stderr.write(`generation: decoder layouts (${family.name}) for ${rows} rows: ${JSON.stringify(Object.fromEntries(Object.entries(best).map(([kind, v]) => [kind, { ...v!.shape, ms: +v!.ms.toFixed(3) }])))}\n`)
  cache.set(key, result)
  return result
}

/** The layouts tuned so far on a device (for benchmarks' reports). */
export const tunedDecodeShapes = (device: GPUDevice): ReadonlyMap<string, TunedShapes<AnyGemvShape>> => tuned.get(device) ?? new Map()
