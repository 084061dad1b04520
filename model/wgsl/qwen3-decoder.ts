import { type Binding, encodeDispatches, readBuffer, storageBuffer, uniformBuffer, uniformData, type Dispatch } from "./kernels/buffers.ts"
import { decodeAttention } from "./kernels/decode-attention.ts"
import { TC_COLUMNS, tcGemvKStep } from "./kernels/decode-gemv-tc.ts"
import { pickMatrixConfig } from "./kernels/device.ts"
import { subgroupsOf32 } from "./kernels/matmul.ts"
import { attendLabel, chooseDecodeAttention } from "./decode-attend-choice.ts"
import { attendPartialBytes, DECODE_ROWS, type DecodeAttend, decodeAttendParams, type DecodeGemv, decodeGemvParams, decodeKernelRows, decodeLayerKernels, type DecodeLayerOptions, parseGqaLayout, tcGemvUnroll, tcKindShape } from "./kernels/decode-layer.ts"
import { BLOCKED_ROWS } from "./kernels/decode-gemv-blocked.ts"
import { GEMV_ROWS } from "./kernels/gemv.ts"
import { type KvPrefillKernels, kvPrefillKernels } from "./kernels/kv-prefill.ts"
import { type TokenFeedKernels, tokenFeedKernels } from "./kernels/token-feed.ts"
import { tableShards } from "./token-kernels.ts"
import { pickChunks, pickFeed, pickFeedParams, pickSplit, pickSplitParams } from "./kernels/pick-split.ts"
import { tcShapesFitting, tuneBlockedShapes, tuneDecodeShapes, tuneTensorCoreShapes } from "./decode-tune.ts"
import type { Gpu } from "./kernels/device.ts"
import { checkEngineShape, type EngineShape, EngineShapeError, type EngineWeights, forwardParts, type Qwen3Engine, readTokenScores, type TokenScores } from "./qwen3-engine.ts"

/**
 * Which kernels a decoding step's layers run: "fused" (model/wgsl/kernels/decode-layer.ts: five
 * dispatches a layer, the final norm and lm_head one GEMV; up to DECODE_ROWS rows with f16
 * weights) or "unfused" (the scoring engine's layer around the decode attention: fifteen a
 * layer, the lm_head on the tensor cores over 128 padded rows). Beyond DECODE_ROWS rows or with
 * NF4 weights the decoder is unfused whatever is asked. FLEUVE_DECODER_KERNELS sets the default
 * (benchmarks compare the two in one process with setDecoderKernels).
 */
export type DecoderKernels = "fused" | "unfused"
let decoderKernels: DecoderKernels = process.env.FLEUVE_DECODER_KERNELS === "unfused" ? "unfused" : "fused"
export const setDecoderKernels = (k: DecoderKernels): void => {
  decoderKernels = k
}
/**
 * How the fused kernels are laid out (model/wgsl/kernels/decode-layer.ts DecodeLayerOptions: the
 * attention variant, each GEMV's GemvShape, the GEMVs on the CUDA or tensor cores, or blocked at 8
 * or 16 rows). FLEUVE_DECODER_ATTEND=simple|unrolled|coalesced|split sets the attention,
 * FLEUVE_DECODER_GEMV=cuda-cores|tensor-cores|blocked the GEMVs,
 * FLEUVE_DECODER_GQA=<warps>x<keys> the gqa attention's layout (e.g. 32x8),
 * FLEUVE_DECODER_TC_PREFETCH=1|0 the tensor-core GEMVs' loads a step ahead or not, every kind
 * (DecodeLayerOptions.tcPrefetch; unset: each kind's depth and prefetch timed, decode-tune.ts),
 * FLEUVE_DECODER_TC_SPLIT=<parts> the tensor-core o and down GEMVs' K over that many workgroups
 * (DecodeLayerOptions.tcSplit; opt-in, untimed on a card).
 */
export type DecoderLayout = Pick<DecodeLayerOptions, "attend" | "shapes" | "gemv" | "subgroupReduce" | "gqa" | "tcPrefetch" | "tcSplit"> & {
  /** the lm_head: one GEMV over the real rows (default), or the tensor cores over 128 padded rows */
  readonly head?: "gemv" | "tensor-core"
  /**
   * true: the split attention's chunks combined in the o GEMV's prologue, not in a dispatch of
   * their own (DecodeLayerOptions.foldCombine; one dispatch a layer less); default
   * FLEUVE_DECODER_FOLD=1. Opt-in: its tests pass on the H100 and it cut a one-row step's profiled
   * GPU time by ~10 %, but that call's in-run step times were host-bound (session 7, BENCHMARKS.md).
   */
  readonly foldCombine?: boolean
  /**
   * true: a device-fed step that picks records its argmax, feeds the next step's token and writes
   * its embedding in the pick's last dispatch (model/wgsl/kernels/pick-split.ts pickMergeFeedWgsl),
   * so the next step has no feed, embedding or record dispatch; default FLEUVE_DECODER_FOLD_FEED=1.
   * Opt-in for the same reason as foldCombine.
   */
  readonly foldFeed?: boolean
}
// FLEUVE_DECODER_ATTEND: any of ATTENDS (gqa, gqa-split: model/wgsl/kernels/decode-attend-gqa.ts, opt-in)
const envAttend = process.env.FLEUVE_DECODER_ATTEND
const ATTENDS: ReadonlyArray<DecodeAttend> = ["simple", "unrolled", "coalesced", "split", "gqa", "gqa-split"]
/**
 * The attention a fused decoder of `rows` rows runs when its layout names none: `split` up to 4 rows
 * (one row on the H100, session 6 round 1, same call: 1.49 ms a step against coalesced's 1.93; a few
 * (row, head) pairs leave most SMs idle without splitting the positions), `coalesced` beyond (16
 * rows: 3.35 against split's 3.73 ms, its 28 combine dispatches not paid back). Rows 2–4 untimed.
 * Session 7 (two alternated pairs in one call): at 16 rows split led in tokens/s both times but not
 * in ms a step: unchanged.
 */
