import { pickMatrixConfig, type Gpu } from "./kernels/device.ts"
import type { Qwen3Config } from "../qwen3/config.ts"
import type { Qwen3Model } from "../tfjs/qwen3-model.ts"
import { prepareContinuations, type ScoredContext, scoredContext, ScoringError } from "../runtime/scoring-prep.ts"
import type { TextTokenizer } from "../formats/tokenizer/tokenizer.ts"
import { hostWeights, takeOnce } from "./host-weights.ts"
import { checkEngineShape, type EngineShape, engineShape, EngineShapeError, type EngineWeights, Qwen3Engine, uploadQwen3Weights, weightBuffers } from "./qwen3-engine.ts"
import { isOutOfMemory, OutOfGpuMemory, withOomScope } from "./kernels/buffers.ts"
import { decoderIsCurrent, Qwen3Decoder } from "./qwen3-decoder.ts"
import { layoutBatch, type OptionRow, optionRows, rowScores, type RowScores, scoreInGroups } from "./score-layout.ts"

/**
 * model/runtime/scoring.ts' scoreContinuations on fleuve's WGSL engine (model/wgsl/qwen3-engine.ts): same
 * preparation (model/runtime/scoring-prep.ts), but every option runs as a full row context + continuation
 * through the engine (no KV cache: the context is recomputed per option, which the tensor cores
 * do faster than tfjs runs it once). Weights are uploaded once, as f16, with the LoRA pairs
 * attached to the model merged in (W + scale·B·A). Engines (activations for one batch × seq)
 * are cached, the least recently used freed beyond `maxEngines`.
 */

export interface EngineScorerOptions {
  /** Largest batch × seq (padding included) one engine computes; larger groups of rows are split. */
  readonly maxTokensPerBatch?: number
  /** Engines (one per batch × seq) kept between calls; default 4. */
  readonly maxEngines?: number
  /** Told when a group of rows ran out of GPU memory and is split in halves. */
  readonly onSplit?: (rows: number, tokens: number) => void
}

export type EngineScorerOpen = { readonly _tag: "Ready"; readonly scorer: EngineScorer } | { readonly _tag: "Refused"; readonly reason: string }

/** Tokens one prefill pass computes at most (~4 GiB of activations at Qwen3-0.6B's widths). */
const PREFILL_TOKENS = 65536

/** Prefill engines kept (one per shape bucket). */
const PREFILL_ENGINES = 4

/** The largest batch × seq whose biggest activation (f32 per token) fits one storage binding. */
const bindingTokenLimit = (gpu: Gpu, s: EngineShape): number => {
  const perToken = 4 * Math.max(s.hidden, s.heads * s.headDim, s.kvHeads * s.headDim, s.intermediate)
  return Math.floor(Math.min(gpu.maxStorageBufferBindingSize, gpu.maxBufferSize) / perToken)
}

/** Time of the engine's scoring calls, told as one line every `every` contexts. */
class ScoringStats {
  prep = 0
  private contexts = 0
  private made = 0
  private acquire = 0
  private forward = 0
  private tokens = 0
  private readonly started = performance.now()
  constructor(private readonly log: ((line: string) => void) | undefined, private readonly every = 200) {}
  add(made: boolean, acquireMs: number, forwardMs: number, tokens: number): void {
    this.contexts++
    if (made) this.made++
    this.acquire += acquireMs
    this.forward += forwardMs
    this.tokens += tokens
    if (this.log && this.contexts % this.every === 0) {
      this.log(`${this.contexts} groups in ${((performance.now() - this.started) / 1000).toFixed(1)} s: tokenize ${this.prep.toFixed(0)} ms, engines ${this.acquire.toFixed(0)} ms (${this.made} made), forward + read ${this.forward.toFixed(0)} ms over ${this.tokens} tokens (${(this.tokens / (this.forward / 1000)).toFixed(0)} tokens/s, padding included)`)
    }
  }
}

