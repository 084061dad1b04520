import type { TextTokenizer } from "../formats/tokenizer/tokenizer.ts"

/** What one prompt generated (model/runtime/generate.ts generateGreedy). */
export interface Generation {
  readonly text: string
  readonly tokenIds: ReadonlyArray<number>
  /** "non-finite": the model's logits were NaN or infinite at some step; the row is a failure (`error`), never an answer. */
  readonly finishReason: "stop" | "eos" | "length" | "non-finite"
  readonly truncatedTokens: number
  /** Set when the row failed (finishReason "non-finite"): why, for its dead letter. */
  readonly error?: string
}

/**
 * The rows of a greedy batch as tokens come in: where each row stops and why, the same on every
 * path that generates (the tfjs runtime and the WGSL decoder). A row ends at the end-of-text
 * token (not kept; unless stopAtEos is false), at the first stop string (cut from the text), or
 * after maxNewTokens tokens.
 *
 * A stop string counts only once the answer has begun: whitespace the row opens with (a newline
 * after "Réponse:", say) is not matched against the stop strings, so a model that puts its answer
 * on the next line is not cut to nothing by the stop string "\n". Matching starts at the first
 * non-whitespace character; the text kept is everything before the first match (callers trim it).
 */
export class GreedyRows {
  private readonly rows: Array<{ ids: Array<number>; done: boolean; reason: Generation["finishReason"]; text: string; error?: string }>

  constructor(
    count: number,
    private readonly tokenizer: TextTokenizer,
    private readonly options: { readonly maxNewTokens: number; readonly stop?: ReadonlyArray<string>; readonly stopAtEos?: boolean; readonly eos: number | undefined }
  ) {
    this.rows = Array.from({ length: count }, () => ({ ids: [], done: options.maxNewTokens <= 0, reason: "length", text: "" }))
  }

  /** Takes row r's next token (ignored once the row is done). */
  accept(r: number, token: number): void {
    const row = this.rows[r]!
    if (row.done) return
    if (this.options.stopAtEos !== false && this.options.eos !== undefined && token === this.options.eos) {
      row.done = true
      row.reason = "eos"
      return
    }
    row.ids.push(token)
    const text = this.tokenizer.decode(row.ids)
    const lead = text.length - text.trimStart().length
    const hit = lead === text.length ? [] : (this.options.stop ?? []).map((s) => text.indexOf(s, lead)).filter((i) => i >= 0)
    if (hit.length > 0) {
      row.done = true
      row.reason = "stop"
      row.text = text.slice(0, Math.min(...hit))
      return
    }
    row.text = text
    if (row.ids.length >= this.options.maxNewTokens) row.done = true
  }

  /**
   * Row r's logits were not finite at generation step `step` (0: the token after the prompt): the
   * row ends as a failure. What it generated before is dropped, since the argmax of NaN or
   * infinite logits is no answer (ignored once the row is done).
   */
  failNonFinite(r: number, step: number): void {
    const row = this.rows[r]!
    if (row.done) return
    row.done = true
    row.reason = "non-finite"
    row.text = ""
    row.error = `non-finite logits at generation step ${step}: the model's activations overflowed or are NaN; no generation`
  }

  isDone(r: number): boolean {
    return this.rows[r]!.done
  }

  /** Tokens row r has generated so far. */
  generated(r: number): ReadonlyArray<number> {
    return this.rows[r]!.ids
  }

  get allDone(): boolean {
    return this.rows.every((r) => r.done)
  }

  results(truncated: ReadonlyArray<number>): Array<Generation> {
    return this.rows.map((o, i) => ({ text: o.text, tokenIds: o.ids, finishReason: o.reason, truncatedTokens: truncated[i]!, ...(o.error !== undefined ? { error: o.error } : {}) }))
  }
}