const defaultAttend = (rows: number): DecodeAttend => (rows <= 4 ? "split" : "coalesced")
/**
 * Where a fused decoder of `rows` rows runs its GEMVs when its layout does not say. Where its
 * kernels run at 16 rows (9 to 16 rows): on the tensor cores (decode-gemv-tc.ts) where the card and
 * widths allow them (tensorCoreGemvUnroll), else blocked (decode-gemv-blocked.ts); on the CUDA cores
 * below. Session 14 (H100, batch 16, prompt 128, 128 new): blocked against the CUDA-core GEMVs, the
 * step's profiled GPU time 5.13 ms against 6.27 and 3,488-4,081 tokens/s against 2,624-3,302.
 * Session 16 (one H100, three calls): the tensor-core GEMVs against blocked, 4.20 ms against 5.21
 * and 4,355-5,143 tokens/s against 3,927-4,047, ahead in every alternated pair; 15 of 16 rows'
 * tokens identical, the 16th parting at a near-tie (BENCHMARKS.md). At 8 rows neither is timed:
 * opt-in there (FLEUVE_DECODER_GEMV=blocked or tensor-cores).
 */
const defaultGemv = (rows: number, tensorCoresFit: boolean): DecodeGemv =>
  decodeKernelRows(rows) !== 16 ? "cuda-cores" : tensorCoresFit ? "tensor-cores" : "blocked"
const envGemv = process.env.FLEUVE_DECODER_GEMV
const GEMVS: ReadonlyArray<DecodeGemv> = ["cuda-cores", "tensor-cores", "blocked"]
const envGqa = parseGqaLayout(process.env.FLEUVE_DECODER_GQA)
const envPrefetch = process.env.FLEUVE_DECODER_TC_PREFETCH
const envSplit = process.env.FLEUVE_DECODER_TC_SPLIT
const envSplitParts = /^[1-9][0-9]*$/.test(envSplit ?? "") ? Number(envSplit) : undefined
if (envSplit && envSplitParts === undefined) process.stderr.write(`FLEUVE_DECODER_TC_SPLIT=${envSplit}: not a whole number of parts; K not split\n`)
if (envPrefetch && envPrefetch !== "1" && envPrefetch !== "0") process.stderr.write(`FLEUVE_DECODER_TC_PREFETCH=${envPrefetch}: not 1 or 0; each kind's prefetch timed on the device\n`)
if (process.env.FLEUVE_DECODER_GQA && !envGqa) process.stderr.write(`FLEUVE_DECODER_GQA=${process.env.FLEUVE_DECODER_GQA}: not <warps>x<keys> (e.g. 32x8); the gqa attention's default layout\n`)
let decoderLayout: DecoderLayout = {
  ...(ATTENDS.includes(envAttend as DecodeAttend) ? { attend: envAttend as DecodeAttend } : {}),
  ...(GEMVS.includes(envGemv as DecodeGemv) ? { gemv: envGemv as DecodeGemv } : {}),
  ...(envGqa ? { gqa: envGqa } : {}),
  ...(envPrefetch === "1" || envPrefetch === "0" ? { tcPrefetch: envPrefetch === "1" } : {}),
  ...(envSplitParts !== undefined ? { tcSplit: envSplitParts } : {})
}
export const setDecoderLayout = (layout: DecoderLayout): void => {
  decoderLayout = layout
}
const layoutKey = (kernels: DecoderKernels) => (kernels === "fused" ? JSON.stringify(decoderLayout) : "")

/**
 * Whether the fused GEMVs can run on the tensor cores here, and how far their loads run ahead: 16 × 16
 * f16 subgroup matrices with f32 results, 32-lane subgroups, every N a multiple of 16 and every K
 * (hidden, H·D, intermediate) a multiple of tcGemvKStep(unroll) for an unroll of 4, 2 or 1.
 */
const tensorCoreGemvUnroll = (gpu: Gpu, shape: EngineShape): number | undefined => {
  const { hidden: Hd, heads: H, kvHeads: KV, headDim: D, intermediate: I, vocab } = shape
  if (pickMatrixConfig(gpu)?.M !== 16 || !subgroupsOf32(gpu) || ![(H + 2 * KV) * D, Hd, I, vocab].every((n) => n % TC_COLUMNS === 0)) return undefined
  return [tcGemvUnroll("f16"), 2, 1].find((u) => [Hd, H * D, I].every((k) => k % tcGemvKStep(u) === 0))
}