export class EngineScorer {
  private readonly engines = new Map<string, Qwen3Engine>()
  /** where scoring's time goes; FLEUVE_SCORING_LOG=1 prints it every 200 contexts (the grid's device runs) */
  private readonly stats = new ScoringStats(process.env.FLEUVE_SCORING_LOG === "1" ? (line) => process.stderr.write(`scoring: ${line}\n`) : undefined)
  private kept: Qwen3Decoder | undefined
  private disposed = false

  private constructor(
    readonly gpu: Gpu,
    readonly config: Qwen3Config,
    readonly shape: EngineShape,
    private readonly weights: EngineWeights,
    /** Largest batch × seq per engine. */
    readonly maxTokens: number,
    private readonly options: EngineScorerOptions,
    /** What the engine runs on, to print: "fleuve WGSL engine (f16, tensor cores)". */
    readonly description: string
  ) {}

  /**
   * Uploads a loaded model's weights (LoRA merged) to `gpu`; refuses, saying why, when the shape
   * does not fit the engine (checkEngineShape), the device has no shader-f16, or the weights do
   * not fit its memory.
   */
  static async create(model: Qwen3Model, gpu: Gpu, options: EngineScorerOptions = {}): Promise<EngineScorerOpen> {
    const shape = engineShape(model.config)
    try {
      checkEngineShape(shape)
    } catch (e) {
      if (e instanceof EngineShapeError) return { _tag: "Refused", reason: e.message }
      throw e
    }
    if (!gpu.hasF16) return { _tag: "Refused", reason: `${gpu.adapter.description || "the adapter"} has no shader-f16 (the engine holds f16 weights)` }
    const take = takeOnce(await hostWeights(model, { mergeLora: true }))
    let weights: EngineWeights
    try {
      weights = await withOomScope(gpu.device, async () => uploadQwen3Weights(gpu, shape, "f16", take, model.config.tieWordEmbeddings), (w) => {
        for (const b of weightBuffers(w)) b.destroy()
      })
    } catch (e) {
      // A buffer mapped at creation that cannot be allocated throws a RangeError instead of
      // reporting to the error scope (the buffers made before it are then lost to the device).
      if (isOutOfMemory(e) || e instanceof RangeError) return { _tag: "Refused", reason: `the f16 weights do not fit GPU memory (${e instanceof Error ? e.message : String(e)})` }
      throw e
    }
    const maxTokens = Math.min(options.maxTokensPerBatch ?? Infinity, bindingTokenLimit(gpu, shape))
    const description = `fleuve WGSL engine (f16, ${pickMatrixConfig(gpu) ? "tensor cores" : "no tensor cores: scalar attention"})`
    return { _tag: "Ready", scorer: new EngineScorer(gpu, model.config, shape, weights, maxTokens, options, description) }
  }

  /** Bytes of GPU memory this scorer holds: its weights, cached engines and decoder. */
  get allocatedBytes(): number {
    return weightBuffers(this.weights).reduce((a, b) => a + b.size, 0) + [...this.engines.values()].reduce((a, e) => a + e.activationBytes, 0) + (this.kept?.allocatedBytes ?? 0) + [...this.prefillers.values()].reduce((a, e) => a + e.activationBytes, 0)
  }

  /** Engines currently cached, as "batch×seq". */
  get cachedEngines(): Array<string> {
    return [...this.engines.keys()]
  }

  private dropEngine(key: string): void {
    this.engines.get(key)?.dispose()
    this.engines.delete(key)
  }

  /** Makes GPU buffers in an out-of-memory scope; out of memory frees the cached engines once and retries. */
  private async allocating<A extends { dispose(): void }>(make: () => Promise<A>): Promise<A> {
    const create = () => withOomScope(this.gpu.device, make, (a) => a.dispose())
    try {
      return await create()
    } catch (e) {
      if (!(e instanceof OutOfGpuMemory) || this.engines.size === 0) throw e
      for (const k of [...this.engines.keys()]) this.dropEngine(k)
      return create()
    }
  }

