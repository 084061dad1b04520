/**
 * How greedy generation (model/runtime/generate.ts) is batched to fit memory: the bytes one row needs, how
 * many rows a batch takes, and running batches that halve when they run out of memory anyway.
 * Pure: no tensors here, so it is tested without a model or a GPU.
 */

import { isOutOfMemory } from "../wgsl/kernels/buffers.ts"
import type { Qwen3Config } from "../qwen3/config.ts"

export type GenerationShape = Pick<Qwen3Config, "numLayers" | "numHeads" | "numKvHeads" | "headDim" | "hiddenSize" | "intermediateSize" | "vocabSize">

const F32 = 4

/** Bytes of the KV cache for one row of `tokens` positions: k and v, every layer, f32. */
export const kvCacheBytes = (c: GenerationShape, tokens: number): number => c.numLayers * 2 * c.numKvHeads * c.headDim * tokens * F32

/**
 * Bytes of the intermediates one row's forward over `tokens` new tokens with `keys` keys creates,
 * all of them alive until the forward returns (Qwen3Model.forward runs in one tf.tidy). Counted
 * from its ops, per layer and token, in f32 values: 10 × hidden (two RMSNorms of 3 tensors each,
 * the o and down projections and the two residual adds), 12.5 × (heads + kvHeads) × headDim (the
 * q/k/v projections, q/k norms, transposes, RoPE's 5.5, the attention output), 5 × intermediate
 * (gate, up, SwiGLU's three) and 5 × heads × keys (scores, scaled, masked, softmax, with room).
 */
export const forwardActivationBytes = (c: GenerationShape, tokens: number, keys: number): number =>
  F32 * c.numLayers * tokens * (10 * c.hiddenSize + 12.5 * (c.numHeads + c.numKvHeads) * c.headDim + 5 * c.intermediateSize + 5 * c.numHeads * keys)

/**
 * Bytes one row needs to generate `maxNewTokens` after a prompt padded to `promptWidth`: the larger
 * of its two peaks (the prompt pass's intermediates are gone before the cache doubles).
 *
 * - prompt pass: kv(P) + 4·vocab·P (logits at every position) + 4·P² (the mask) + act(P, P)
 * - last step:   2·kv(P + T) + 4·vocab + act(1, P + T); twice the cache, because tf.concat
 *   holds the old cache and the new one at once
 *
 * with kv(n) = layers × 2 × kvHeads × headDim × n × 4 (kvCacheBytes) and act as in
 * forwardActivationBytes.
 */
export const generationBytesPerRow = (c: GenerationShape, promptWidth: number, maxNewTokens: number): number => {
  const p = promptWidth
  const total = p + maxNewTokens
  const prompt = kvCacheBytes(c, p) + F32 * c.vocabSize * p + F32 * p * p + forwardActivationBytes(c, p, p)
  const step = 2 * kvCacheBytes(c, total) + F32 * c.vocabSize + forwardActivationBytes(c, 1, total)
  return Math.max(prompt, step)
}

/**
 * Rows a batch takes: as many as `availableBytes` hold, at least 1 (a row that does not fit still
 * runs, and fails clearly if it really runs out), at most `rows`.
 */
export const rowsPerBatch = (perRowBytes: number, availableBytes: number, rows: number): number =>
  Math.max(1, Math.min(rows, perRowBytes > 0 ? Math.floor(availableBytes / perRowBytes) : rows))

/** Splits items in two halves (the first half the larger), keeping their order. */
export const halves = <A>(items: ReadonlyArray<A>): [Array<A>, Array<A>] => {
  const mid = Math.ceil(items.length / 2)
  return [items.slice(0, mid), items.slice(mid)]
}

export interface InBatchesOptions<A, R> {
  /** runs one batch: a result per item, in order; `first` is the batch's first item's index */
  readonly run: (batch: ReadonlyArray<A>, first: number) => Promise<ReadonlyArray<R>>
  /** the error for a single item that still runs out of memory */
  readonly tooLarge: (item: A, index: number, cause: unknown) => Error
  /** told when a batch of `rows` ran out of memory and is halved */
  readonly onHalve?: (rows: number, cause: unknown) => void
  /** told of each batch's results as it completes, in order */
  readonly onBatch?: (first: number, results: ReadonlyArray<R>) => void
}

/**
 * Runs consecutive batches of `size` items; a batch that runs out of memory (isOutOfMemory) is
 * halved and each half retried, down to single items, and later batches are no larger than the
 * halves (a size that ran out once would likely run out again). Results come back in the items'
 * order, whatever the splits.
 */
export const inBatches = async <A, R>(items: ReadonlyArray<A>, size: number, options: InBatchesOptions<A, R>): Promise<Array<R>> => {
  const out: Array<R> = []
  let limit = Math.max(1, size)
  // consecutive batches of at most `limit` items, read anew for each batch: it shrinks on the way
  const span = async (batch: ReadonlyArray<A>, first: number): Promise<void> => {
    for (let i = 0; i < batch.length;) {
      const n = Math.min(limit, batch.length - i)
      await one(batch.slice(i, i + n), first + i)
      i += n
    }
  }
  const one = async (batch: ReadonlyArray<A>, first: number): Promise<void> => {
    let results: ReadonlyArray<R>
    try {
      results = await options.run(batch, first)
    } catch (e) {
      if (!isOutOfMemory(e)) throw e
      if (batch.length === 1) throw options.tooLarge(batch[0]!, first, e)
      options.onHalve?.(batch.length, e)
      limit = Math.min(limit, halves(batch)[0].length)
      return span(batch, first)
    }
    out.push(...results)
    options.onBatch?.(first, results)
  }
  await span(items, 0)
  return out
}

/**
 * Bytes a row of the WGSL decoder (model/wgsl/qwen3-decoder.ts) needs for `positions` steps: its
 * f16 K and V caches in every layer, and its share of a step's activations (every row pads to 128
 * for the matmuls, so a batch of fewer rows still holds 128 rows of them; the f32 logits of the
 * lm_head dominate).
 */
export const decoderBytesPerRow = (c: GenerationShape, positions: number): number =>
  2 * c.numLayers * c.numKvHeads * c.headDim * 2 * positions +
  F32 * c.vocabSize + F32 * (3 * c.hiddenSize + 2 * c.numHeads * c.headDim + 2 * c.numKvHeads * c.headDim + 3 * c.intermediateSize)
