import * as tf from "@tensorflow/tfjs-core"
import { freemem } from "node:os"
import { webgpuDevice } from "../tfjs/backend.ts"
import { type DecodeTimings, decodeOnEngine, decodePositions, longestPrompt, type PromptRow } from "../wgsl/engine-generate.ts"
import type { EngineScorer } from "../wgsl/engine-scorer.ts"
import { decoderBytesPerRow, generationBytesPerRow, inBatches, rowsPerBatch } from "./generate-plan.ts"
import { scoringPathFor } from "./scoring.ts"
import { type Generation, GreedyRows } from "./greedy-rows.ts"
import { OutOfGpuMemory } from "../wgsl/kernels/buffers.ts"
import type { ModelHandle } from "./model-handle.ts"
import { probeFreeGpuMemory } from "../wgsl/kernels/free-memory.ts"
import type { TextTokenizer } from "../formats/tokenizer/tokenizer.ts"
import { disposeCache, type KvCache, type Qwen3Model } from "../tfjs/qwen3-model.ts"
import { releasePooledBuffers } from "../tfjs/buffer-pool.ts"

export interface GenerateOptions {
  readonly maxNewTokens: number
  /** Generation of a row ends at the first of these strings, which is cut from the text. */
  readonly stop?: ReadonlyArray<string>
  /** End a row at the end-of-text token (default true). */
  readonly stopAtEos?: boolean
  readonly contextWindow?: number
  /** Prompts decoded together at most (default: as many as memory holds). */
  readonly maxBatch?: number
  readonly memory?: GenerationMemory
  /** Told of each batch's generations as it completes, in the prompts' order (`first`: its first prompt's index). */
  readonly onBatch?: (first: number, generations: ReadonlyArray<Generation>) => void
  /** On the WGSL decoder: filled with where its steps' time went (benchmarks). */
  readonly decodeTimings?: DecodeTimings
  /** On the WGSL decoder: who feeds each step its tokens (model/wgsl/engine-generate.ts; default "device"). */
  readonly decoderFeed?: "host" | "device"
  /**
   * Batch the prompts shortest first (results still in the prompts' order), so that a batch's
   * rows are of like lengths: on the WGSL decoder every row steps to the batch's longest prompt,
   * and the prefill covers only its shortest. Ignored with onBatch (whose batches are in order).
   */
  readonly sortByLength?: boolean
  /** On the WGSL decoder: a line per batch saying where its time went (rows, prompt tokens, prefill, steps). FLEUVE_GENERATION_LOG=1 prints them to stderr. */
  readonly log?: (line: string) => void
  /** On the WGSL decoder: fill the prompts' shared positions with one engine forward (default true; false steps through every prompt token). */
  readonly prefill?: boolean
}

/** FLEUVE_GENERATION_LOG=1: GenerateOptions.log to stderr where no log is given (the grid's device runs). */
const envLog = (): ((line: string) => void) | undefined =>
  process.env.FLEUVE_GENERATION_LOG === "1" ? (line) => process.stderr.write(`generation: ${line}\n`) : undefined

/** How generation learns what memory it may use, and tells how it batched. */
export interface GenerationMemory {
  /** Bytes generation may use; measured when absent (see measureMemory). */
  readonly availableBytes?: number
  /** Told when the prompts are split into batches, and when a batch ran out of memory and is halved. */
  readonly onSplit?: (split: GenerationSplit) => void
}

export type GenerationSplit =
  | {
    readonly _tag: "Planned"
    readonly prompts: number
    readonly batches: number
    readonly rowsPerBatch: number
    /** what one batch is planned to need (generationBytesPerRow × rows) */
    readonly batchBytes: number
    readonly availableBytes: number
    /** where availableBytes came from */
    readonly measured: "gpu" | "host" | "given"
    /** what capped the batch: memory, GenerateOptions.maxBatch, or the WGSL decoder's 128 rows */
    readonly limit: "memory" | "maxBatch" | "decoder"
  }
  | { readonly _tag: "Halved"; readonly rows: number; readonly why: string }

/** A single prompt ran out of memory: it cannot be generated in this much memory. */
export class GenerationOutOfMemory extends Error {
  constructor(readonly promptTokens: number, readonly maxNewTokens: number, readonly reason: string) {
    super(`out of memory generating ${maxNewTokens} tokens after a ${promptTokens}-token prompt, alone in its batch: ${reason}`)
  }
}

export type { Generation }