/**
 * The parts the o and down GEMVs split K into (DecoderLayout.tcSplit): those asked where the GEMVs
 * run on the tensor cores (`options`: the decoder's kernel options, whose accumulating kind's layout
 * sets the K step), the lm_head is the GEMV (`gemvHead`: the tensor-core matmul's head would read the residual without the
 * last down GEMV's pending part) and both widths (heads · head_dim, intermediate) are multiples of
 * the accumulating kind's K step in that many parts; else none, said on stderr.
 */
const splitParts = (asked: number, options: DecodeLayerOptions, gemvHead: boolean, shape: EngineShape): number => {
  const layout = tcKindShape(options, "accumulate")
  const step = tcGemvKStep(layout.unroll, layout.warps, asked)
  const widths = [shape.heads * shape.headDim, shape.intermediate]
  const why = options.gemv !== "tensor-cores"
    ? "the GEMVs are not on the tensor cores"
    : !gemvHead
    ? "the lm_head runs on the tensor cores' matmul, which reads the residual without the pending partials"
    : widths.every((k) => k % step === 0) ? undefined : `widths ${widths.join(" and ")} are not multiples of ${step}`
  if (why) process.stderr.write(`generation: K split over ${asked} workgroups asked for, but ${why}; not split\n`)
  return why ? 1 : asked
}

/** The kernels a decoder of `rows` rows over weights in `format` runs now. */
export const decoderKernelsFor = (rows: number, format: EngineWeights["format"]): DecoderKernels =>
  decoderKernels === "fused" && rows <= DECODE_ROWS && format === "f16" ? "fused" : "unfused"

/** Whether a decoder runs the kernels and layout a new one of its rows would (else the scorer makes a new one). */
export const decoderIsCurrent = (d: Qwen3Decoder, format: EngineWeights["format"]): boolean => {
  const kernels = decoderKernelsFor(d.rows, format)
  return d.kernels === kernels && d.layout === layoutKey(kernels)
}

/**
 * Greedy decoding on fleuve's WGSL kernels: one token a row a step, through the engine's layer
 * (model/wgsl/qwen3-engine.ts forwardParts) with the attention block replaced by a KV cache:
 *
 *   q/k norm + RoPE at the step's position (q → f16; k appended to the layer's K cache) · v
 *   appended to the V cache (f16) · attention of the new token against the cache
 *   (model/wgsl/kernels/decode-attention.ts)
 *
 * Every row is at the same position at every step: a row's prompt tokens are fed one a step and
 * its generated tokens follow on with no padding, so each row computes exactly what it would
 * alone (positions from 0, nothing masked) and the prompt needs no other kernels. Steps whose
 * logits no row needs (inside every prompt) skip the lm_head and are not waited for: the GPU runs
 * them back to back. The caches are [positions, rows, KV, D] f16 per layer, sized once for
 * `positions` steps. Up to GEMV_ROWS rows with f16 weights, the layers' matmuls are the GEMV
 * (model/wgsl/kernels/gemv.ts: each weight read once a step for all rows); beyond, the tensor-core
 * matmul over rows padded to its 128. The lm_head runs on the tensor cores over 128 padded rows
 * (only the real rows are read back; the padded rows' attention is never computed). The fused
 * layers (DecoderKernels) replace all of this up to DECODE_ROWS rows: a step is then
 * 5 · layers + 6 dispatches instead of 15 · layers + 7.
 */
export class Qwen3Decoder {
  private constructor(
    readonly shape: EngineShape,
    readonly rows: number,
    readonly positions: number,
    private readonly device: GPUDevice,
    private readonly parts: Awaited<ReturnType<typeof forwardParts>>,
    private readonly padded: number,
    /** the uniforms that carry the step's position */
    private readonly stepParams: { readonly qkQ: GPUBuffer; readonly qkK: GPUBuffer; readonly castV: GPUBuffer; readonly att: GPUBuffer; readonly attend: GPUBuffer },
    private readonly body: ReadonlyArray<Dispatch>,
    /** a step's dispatches with what each does (for profiles): the embedding, the layers, the head */
    private readonly labeled: ReadonlyArray<readonly [string, Dispatch]>,
    /** the final norm, the lm_head and the picks: (log-prob of the target, argmax) a row into parts.b.out */
    private readonly head: ReadonlyArray<Dispatch>,
    /** the kernels the layers run (the fused ones only where asked and possible) */
    readonly kernels: DecoderKernels,
    /** the fused kernels' layout (DecoderLayout) as JSON, "" unfused */
    readonly layout: string,
    private readonly feed: TokenFeedKernels,
    /** each layer's K and V caches, [positions, rows, KV, D] f16 */
    private readonly caches: ReadonlyArray<{ readonly K: GPUBuffer; readonly V: GPUBuffer }>,
    private readonly kvPrefill: KvPrefillKernels
  ) {}

  /** where the fused GEMVs run (defaultGemv where the layout does not say): the tensor cores only where possible (tensorCoreGemvUnroll), blocked only at 8 or 16 rows */
  gemv: DecodeGemv = "cuda-cores"

  /** the fused layers' attention (DecodeLayerKernels.attendVariant) and, for gqa, its layout where one was named or chosen: "gqa 32x8"; "" unfused */
  attention = ""

  /** the parts the o and down GEMVs split K into (DecoderLayout.tcSplit where it fits; 1: none) */
  kSplit = 1

