import { type Generation, GreedyRows } from "../runtime/greedy-rows.ts"
import type { TextTokenizer } from "../formats/tokenizer/tokenizer.ts"
import type { Qwen3Decoder } from "./qwen3-decoder.ts"
import { NON_FINITE_TOKEN } from "./kernels/token-feed.ts"

/** A prompt's tokens after truncation to the window, and how many were cut on the left. */
export interface PromptRow {
  readonly ids: ReadonlyArray<number>
  readonly truncated: number
}

export interface DecodeOptions {
  readonly maxNewTokens: number
  readonly stop?: ReadonlyArray<string>
  readonly stopAtEos?: boolean
  readonly eos: number | undefined
  /** runs every CHECK_EVERY steps whose argmax was read, and after the last (error scopes, in model/runtime/generate.ts) */
  readonly checkpoint?: () => Promise<void>
  /** filled with where the time went, for benchmarks */
  readonly decodeTimings?: DecodeTimings
  /**
   * "device" (default): the GPU feeds the steps itself (Qwen3Decoder.decodeOnDevice) and the
   * host reads the tokens every READ_EVERY steps. "host": each step's argmax comes back to the
   * host, which feeds the next step. The same tokens (checked on the H200); "device" spares a
   * round trip a step (531 against 438 tokens/s there).
   */
  readonly decoderFeed?: "host" | "device"
  /**
   * Fills the decoder's caches for the first `length` tokens of every prompt at once (EngineScorer
   * .prefill: one tiled forward), so the device-fed steps start at the shortest prompt's last
   * token instead of position 0. Without it every prompt token is a decoding step.
   */
  readonly prefill?: (prompts: ReadonlyArray<ReadonlyArray<number>>, length: number) => Promise<void>
}

/** Prompt tokens below which the prefill forward is not worth its engine (a few steps cost less). */
const PREFILL_MIN = 16

/** Steps between two reads of the tokens when the device feeds the steps: a row done is noticed at most twice this late (each read is awaited at the next; the extra tokens are dropped). */
const READ_EVERY = 8

/**
 * Milliseconds spent submitting steps not read, in steps read (submit + wait + read back), and in
 * checkpoints; fed on the device, `read` is the steps' whole wall time and `submitted` the part of
 * it the host spent encoding and submitting them.
 */
export interface DecodeTimings {
  /** milliseconds in the prefill forward (options.prefill), and the positions it filled */
  prefill?: number
  prefilled?: number
  submitted: number
  read: number
  checkpoints: number
  steps: number
  reads: number
}

/**
 * Error scopes are checked every this many read steps: each check is a round trip to the device
 * (three popErrorScope), and a batch that ran out of memory is only found a few steps later, its
 * results thrown away all the same.
 */
const CHECK_EVERY = 16

/** Positions a batch needs: its longest prompt (an empty one is one token), then maxNewTokens − 1 tokens fed back (the last one generated is not). */
export const decodePositions = (longestPrompt: number, maxNewTokens: number): number => Math.max(1, longestPrompt) + Math.max(0, maxNewTokens - 1)

/** The longest prompt of a batch, in tokens. */
export const longestPrompt = (rows: ReadonlyArray<PromptRow>): number => Math.max(...rows.map((r) => r.ids.length))

/**
 * Greedy generation of a batch on the WGSL decoder (model/wgsl/qwen3-decoder.ts), which has at
 * least rows.length rows and decodePositions positions. At step s row r takes its prompt's token
 * s, or, past its prompt, the token it generated at step s − 1; it starts generating at the step
 * of its last prompt token. Steps before any row's last prompt token are not read back. Where
 * rows stop and why: GreedyRows, as on the tfjs runtime. An empty prompt is one end-of-text token.
 * A step whose logits are not finite fails its row (GreedyRows.failNonFinite), as on tfjs.
 */
export const decodeOnEngine = async (decoder: Qwen3Decoder, tokenizer: TextTokenizer, rows: ReadonlyArray<PromptRow>, options: DecodeOptions): Promise<Array<Generation>> => {
  const pad = options.eos ?? 0
  const prompts = rows.map((r) => (r.ids.length > 0 ? r.ids : [pad]))
  const out = new GreedyRows(rows.length, tokenizer, options)
  const steps = decodePositions(longestPrompt(rows), options.maxNewTokens)
  const t = options.decodeTimings
  if ((options.decoderFeed ?? "device") === "device") {
    // positions every row has in its prompt before its last token: the engine computes them at once
    const shared = Math.min(...prompts.map((p) => p.length)) - 1
    let from = 0
    if (options.prefill && shared >= PREFILL_MIN) {
      const p0 = performance.now()
      await options.prefill(prompts, shared)
      from = shared
      if (t) {
        t.prefill = (t.prefill ?? 0) + performance.now() - p0
        t.prefilled = shared
      }
    }
    const t0 = performance.now()
    const host0 = decoder.hostMs
    let checks = 0
    await decoder.decodeOnDevice(prompts, steps, READ_EVERY, async (first, argmax, count) => {
      for (let i = 0; i < count; i++) {
        prompts.forEach((p, r) => {
          const step = first + i - (p.length - 1)
          if (step < 0) return
          const token = argmax[i * prompts.length + r]!
          if (token === NON_FINITE_TOKEN) out.failNonFinite(r, step)
          else out.accept(r, token)
        })
      }
      const c0 = performance.now()
      await options.checkpoint?.()
      checks += performance.now() - c0
      if (t) {
        t.steps = first + count
        t.reads++
      }
      return out.allDone
    }, from)
    if (t) {
      t.checkpoints += checks
      t.read += performance.now() - t0 - checks
      t.submitted += decoder.hostMs - host0
    }
    return out.results(rows.map((r) => r.truncated))
  }
  const ids = new Uint32Array(rows.length)
  let reads = 0
  const checkpoint = async () => {
    const t0 = performance.now()
    await options.checkpoint?.()
    if (t) t.checkpoints += performance.now() - t0
  }
  for (let s = 0; s < steps && !out.allDone; s++) {
    prompts.forEach((p, r) => {
      ids[r] = s < p.length ? p[s]! : (out.generated(r)[s - p.length] ?? pad)
    })
    const wanted = prompts.some((p, r) => s >= p.length - 1 && !out.isDone(r))
    const t0 = performance.now()
    const got = await decoder.step(ids, s, wanted ? {} : false)
    if (t) {
      t.steps++
      if (got) t.reads++
      t[got ? "read" : "submitted"] += performance.now() - t0
    }
    if (!got) continue
    if (++reads % CHECK_EVERY === 0) await checkpoint()
    prompts.forEach((p, r) => {
      if (s < p.length - 1) return
      // a NaN or infinite log-prob: the step's logits were not finite (see NON_FINITE_TOKEN)
      if (!Number.isFinite(got.logprob[r]!)) out.failNonFinite(r, s - (p.length - 1))
      else out.accept(r, got.argmax[r]!)
    })
  }
  if (reads % CHECK_EVERY !== 0) await checkpoint()
  return out.results(rows.map((r) => r.truncated))
}