  /** The engine for batch × seq: cached (most recently used last), else created; out of memory frees the others once and retries. */
  private async engine(batch: number, seq: number): Promise<Qwen3Engine> {
    const key = `${batch}×${seq}`
    const hit = this.engines.get(key)
    if (hit) {
      this.engines.delete(key)
      this.engines.set(key, hit)
      return hit
    }
    const keep = Math.max(1, this.options.maxEngines ?? 4)
    while (this.engines.size >= keep) this.dropEngine(this.engines.keys().next().value!)
    const made = await this.allocating(() => Qwen3Engine.create(this.gpu, this.shape, this.weights, batch, seq))
    this.engines.set(key, made)
    return made
  }

  private async scoreGroup(rows: ReadonlyArray<OptionRow>): Promise<Array<RowScores>> {
    const layout = layoutBatch(rows)
    const e0 = performance.now()
    const made = !this.engines.has(`${layout.batch}×${layout.seq}`)
    const engine = await this.engine(layout.batch, layout.seq)
    const e1 = performance.now()
    try {
      const out = rowScores(rows, layout, await engine.score(layout.ids, layout.targets))
      this.stats.add(made, e1 - e0, performance.now() - e1, layout.batch * layout.seq)
      return out
    } catch (e) {
      // Whatever failed, this engine's state is suspect: free it (a split retries on smaller ones).
      this.dropEngine(`${layout.batch}×${layout.seq}`)
      throw e
    }
  }

  /** Rows in groups that fit the engine (scoreInGroups); `what` names a row too large for it. */
  private scoreRows(rows: ReadonlyArray<OptionRow>, what: (row: OptionRow) => string): Promise<Array<RowScores>> {
    return scoreInGroups(rows, {
      maxTokens: this.maxTokens,
      score: (group) => this.scoreGroup(group),
      tooLarge: (row, why) => new ScoringError(`${what(row)} does not fit the WGSL engine: ${why}`),
      ...(this.options.onSplit ? { onSplit: this.options.onSplit } : {})
    })
  }

  /** Exactly model/runtime/scoring.ts' scoreContinuations (same split, truncation, errors and result), on the engine. */
  async scoreContinuations(tokenizer: TextTokenizer, context: string, continuations: ReadonlyArray<string>, options: { readonly contextWindow?: number } = {}): Promise<ScoredContext> {
    if (this.disposed) throw new Error("EngineScorer used after dispose()")
    const p0 = performance.now()
    const prepared = prepareContinuations(tokenizer, context, continuations, { window: options.contextWindow ?? this.config.maxPositions, eosTokenId: this.config.eosTokenId })
    this.stats.prep += performance.now() - p0
    const rows = optionRows(prepared.prompt, prepared.continuations)
    const scores = await this.scoreRows(rows, (row) => `an option row of ${row.ids.length} tokens (context + continuation but its last token)`)
    return scoredContext(prepared, scores)
  }

  /**
   * Log-probability of every next token of each sequence (entry i of a row scores token i + 1),
   * through the same rows, groups and engines as option scoring: the held-out loss on the engine
   * (model/runtime/heldout-loss.ts). Sequences of fewer than 2 tokens score nothing.
   */
  async sequenceLogprobs(sequences: ReadonlyArray<ReadonlyArray<number>>): Promise<Array<Array<number>>> {
    if (this.disposed) throw new Error("EngineScorer used after dispose()")
    const rows: Array<OptionRow> = sequences.filter((ids) => ids.length >= 2).map((ids) => ({ ids: ids.slice(0, -1), first: 0, targets: ids.slice(1) }))
    const scores = await this.scoreRows(rows, (row) => `a sequence of ${row.ids.length + 1} tokens`)
    let next = 0
    return sequences.map((ids) => (ids.length >= 2 ? scores[next++]!.logprobs : []))
  }