  /**
   * The head of a device-fed step that also feeds the next one (DecoderLayout.foldFeed: lm_head,
   * then pickFeed's two dispatches), for all the decoder's rows; the body's first
   * `embedDispatches` dispatches (the embedding) are then skipped on the step after.
   */
  readonly feedingHead?: (b: { readonly generated: Binding; readonly feed: Binding; readonly params: GPUBuffer }) => ReadonlyArray<Dispatch>
  readonly embedDispatches: number = 0

  /** Milliseconds the host spent encoding and submitting device-fed steps (decodeOnDevice), since the decoder was made: against the steps' wall time, whether the host or the GPU bounds a step. */
  hostMs = 0

  /** Bytes of every buffer the decoder made (KV caches, activations, uniforms). */
  get allocatedBytes(): number {
    return this.parts.made.reduce((a, b) => a + b.size, 0)
  }

  static async create(gpu: Gpu, shape: EngineShape, weights: EngineWeights, rows: number, positions: number): Promise<Qwen3Decoder> {
    const kernels = decoderKernelsFor(rows, weights.format)
    if (kernels === "unfused") return Qwen3Decoder.build(gpu, shape, weights, rows, positions, kernels)
    try {
      return await Qwen3Decoder.build(gpu, shape, weights, rows, positions, kernels)
    } catch (e) {
      if (e instanceof EngineShapeError) throw e
      // The fused kernels are newer than the unfused path and their f16 variants are checked only on
      // a GPU: where one fails to build on this device, decode on the unfused kernels (for the rest of
      // the process) rather than fail the generation.
      decoderKernels = "unfused"
      process.stderr.write(`generation: the fused decoding kernels failed on this device (${e instanceof Error ? e.message.split("\n")[0] : String(e)}); decoding on the unfused kernels\n`)
      return Qwen3Decoder.build(gpu, shape, weights, rows, positions, "unfused")
    }
  }