/** Each row's argmax over its last position's logits, and whether all of those logits are finite. */
const argmaxLast = async (logits: tf.Tensor3D): Promise<{ readonly argmax: Int32Array; readonly finite: Uint8Array }> => {
  const [am, ok] = tf.tidy(() => {
    const [b, t, v] = logits.shape
    const last = tf.reshape(tf.slice(logits, [0, t - 1, 0], [b, 1, v]), [b, v])
    // The argmax of NaN or infinite logits is no token (issue 20): checked on the same read.
    return [tf.argMax(last, 1), tf.all(tf.isFinite(last), 1)] as const
  })
  const [argmax, finite] = await Promise.all([am.data() as Promise<Int32Array>, ok.data() as Promise<Uint8Array>])
  am.dispose()
  ok.dispose()
  return { argmax, finite }
}

/** Kept back from measured memory for what generationBytesPerRow leaves out (uniforms, staging, allocator rounding). */
const HEADROOM = 0.9
/** wasm32 addresses at most 4 GiB, whatever the host has. */
const WASM_HEAP = 2 ** 32

/**
 * Bytes generation may use: given, or measured — on webgpu by allocating up to `wantedBytes`
 * (probeFreeGpuMemory, after tfjs' pool has given its idle buffers back), elsewhere the host's
 * free memory (within the container's limit; for wasm also within its 4 GiB heap).
 */
const measureMemory = async (wantedBytes: number, given: number | undefined): Promise<{ bytes: number; measured: "gpu" | "host" | "given" }> => {
  if (given !== undefined) return { bytes: given, measured: "given" }
  const device = webgpuDevice()
  if (device) {
    releasePooledBuffers()
    // rounded up, and a byte more: the probe floors what it is asked, and HEADROOM × floor(x / HEADROOM)
    // falls short of x, which made a batch that fits one row smaller (16 prompts in batches of 15 and 1)
    return { bytes: HEADROOM * (await probeFreeGpuMemory(device, { wantedBytes: Math.ceil(wantedBytes / HEADROOM) + 1 })), measured: "gpu" }
  }
  const limit = process.constrainedMemory?.()
  let bytes = Math.min(freemem(), limit ? limit - process.memoryUsage().rss : Infinity)
  if (tf.getBackend() === "wasm") bytes = Math.min(bytes, WASM_HEAP - tf.memory().numBytes)
  return { bytes: HEADROOM * Math.max(0, bytes), measured: "host" }
}

/** Buffers of at least this many bytes are given back to the device after every step (see releasePooledBuffers). */
const STALE_BUFFER_BYTES = 64 * 1024

const SCOPES: ReadonlyArray<GPUErrorFilter> = ["validation", "internal", "out-of-memory"]

/**
 * Opens error scopes over a batch's GPU work; the returned function closes them and throws what
 * they caught: OutOfGpuMemory for an out-of-memory (also one Dawn reports as an internal error:
 * vkAllocateMemory failing outside createBuffer), with the validation errors that follow from it
 * (work on the buffers that were never made) dropped rather than printed by the hundred; any other
 * error as itself (the batch's results would be garbage).
 */
const openScopes = (device: GPUDevice): (() => Promise<void>) => {
  for (const f of SCOPES) device.pushErrorScope(f)
  return async () => {
    const [oom, internal, validation] = [await device.popErrorScope(), await device.popErrorScope(), await device.popErrorScope()]
    const memory = oom ?? (internal && /OUT_OF_DEVICE_MEMORY|out of memory/i.test(internal.message) ? internal : null)
    if (memory) throw new OutOfGpuMemory(`GPU out of memory: ${memory.message}`)
    const other = internal ?? validation
    if (other) throw new Error(`GPU error during generation: ${other.message}`)
  }
}

/**
 * Runs one batch's GPU work inside error scopes (openScopes), checked after every step's read
 * (`checkpoint`), so a batch that ran out of memory stops at that step rather than after
 * maxNewTokens steps of garbage. A RangeError from Dawn (a buffer mapped at creation that cannot
 * be allocated) counts as out of memory too. Once `work` has unwound (and disposed its tensors),
 * tfjs' pool is emptied after an out-of-memory: it holds the batch's buffers, the failed
 * allocations' error buffers among them. Off webgpu it just runs `work`.
 */
const watchGpuMemory = async <A>(device: GPUDevice | undefined, work: (checkpoint: () => Promise<void>) => Promise<A>): Promise<A> => {
  if (!device) return work(async () => {})
  let close = openScopes(device)
  let open = true
  const check = (): Promise<void> => {
    open = false
    return close()
  }
  try {
    const out = await work(async () => {
      await check()
      releasePooledBuffers(STALE_BUFFER_BYTES)
      close = openScopes(device)
      open = true
    })
    await check()
    return out
  } catch (e) {
    if (open) await check().catch((scoped: unknown) => { e = scoped })
    if (e instanceof RangeError) e = new OutOfGpuMemory(`GPU out of memory: ${e.message}`)
    if (e instanceof OutOfGpuMemory) releasePooledBuffers()
    throw e
  }
}