  /**
   * A WGSL decoder (model/wgsl/qwen3-decoder.ts) over these weights with room for `rows` rows and
   * `positions` positions: the one made last when it is large enough and not over twice as wide,
   * else a new one (the old one freed first; out of memory frees the scoring engines and retries).
   */
  /**
   * Runs `use` once every earlier exclusive call has settled. The scorer keeps one decoder (one set
   * of buffers) and replaces it when a batch needs another size: two generations at once on the
   * same model (the grid's partitions) would have one dispose the decoder the other is stepping —
   * seen on the H100 in the EnMed-0.6B study: "[Buffer] used in submit while destroyed" at
   * writeBuffer of the step's uniforms, which the batch halving then took for out of memory.
   */
  exclusive<A>(use: () => Promise<A>): Promise<A> {
    const run = this.turn.then(use, use)
    this.turn = run.then(() => undefined, () => undefined)
    return run
  }
  private turn: Promise<void> = Promise.resolve()

  /**
   * Fills a decoder's caches for the first `length` tokens of each prompt in one engine forward
   * (Qwen3Decoder.prefill) — rows a pass as many as PREFILL_TOKENS allow. The engine is kept for
   * the next prefill of the same shape, apart from the scoring engines (a scoring call may
   * evict those while a generation awaits). Call it inside `exclusive`, like the decoder.
   */
  async prefill(decoder: Qwen3Decoder, prompts: ReadonlyArray<ReadonlyArray<number>>, length: number): Promise<void> {
    if (this.disposed) throw new Error("EngineScorer used after dispose()")
    // Shapes in buckets (seq a multiple of 64, rows a power of two from 8), so that a grid's batches
    // reuse a few engines instead of making (and tuning the matmuls of) one per batch: on the H100
    // one made per batch cost more than its forward. The padded rows and positions compute nothing read.
    const seq = Math.ceil(length / 64) * 64
    const fit = Math.max(2, Math.floor(Math.min(this.maxTokens, PREFILL_TOKENS) / seq))
    let batch = 8
    while (batch < prompts.length && batch * 2 <= fit) batch *= 2
    if (batch > fit) batch = 2 // (seq a multiple of 64: 2 rows make 128 tokens)
    const key = `${batch}×${seq}`
    let engine = this.prefillers.get(key)
    if (engine) this.prefillers.delete(key)
    else {
      while (this.prefillers.size >= PREFILL_ENGINES) {
        const [old, e] = this.prefillers.entries().next().value!
        e.dispose()
        this.prefillers.delete(old)
      }
      engine = await this.allocating(() => Qwen3Engine.create(this.gpu, this.shape, this.weights, batch, seq))
    }
    this.prefillers.set(key, engine)
    await decoder.prefill(engine, prompts, length)
  }
  /** prefill engines by shape, least recently used first */
  private readonly prefillers = new Map<string, Qwen3Engine>()

  async decoder(rows: number, positions: number): Promise<Qwen3Decoder> {
    if (this.disposed) throw new Error("EngineScorer used after dispose()")
    const kept = this.kept
    if (kept && kept.rows >= rows && kept.rows <= Math.max(2 * rows, 8) && kept.positions >= positions && decoderIsCurrent(kept, this.weights.format)) return kept
    kept?.dispose()
    this.kept = undefined
    this.kept = await this.allocating(() => Qwen3Decoder.create(this.gpu, this.shape, this.weights, rows, positions))
    return this.kept
  }

  /** Frees the engines, the decoder and the uploaded weights (the device stays: it is not the scorer's). */
  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    this.kept?.dispose()
    for (const e of this.prefillers.values()) e.dispose()
    for (const k of [...this.engines.keys()]) this.dropEngine(k)
    for (const b of weightBuffers(this.weights)) b.destroy()
  }
}