  private static async build(gpu: Gpu, shape: EngineShape, weights: EngineWeights, rows: number, positions: number, kernels: DecoderKernels): Promise<Qwen3Decoder> {
    checkEngineShape(shape)
    if (rows < 1 || positions < 1) throw new EngineShapeError(`a decoder needs at least one row and one position, not ${rows} × ${positions}`)
    const { heads: H, kvHeads: KV, headDim: D } = shape
    const padded = Math.ceil(rows / 128) * 128
    const cacheBytes = positions * rows * KV * D * 2
    if (cacheBytes > gpu.maxStorageBufferBindingSize) throw new EngineShapeError(`a KV cache of ${positions} positions × ${rows} rows (${cacheBytes} bytes a layer) exceeds one binding (${gpu.maxStorageBufferBindingSize}): fewer rows a batch`)
    // up to GEMV_ROWS rows (f16 weights) the layers' matmuls read each weight once for all rows (model/wgsl/kernels/gemv.ts)
    const gemv = rows <= GEMV_ROWS && weights.format === "f16"
    const [f, attention, feed, kvPrefill] = await Promise.all([forwardParts(gpu, shape, weights, padded, gemv ? { gemvRows: rows } : {}), decodeAttention(gpu, D), tokenFeedKernels(gpu), kvPrefillKernels(gpu)])
    const { b, buf, u, kernels: { fused, el, tok } } = f
    const stepParams = {
      qkQ: u([rows, 1, H, 0], [shape.eps, shape.theta]),
      qkK: u([rows, 1, KV, 0], [shape.eps, shape.theta]),
      castV: u([rows * KV * D, 0]),
      att: u([rows, 1, H, KV], [1 / Math.sqrt(D)]),
      attend: u(...decodeAttendParams(rows, 0, H, KV, 1 / Math.sqrt(D), shape.eps, shape.theta))
    }
    const caches = weights.layers.map(() => ({ K: buf(cacheBytes), V: buf(cacheBytes) }))
    if (kernels === "fused") {
      const { hidden: Hd, intermediate: I, vocab } = shape
      const W = (H + 2 * KV) * D
      const tunedRows = decodeKernelRows(rows) // the layouts are timed at this many rows (decode-tune.ts), in these buffers
      const qkv = buf(tunedRows * W * 4)
      // the lm_head as one GEMV over the real rows where it fits one binding (else the tensor cores' head, in shards)
      const gemvHead = decoderLayout.head !== "tensor-core" && vocab * Hd * 2 <= gpu.maxStorageBufferBindingSize
      const logits = buf(gemvHead ? tunedRows * vocab * 4 : 16)
      // each GEMV's layout timed on this device for these rows (decode-tune.ts; FLEUVE_DECODER_TUNE=0: the defaults)
      // the GEMVs on the tensor cores where asked or defaulted and the card and widths allow (decode-gemv-tc.ts), else on the CUDA cores
      const tcFit = tensorCoreGemvUnroll(gpu, shape)
      const gemv = decoderLayout.gemv ?? defaultGemv(rows, tcFit !== undefined)
      const tcUnroll = gemv === "tensor-cores" ? tcFit : undefined
      const tc = tcUnroll !== undefined
      if (decoderLayout.gemv === "tensor-cores" && !tc) process.stderr.write("generation: tensor-core decoding GEMVs asked for, but this card or these widths don't allow them (decode-gemv-tc.ts); on the CUDA cores\n")
      // the blocked GEMVs (decode-gemv-blocked.ts) where asked and the kernels are written for 8 or 16 rows; fewer rows keep decodeGemvWgsl
      const blocked = gemv === "blocked" && BLOCKED_ROWS.includes(tunedRows)
      const noTuning = process.env.FLEUVE_DECODER_TUNE === "0"
      // the layout's options but the attention's (chosen below) and the folds (the decoder's own)
      const { foldCombine: _fold, foldFeed: _foldFeed, attend: _attend, gqa: _gqa, tcSplit: asked, ...layerLayout } = decoderLayout
      const gemvOptions: DecodeLayerOptions = { ...layerLayout, gemv: tc ? "tensor-cores" : blocked ? "blocked" : "cuda-cores", ...(tc ? { tcUnroll } : {}) }
      // beyond 4 rows, where the layout names no attention, the fastest form that reproduces the
      // default's on this device (decode-attend-choice.ts); up to 4 rows the split attention (timed)
      const chosen = decoderLayout.attend === undefined && !noTuning && tunedRows > 4
        ? await chooseDecodeAttention(gpu, shape, { rows, positions, storage: "f16", layers: weights.layers.map((w, l) => ({ ...caches[l]!, qNorm: w.qNorm, kNorm: w.kNorm })), options: gemvOptions })
        : undefined
      const attend = chosen?.attend ?? decoderLayout.attend ?? defaultAttend(rows)
      const gqa = chosen ? chosen.gqa : decoderLayout.gqa
      // the split attention's partial softmaxes (one buffer for every layer: the layers run in order)
      const part = attend === "split" || attend === "gqa-split" ? buf(attendPartialBytes(rows, H, D, positions)) : undefined
      const fold = decoderLayout.foldCombine ?? process.env.FLEUVE_DECODER_FOLD === "1"
      const tuneFold = fold && part ? { fold: { part, positions } } : {}
      const tuneBuffers = { x: b.x, qkv, atth: b.atth, acth: b.acth, logits, ...tuneFold }
      // blocked: its layouts timed beside the CUDA-core ones, each kind the fastest of either (the o GEMV
      // folding the chunks, not blocked, keeps the default layout)
      const tuned = tc || blocked || noTuning ? {} : await tuneDecodeShapes(gpu, shape, weights, rows, tuneBuffers, gemvHead)
      const tunedBlocked = blocked && !noTuning ? await tuneBlockedShapes(gpu, shape, weights, rows, tuneBuffers, gemvHead) : {}
      // the tensor cores: each kind's depth, prefetch and warps timed among those the widths allow, unless
      // the layout says (none allowed, e.g. K a multiple of 128 only: tcUnroll's kernels untuned)
      const tcCandidates = tcShapesFitting(shape)
      const tunedTc = tc && !noTuning && decoderLayout.tcPrefetch === undefined && tcCandidates.length > 0 ? await tuneTensorCoreShapes(gpu, shape, weights, rows, tuneBuffers, gemvHead, "f16", tcCandidates) : {}
      const shapes = { ...tuned, ...tunedBlocked, ...tunedTc, ...decoderLayout.shapes }
      const split = asked !== undefined && asked > 1 ? splitParts(asked, { ...gemvOptions, shapes }, gemvHead, shape) : 1
      const dl = await decodeLayerKernels(gpu, D, {
        rows, ...gemvOptions, attend, ...(gqa ? { gqa } : {}), queryGroup: H / KV, ...(fold ? { foldCombine: { heads: H } } : {}), shapes, ...(split > 1 ? { tcSplit: split } : {})
      })
      // K split (tcSplit): the partials the o and the down GEMVs leave pending, each read by the kinds
      // after it (f32 [split − 1, rows, hidden]); the step's first o has nothing pending yet
      const pending = split > 1 ? { o: buf((split - 1) * tunedRows * Hd * 4), down: buf((split - 1) * tunedRows * Hd * 4) } : undefined
      const pick = await pickSplit(gpu)
      const p = {
        qkv: u(...decodeGemvParams(rows, W, Hd, H * D, (H + KV) * D, shape.eps)), o: u(...decodeGemvParams(rows, Hd, H * D)),
        gateUp: u(...decodeGemvParams(rows, I, Hd, 0, 0, shape.eps)), down: u(...decodeGemvParams(rows, Hd, I))
      }
      // the embedding of the real rows only (the scoring engine's embeds all 128 padded ones)
      const embed = tableShards(vocab, Hd, gpu.maxStorageBufferBindingSize).map((sh) =>
        tok.embed({ ids: b.ids, E: { buffer: weights.embed, offset: sh.row0 * Hd * 2, size: sh.rows * Hd * 2 }, X: b.x, params: u([rows, Hd, vocab, sh.row0, sh.rows]) }, rows))
      const labeled: Array<readonly [string, Dispatch]> = [...embed.map((d) => ["embed", d] as const), ...weights.layers.flatMap((w, l) => {
        const { K, V } = caches[l]!
        return [
          ["qkv (input norm folded in)", dl.qkv({ A: b.x, B0: w.q.B, B1: w.k.B, B2: w.v.B, C: qkv, G: w.inputNorm, params: p.qkv, ...(pending && l > 0 ? { Pend: pending.down } : {}) }, W)],
          ...dl.attend({ QKV: qkv, QN: w.qNorm, KN: w.kNorm, K, V, O: b.atth, ...(part ? { Part: part } : {}), params: stepParams.attend }, rows, H, positions)
            .map((d, i) => [i === 0 ? "attend (q/k norm, RoPE, cache append)" : "attend: combine the chunks", d] as const),
          dl.folds && part
            ? ["o (+residual; the attention's chunks combined first)", dl.oCombined({ Part: part, B: w.o.B, C: b.x, params: p.o, step: stepParams.attend }, Hd)] as const
            : ["o (+residual)", dl.accumulate({ A: b.atth, B: w.o.B, C: b.x, params: p.o, ...(pending ? { Part: pending.o, ...(l > 0 ? { Pend: pending.down } : {}) } : {}) }, Hd)] as const,
          ["gate/up + SiLU·up (post norm folded in)", dl.gateUp({ A: b.x, B0: w.gate.B, B1: w.up.B, Y: b.acth, G: w.postNorm, params: p.gateUp, ...(pending ? { Pend: pending.o } : {}) }, I)],
          ["down (+residual)", dl.accumulate({ A: b.acth, B: w.down.B, C: b.x, params: p.down, ...(pending ? { Pend: pending.o, Part: pending.down } : {}) }, Hd)]
        ] as const
      })]
      let head: ReadonlyArray<readonly [string, Dispatch]> = f.head.map((d) => ["head (tensor cores)", d] as const)
      let feedingHead: Qwen3Decoder["feedingHead"]
      if (gemvHead) {
        const states = buf(rows * pickChunks(vocab) * 16)
        const picks = pick({ logits, states, targets: b.targets, out: b.out, params: u(pickSplitParams(rows, vocab)) }, rows, vocab)
        const lmHead = dl.head({ A: b.x, B: weights.lmHead, C: logits, G: weights.finalNorm, params: u(...decodeGemvParams(rows, vocab, Hd, 0, 0, shape.eps)), ...(pending ? { Pend: pending.down } : {}) }, vocab)
        head = [["lm_head (final norm folded in)", lmHead], ...picks.map((d) => ["pick", d] as const)]
        // the pick that feeds the next step, where the embedding is one binding (embed is then one dispatch)
        if ((decoderLayout.foldFeed ?? process.env.FLEUVE_DECODER_FOLD_FEED === "1") && embed.length === 1) {
          const feedPick = await pickFeed(gpu, "f16")
          feedingHead = (fb) => [lmHead, ...feedPick({ logits, states, targets: b.targets, out: b.out, generated: fb.generated, feed: fb.feed, E: { buffer: weights.embed, offset: 0, size: vocab * Hd * 2 }, X: b.x, params: fb.params }, rows, vocab)]
        }
      }
      const decoder = new Qwen3Decoder(shape, rows, positions, gpu.device, f, padded, stepParams, labeled.map(([, d]) => d), [...labeled, ...head], head.map(([, d]) => d), kernels, layoutKey(kernels), feed, caches, kvPrefill)
      if (tc) decoder.gemv = "tensor-cores"
      if (blocked) decoder.gemv = "blocked"
      decoder.kSplit = split
      decoder.attention = attendLabel({ attend: dl.attendVariant, ...(dl.attendVariant.startsWith("gqa") && gqa ? { gqa } : {}) })
      if (feedingHead) Object.assign(decoder, { feedingHead, embedDispatches: embed.length })
      return decoder
    }
    const layers = weights.layers.map((w, l) => {
      const { K, V } = caches[l]!
      return f.layer(w, [
        ["qk-norm+rope q", fused.qkNormRopeF16({ X: b.q, W: w.qNorm, Y: b.qh, params: stepParams.qkQ }, rows, H)],
        ["qk-norm+rope k → cache", fused.qkNormRopeAppendF16({ X: b.k, W: w.kNorm, Y: K, params: stepParams.qkK }, rows, KV)],
        ["v → cache", el.castF16At({ X: b.v, Y: V, params: stepParams.castV }, rows * KV * D)],
        ["decode attention", attention({ Q: b.qh, K, V, O: b.atth, params: stepParams.att }, rows, H)]
      ])
    })
    const labeled = [...f.embed.map((d) => ["embed", d] as const), ...layers.flat()]
    return new Qwen3Decoder(shape, rows, positions, gpu.device, f, padded, stepParams, labeled.map(([, d]) => d), [...labeled, ...f.head.map((d) => ["head (tensor cores)", d] as const)], f.head, kernels, layoutKey(kernels), feed, caches, kvPrefill)
  }