/** Rows a batch of the WGSL decoder takes at most when GenerateOptions.maxBatch does not say (one 128-row matmul tile). */
const DECODER_ROWS = 128

/**
 * The path generation takes for a model: fleuve's WGSL decoder over the model's engine weights
 * where scoring would run on the engine (model/runtime/scoring.ts scoringPathFor: webgpu with tensor
 * cores, the shape fits, --engine not tfjs), else the tfjs runtime, with the reason.
 */
const generationPath = async (model: Qwen3Model): Promise<{ readonly _tag: "Decoder"; readonly engine: EngineScorer } | { readonly _tag: "Tfjs"; readonly reason: string }> => {
  const path = await scoringPathFor(model)
  return path._tag === "Engine" ? { _tag: "Decoder", engine: path.scorer } : { _tag: "Tfjs", reason: path.reason }
}

/** The line to print (stderr) about which path generates for a model. */
export const describeGenerationPath = async (model: Qwen3Model): Promise<string> => {
  const path = await generationPath(model)
  return path._tag === "Decoder" ? "generation: fleuve WGSL decoder (f16, KV cache)" : `generation: tfjs runtime (${path.reason})`
}

/**
 * Greedy decoding with a KV cache, in batches that fit memory, on fleuve's WGSL decoder where it
 * runs (generationPath), else on the tfjs runtime. The prompts are split into consecutive
 * batches of as many rows as the available memory holds (decoderBytesPerRow,
 * generationBytesPerRow); a batch that runs out of memory all the same is halved and retried,
 * and a single prompt that still does not fit is a GenerationOutOfMemory. Results come in the
 * prompts' order, and do not depend on the batching: each row computes exactly what it would
 * alone (the decoder feeds every row from position 0 with no padding; the tfjs runtime pads
 * prompts on the left, masks the padded keys and counts positions over real tokens only).
 */
export const generateGreedy = async (model: Qwen3Model, tokenizer: TextTokenizer, prompts: ReadonlyArray<string>, options: GenerateOptions): Promise<Array<Generation>> => {
  const window = options.contextWindow ?? model.config.maxPositions
  const budget = Math.max(1, window - options.maxNewTokens)
  const encoded: Array<PromptRow> = prompts.map((p) => {
    const ids = tokenizer.encode(p)
    const truncated = Math.max(0, ids.length - budget)
    return { ids: ids.slice(truncated), truncated }
  })
  // shortest first where asked (a stable sort: equal lengths keep their order); results are put back in order at the end
  const order = encoded.map((_, i) => i)
  if (options.sortByLength && !options.onBatch) order.sort((a, b) => encoded[a]!.ids.length - encoded[b]!.ids.length)
  const rows = order.map((i) => encoded[i]!)
  const log = options.log ?? envLog()
  const path = rows.length > 0 ? await generationPath(model) : { _tag: "Tfjs" as const, reason: "no prompts" }
  const cap = Math.max(1, Math.min(rows.length, options.maxBatch ?? (path._tag === "Decoder" ? DECODER_ROWS : rows.length)))
  let size = cap
  if (cap > 1) {
    // planned for the widest prompt: every batch pads to its own widest, never wider
    const widest = longestPrompt(rows)
    const perRow = path._tag === "Decoder" ? decoderBytesPerRow(model.config, decodePositions(widest, options.maxNewTokens)) : generationBytesPerRow(model.config, widest, options.maxNewTokens)
    const memory = await measureMemory(perRow * cap, options.memory?.availableBytes)
    size = rowsPerBatch(perRow, memory.bytes, cap)
    if (size < rows.length) {
      options.memory?.onSplit?.({
        _tag: "Planned",
        prompts: rows.length,
        batches: Math.ceil(rows.length / size),
        rowsPerBatch: size,
        batchBytes: perRow * size,
        availableBytes: memory.bytes,
        measured: memory.measured,
        limit: size < cap ? "memory" : options.maxBatch !== undefined && cap === options.maxBatch ? "maxBatch" : "decoder"
      })
    }
  }
  const device = webgpuDevice()
  const eos = tokenizer.eosId ?? model.config.eosTokenId
  const onDecoder = (engine: EngineScorer, batch: ReadonlyArray<PromptRow>, checkpoint: () => Promise<void>) =>
    engine.exclusive(async () => {
      const t0 = performance.now()
      const decoder = await engine.decoder(batch.length, decodePositions(longestPrompt(batch), options.maxNewTokens))
      const timings: DecodeTimings = options.decodeTimings ?? { submitted: 0, read: 0, checkpoints: 0, steps: 0, reads: 0 }
      const made = performance.now() - t0
      const { prefill, ...rest } = options
      const out = await decodeOnEngine(decoder, tokenizer, batch, {
        ...rest, eos, checkpoint, decodeTimings: timings,
        ...(prefill === false ? {} : { prefill: (p: ReadonlyArray<ReadonlyArray<number>>, n: number) => engine.prefill(decoder, p, n) })
      })
      if (log) {
        const lengths = batch.map((r) => r.ids.length)
        const total = performance.now() - t0
        const tokens = out.reduce((a, g) => a + g.tokenIds.length, 0)
        log(`${batch.length} rows, prompts ${Math.min(...lengths)}–${Math.max(...lengths)} tokens: decoder ${made.toFixed(0)} ms, prefill ${(timings.prefill ?? 0).toFixed(0)} ms (${timings.prefilled ?? 0} positions), ` +
          `${timings.steps - (timings.prefilled ?? 0)} steps ${(timings.read + timings.submitted).toFixed(0)} ms, checks ${timings.checkpoints.toFixed(0)} ms; ${tokens} tokens in ${total.toFixed(0)} ms (${(tokens / (total / 1000)).toFixed(0)} new tokens/s, ${(batch.length / (total / 1000)).toFixed(1)} prompts/s)`)
      }
      return out
    })
  const decode = (batch: ReadonlyArray<PromptRow>, checkpoint: () => Promise<void>): Promise<Array<Generation>> =>
    path._tag === "Decoder" ? onDecoder(path.engine, batch, checkpoint) : decodeBatch(model, tokenizer, batch, options, checkpoint)
  const generated = await inBatches(rows, size, {
    run: (batch) => watchGpuMemory(device, (checkpoint) => decode(batch, checkpoint)),
    tooLarge: (row, _i, cause) => new GenerationOutOfMemory(row.ids.length, options.maxNewTokens, cause instanceof Error ? cause.message : String(cause)),
    onHalve: (n, cause) => options.memory?.onSplit?.({ _tag: "Halved", rows: n, why: cause instanceof Error ? cause.message : String(cause) }),
    ...(options.onBatch ? { onBatch: options.onBatch } : {})
  })
  const back = new Array<Generation>(generated.length)
  order.forEach((i, k) => (back[i] = generated[k]!))
  return back
}

