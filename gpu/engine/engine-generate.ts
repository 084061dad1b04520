import { type Generation, GreedyRows } from "../greedy-rows.ts"
import type { TextTokenizer } from "../tokenizer/tokenizer.ts"
import type { Qwen3Decoder } from "./qwen3-decoder.ts"

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
  /** runs after every step whose argmax was read (error scopes, in gpu/generate.ts) */
  readonly checkpoint?: () => Promise<void>
}

/** Positions a batch needs: its longest prompt, then maxNewTokens − 1 tokens fed back (the last one generated is not). */
export const decodePositions = (rows: ReadonlyArray<PromptRow>, maxNewTokens: number): number => Math.max(...rows.map((r) => Math.max(1, r.ids.length))) + Math.max(0, maxNewTokens - 1)

/**
 * Greedy generation of a batch on the WGSL decoder (gpu/engine/qwen3-decoder.ts), which has at
 * least rows.length rows and decodePositions positions. At step s row r takes its prompt's token
 * s, or, past its prompt, the token it generated at step s − 1; it starts generating at the step
 * of its last prompt token. Steps before any row's last prompt token are not read back. Where
 * rows stop and why: GreedyRows, as on the tfjs runtime. An empty prompt is one end-of-text token.
 */
export const decodeOnEngine = async (decoder: Qwen3Decoder, tokenizer: TextTokenizer, rows: ReadonlyArray<PromptRow>, options: DecodeOptions): Promise<Array<Generation>> => {
  const pad = options.eos ?? 0
  const prompts = rows.map((r) => (r.ids.length > 0 ? r.ids : [pad]))
  const out = new GreedyRows(rows.length, tokenizer, options)
  const steps = decodePositions(rows, options.maxNewTokens)
  const ids = new Uint32Array(rows.length)
  for (let s = 0; s < steps && !out.allDone; s++) {
    prompts.forEach((p, r) => {
      ids[r] = s < p.length ? p[s]! : (out.generated(r)[s - p.length] ?? pad)
    })
    const wanted = prompts.some((p, r) => s >= p.length - 1 && !out.isDone(r))
    const got = await decoder.step(ids, s, wanted ? {} : false)
    if (!got) continue
    await options.checkpoint?.()
    prompts.forEach((p, r) => {
      if (s >= p.length - 1) out.accept(r, got.argmax[r]!)
    })
  }
  return out.results(rows.map((r) => r.truncated))
}