  /**
   * Fills positions 0 … length − 1 of the caches for prompts[r] (each at least `length` tokens)
   * with one forward of the scoring engine over whole sequences (tiled tensor-core matmuls and
   * attention) instead of `length` decoding steps, which read every weight once a step for a
   * handful of tokens: the prompt part of generation was ~95 % of its time in the EnMed grid.
   * The engine (batch × seq, seq ≥ length) takes the prompts `engine.batch` rows at a time; its
   * keys and values are copied into the caches after each layer (kernels/kv-prefill.ts).
   * Submitted in order before the steps that follow: nothing is read back here. decodeOnDevice
   * then starts at step `length`. The caches then hold what the engine computed (f16 K after
   * q/k norm + RoPE, as the steps append them), not bit for bit what the steps would have: the
   * same values up to the matmuls' summation order.
   */
  async prefill(engine: Qwen3Engine, prompts: ReadonlyArray<ReadonlyArray<number>>, length: number): Promise<void> {
    if (prompts.length > this.rows) throw new EngineShapeError(`prefill: ${prompts.length} prompts for a decoder of ${this.rows} rows`)
    if (length < 1 || length > engine.seq || length > this.positions) throw new EngineShapeError(`prefill: ${length} positions for an engine of seq ${engine.seq} and caches of ${this.positions}`)
    if (prompts.some((p) => p.length < length)) throw new EngineShapeError(`prefill: a prompt shorter than the ${length} positions to fill`)
    const w = (this.shape.kvHeads * this.shape.headDim) / 2
    const made: Array<GPUBuffer> = []
    try {
      for (let row0 = 0; row0 < prompts.length; row0 += engine.batch) {
        const rows = Math.min(engine.batch, prompts.length - row0)
        const ids = new Uint32Array(engine.batch * engine.seq)
        for (let r = 0; r < rows; r++) ids.set(prompts[row0 + r]!.slice(0, length), r * engine.seq)
        const params = uniformBuffer(this.device, [length * rows * w, rows, engine.seq, this.rows, row0, w, 0, 0])
        made.push(params)
        engine.submitLayers(ids, (l) => [this.kvPrefill.copy({ K: engine.kv.K, V: engine.kv.V, KC: this.caches[l]!.K, VC: this.caches[l]!.V, params }, engine.kv.type, length * rows * w)])
      }
      await this.device.queue.onSubmittedWorkDone()
    } finally {
      for (const b of made) b.destroy()
    }
  }