/**
 * generateGreedy through a model handle (model/runtime/model-handle.ts): should the GPU device be lost,
 * the reloaded model starts again at the first prompt whose batch had not been delivered
 * (onBatch, which keeps the prompts' numbering); delivered batches are never generated twice.
 */
export const generateRecovering = async (handle: ModelHandle, prompts: ReadonlyArray<string>, options: GenerateOptions): Promise<Array<Generation>> => {
  const done: Array<Generation> = []
  await handle.run("generating", (m) => {
    const start = done.length
    return generateGreedy(m.model, m.tokenizer, prompts.slice(start), {
      ...options,
      onBatch: (first, out) => {
        done.push(...out)
        options.onBatch?.(start + first, out)
      }
    })
  })
  return done
}

/** One batch, as generateGreedy describes; `checkpoint` runs after every step's read. What it made is disposed however it ends. */
const decodeBatch = async (model: Qwen3Model, tokenizer: TextTokenizer, rows: ReadonlyArray<PromptRow>, options: GenerateOptions, checkpoint: () => Promise<void>): Promise<Array<Generation>> => {
  const eos = tokenizer.eosId ?? model.config.eosTokenId
  const pad = eos ?? 0
  const width = longestPrompt(rows)
  const ids = rows.map((r) => [...Array<number>(width - r.ids.length).fill(pad), ...r.ids])
  const valid = rows.map((r) => [...Array<number>(width - r.ids.length).fill(0), ...r.ids.map(() => 1)])
  const positions = rows.map((r) => [...Array<number>(width - r.ids.length).fill(0), ...r.ids.map((_, i) => i)])
  const out = new GreedyRows(rows.length, tokenizer, { ...options, eos })

  let { logits, cache } = model.forward(ids, { valid, positions, keepCache: true }) as { logits: tf.Tensor3D; cache: KvCache }
  try {
    for (let step = 0; step < options.maxNewTokens; step++) {
      const { argmax: next, finite } = await argmaxLast(logits)
      logits.dispose()
      await checkpoint()
      rows.forEach((_, r) => (finite[r] ? out.accept(r, next[r]!) : out.failNonFinite(r, step)))
      if (out.allDone) break
      const stepIds = rows.map((_, r) => [next[r]!])
      const stepPositions = rows.map((r, i) => [r.ids.length + out.generated(i).length - 1 + (out.isDone(i) ? 1 : 0)])
      const result = model.forward(stepIds, { cache, positions: stepPositions, keepCache: true })
      disposeCache(cache)
      logits = result.logits
      cache = result.cache!
    }
  } finally {
    logits.dispose()
    disposeCache(cache)
  }
  return out.results(rows.map((r) => r.truncated))
}