  /**
   * Feeds `ids[r]` to row r at `position` (0 first; positions in order, each once; the caches keep
   * the earlier ones). Fewer ids than rows leave the last rows on token 0. `read`: nothing to
   * return (a prompt step), or each row's argmax and the log-prob of `targets[r]` (any token when
   * only the argmax is wanted).
   */
  async step(ids: Uint32Array<ArrayBuffer>, position: number, read: false | { readonly targets?: Uint32Array<ArrayBuffer> }): Promise<TokenScores | undefined> {
    if (ids.length > this.rows) throw new EngineShapeError(`step: ${ids.length} ids for a decoder of ${this.rows} rows`)
    if (!Number.isInteger(position) || position < 0 || position >= this.positions) throw new EngineShapeError(`step: position ${position} outside the cache's 0 … ${this.positions - 1}`)
    const q = this.device.queue
    const padded = new Uint32Array(this.padded)
    padded.set(ids)
    q.writeBuffer(this.parts.b.ids, 0, padded)
    this.writeStepParams(position)
    if (!read) {
      q.submit([encodeDispatches(this.device, this.body)])
      return undefined
    }
    const targets = new Uint32Array(this.padded)
    if (read.targets) targets.set(read.targets)
    q.writeBuffer(this.parts.b.targets, 0, targets)
    q.submit([encodeDispatches(this.device, [...this.body, ...this.head])])
    return readTokenScores(this.device, this.parts.b.out, ids.length)
  }

  /** Writes the uniforms that carry the step's position (queued in order with the submissions). */
  private writeStepParams(position: number): void {
    const { kvHeads: KV, headDim: D, heads: H, theta, eps } = this.shape
    const q = this.device.queue
    if (this.kernels === "fused") {
      q.writeBuffer(this.stepParams.attend, 0, uniformData(...decodeAttendParams(this.rows, position, H, KV, 1 / Math.sqrt(D), eps, theta)))
      return
    }
    q.writeBuffer(this.stepParams.qkQ, 0, uniformData([this.rows, 1, H, position], [eps, theta]))
    q.writeBuffer(this.stepParams.qkK, 0, uniformData([this.rows, 1, KV, position], [eps, theta]))
    q.writeBuffer(this.stepParams.castV, 0, uniformData([this.rows * KV * D, position * this.rows * KV * D]))
    q.writeBuffer(this.stepParams.att, 0, uniformData([this.rows, position + 1, H, KV], [1 / Math.sqrt(D)]))
  }

  /**
   * A step's dispatches with what each does (embedding, layers, head; not the feed and the
   * recording), for a timestamp profile (model/wgsl/kernels/profile.ts) after `position` was written by a step.
   */
  stepDispatches(): ReadonlyArray<readonly [string, Dispatch]> {
    return this.labeled
  }

  /**
   * Dispatches a device-fed step that picks records: the feed, the body (the embedding included)
   * and the head, then the recording of the argmax; with the feeding head (DecoderLayout.foldFeed,
   * every row a prompt) the layers and the head only.
   */
  get dispatchesPerStep(): number {
    return this.feedingHead ? this.body.length - this.embedDispatches + this.head.length : 1 + this.body.length + this.head.length + 1
  }

  /**
   * Greedy decoding fed on the device (model/wgsl/kernels/token-feed.ts): at step s row r takes its
   * prompt's token s, or past its prompt the argmax step s − 1 recorded, so no step waits for the
   * host. Steps 0 … steps − 1 run from position 0 (the caches are overwritten); every `readEvery`
   * steps that pick tokens, and after the last, the token table is read (the read awaited one read
   * point later: the steps in between are queued while it comes back), and `take(first, argmax,
   * count)` gets the argmaxes of steps first … first + count − 1 ([count, prompts] row-major) and
   * returns true to stop (every row done; noticed up to 2 · readEvery steps late, their extra
   * tokens dropped by the caller). Steps before the shortest prompt's last token skip the lm_head.
   */
  async decodeOnDevice(
    prompts: ReadonlyArray<ReadonlyArray<number>>,
    steps: number,
    readEvery: number,
    take: (first: number, argmax: Uint32Array, count: number) => boolean | Promise<boolean>,
    /** the first step to run: the caches already hold positions 0 … from − 1 (prefill) */
    from = 0
  ): Promise<void> {
    const rows = prompts.length
    if (rows < 1 || rows > this.rows) throw new EngineShapeError(`decodeOnDevice: ${rows} prompts for a decoder of ${this.rows} rows`)
    if (steps > this.positions) throw new EngineShapeError(`decodeOnDevice: ${steps} steps, the caches hold ${this.positions} positions`)
    if (prompts.some((p) => p.length < 1)) throw new EngineShapeError("decodeOnDevice: every prompt needs a token")
    const width = Math.max(...prompts.map((p) => p.length))
    const table = new Uint32Array(rows * width)
    prompts.forEach((p, r) => table.set(p, r * width))
    const dev = this.device
    const made = [
      storageBuffer(dev, table), storageBuffer(dev, Uint32Array.from(prompts, (p) => p.length)), storageBuffer(dev, steps * rows * 4),
      uniformBuffer(dev, [rows, width, 0, 0]), uniformBuffer(dev, [rows, 0, 0, 0])
    ]
    const [promptBuf, lens, generated, feedParams, recordParams] = made
    const feed = this.feed.feedIds({ prompts: promptBuf, lens, generated, ids: this.parts.b.ids, params: feedParams }, rows)
    const record = this.feed.recordArgmax({ picks: this.parts.b.out, generated, params: recordParams }, rows)
    const firstPick = Math.min(...prompts.map((p) => p.length)) - 1
    if (from < 0 || from > firstPick) throw new EngineShapeError(`decodeOnDevice: starts at step ${from}, past the first step that picks a token (${firstPick})`)
    const withHead = [feed, ...this.body, ...this.head, record]
    const withoutHead = [feed, ...this.body]
    // DecoderLayout.foldFeed (every row a prompt): a step that picks feeds and embeds the next
    // step's token itself, so the step after runs only the layers and the head
    let feeding: { readonly head: ReadonlyArray<Dispatch>; readonly layers: ReadonlyArray<Dispatch>; readonly params: GPUBuffer } | undefined
    if (this.feedingHead && rows === this.rows) {
      const lensAndPrompts = new Uint32Array(rows + rows * width)
      prompts.forEach((p, r) => (lensAndPrompts[r] = p.length))
      lensAndPrompts.set(table, rows)
      const feedBuf = storageBuffer(dev, lensAndPrompts)
      const params = uniformBuffer(dev, pickFeedParams(rows, this.shape.vocab, 0, width, this.shape.hidden))
      made.push(feedBuf, params)
      feeding = { head: this.feedingHead({ generated, feed: feedBuf, params }), layers: this.body.slice(this.embedDispatches), params }
    }
    let fed = false // the previous step wrote this step's embedding (feeding)
    let readFrom = firstPick
    // the read of the token table started at the last read point, awaited only at the next one:
    // the steps in between are queued meanwhile, so the GPU never drains waiting for the host
    let pending: Promise<{ readonly all: Uint32Array; readonly upto: number }> | undefined
    const takePending = async (): Promise<boolean> => {
      const got = await pending!
      pending = undefined
      const stop = await take(readFrom, got.all.subarray(readFrom * rows), got.upto - readFrom)
      readFrom = got.upto
      return stop
    }
    try {
      for (let s = from; s < steps; s++) {
        this.writeStepParams(s)
        dev.queue.writeBuffer(feedParams, 8, Uint32Array.of(s))
        const picks = s >= firstPick
        if (picks) dev.queue.writeBuffer(feeding ? feeding.params : recordParams, feeding ? 12 : 4, Uint32Array.of(s))
        const h0 = performance.now()
        const dispatches = !picks ? withoutHead : feeding ? [...(fed ? feeding.layers : withoutHead), ...feeding.head] : withHead
        fed = picks && feeding !== undefined
        dev.queue.submit([encodeDispatches(dev, dispatches)])
        this.hostMs += performance.now() - h0
        if (!picks || ((s - firstPick + 1) % readEvery !== 0 && s !== steps - 1)) continue
        // readBuffer submits its copy before its first await: it lands right after step s
        const upto = s + 1
        const next = readBuffer(dev, generated, upto * rows * 4).then((raw) => ({ all: new Uint32Array(raw), upto }))
        next.catch(() => undefined) // handled when awaited below: no unhandled rejection meanwhile
        const stop = pending ? await takePending() : false
        pending = next
        if (stop) break
      }
      if (pending) await takePending()
    } finally {
      // a read still in flight (a stop, an error) and the steps queued after it finish before their buffers go
      await pending?.catch(() => undefined)
      await dev.queue.onSubmittedWorkDone()
      for (const b of made) b.destroy()
    }
  }

  dispose(): void {
    for (const buffer of this.parts.made) buffer.destroy()
  }
}
