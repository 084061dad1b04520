import { isOutOfMemory } from "./kernels/buffers.ts"

/**
 * How options become the WGSL engine's input, as pure functions (tested on the CPU): one row per
 * option, holding context + continuation minus its last token; rows right-padded to a sequence
 * length that is a multiple of 16, and dummy rows added until batch × seq is a multiple of 128
 * (the engine's shape rules). Position p of a row predicts the token at p + 1, so an option's
 * continuation tokens are scored at positions prompt.length − 1 … prompt.length + n − 2.
 */

/** One option as a row: input ids, and the targets scored from position `first` on. */
export interface OptionRow {
  readonly ids: ReadonlyArray<number>
  readonly first: number
  readonly targets: ReadonlyArray<number>
}

export const optionRows = (prompt: ReadonlyArray<number>, continuations: ReadonlyArray<ReadonlyArray<number>>): Array<OptionRow> =>
  continuations.map((c) => ({ ids: [...prompt, ...c.slice(0, -1)], first: prompt.length - 1, targets: c }))

/** Token id of padding (inputs and unscored targets): any valid id does, causal attention hides it. */
export const PAD_ID = 0

export interface BatchLayout {
  readonly batch: number
  readonly seq: number
  /** batch × seq input ids, row-major */
  readonly ids: Uint32Array<ArrayBuffer>
  /** batch × seq targets; PAD_ID where nothing is scored */
  readonly targets: Uint32Array<ArrayBuffer>
  /** for each real row, the flat index of its first scored position (its targets follow) */
  readonly starts: ReadonlyArray<number>
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b))

/**
 * The engine's shape for these rows: seq a multiple of 16 at least the longest row, batch at least
 * the rows with batch × seq a multiple of 128, choosing the seq that computes the fewest tokens
 * (one row of 40 tokens: 2 × 64 = 128 tokens, not 8 × 48 = 384); on a tie, the shorter seq
 * (attention grows with seq²).
 */
export const batchShape = (rows: ReadonlyArray<OptionRow>): { batch: number; seq: number } => {
  if (rows.length === 0) throw new Error("batchShape: no rows")
  const longest = Math.max(...rows.map((r) => r.ids.length))
  let best = { batch: 0, seq: 0 }
  // beyond the next multiple of 128, batch = rows and a longer seq only adds tokens
  for (let seq = Math.ceil(longest / 16) * 16; seq <= Math.ceil(longest / 128) * 128; seq += 16) {
    const step = 128 / gcd(seq, 128)
    const batch = Math.ceil(rows.length / step) * step
    if (best.seq === 0 || batch * seq < best.batch * best.seq) best = { batch, seq }
  }
  return best
}

/** Tokens the engine computes for these rows (padding and dummy rows included). */
export const batchTokens = (rows: ReadonlyArray<OptionRow>): number => {
  const { batch, seq } = batchShape(rows)
  return batch * seq
}

export const layoutBatch = (rows: ReadonlyArray<OptionRow>): BatchLayout => {
  const { batch, seq } = batchShape(rows)
  const ids = new Uint32Array(batch * seq).fill(PAD_ID)
  const targets = new Uint32Array(batch * seq).fill(PAD_ID)
  const starts = rows.map((r, b) => {
    ids.set(r.ids, b * seq)
    targets.set(r.targets, b * seq + r.first)
    return b * seq + r.first
  })
  return { batch, seq, ids, targets, starts }
}

/** Per option: the log-prob of each continuation token and whether each was the argmax. */
export interface RowScores {
  readonly logprobs: Array<number>
  readonly greedy: boolean
}

/** Reads each real row's scores out of the engine's per-position output. */
export const rowScores = (rows: ReadonlyArray<OptionRow>, layout: BatchLayout, out: { readonly logprob: Float32Array; readonly argmax: Uint32Array }): Array<RowScores> =>
  rows.map((r, b) => {
    const s = layout.starts[b]!
    const logprobs = r.targets.map((_, j) => out.logprob[s + j]!)
    return { logprobs, greedy: r.targets.every((t, j) => out.argmax[s + j] === t) }
  })

/** Splits rows in two halves (the first half the larger), keeping their order. */
export const halves = <A>(rows: ReadonlyArray<A>): [Array<A>, Array<A>] => {
  const mid = Math.ceil(rows.length / 2)
  return [rows.slice(0, mid), rows.slice(mid)]
}

/**
 * Groups of consecutive rows that each fit `maxTokens` (batch × seq, padding included): a group
 * that does not fit is split in halves, recursively, down to single rows; a single row that does
 * not fit is returned alone (the caller says why it cannot be scored).
 */
export const planGroups = (rows: ReadonlyArray<OptionRow>, maxTokens: number): Array<Array<OptionRow>> => {
  if (rows.length <= 1 || batchTokens(rows) <= maxTokens) return [[...rows]]
  const [a, b] = halves(rows)
  return [...planGroups(a, maxTokens), ...planGroups(b, maxTokens)]
}

/**
 * Scores rows in groups that fit `maxTokens`; a group whose engine runs out of GPU memory is
 * split in halves and each half retried, down to one row. `tooLarge` makes the error for a
 * single row that fits neither the limit nor the memory (it names the row's token count).
 * Results come back in the rows' order, whatever the splits.
 */
export const scoreInGroups = async (
  rows: ReadonlyArray<OptionRow>,
  options: {
    readonly maxTokens: number
    readonly score: (group: ReadonlyArray<OptionRow>) => Promise<Array<RowScores>>
    readonly tooLarge: (row: OptionRow, why: string) => Error
    /** told of each split caused by memory (rows, tokens of the group that failed) */
    readonly onSplit?: (rows: number, tokens: number) => void
  }
): Promise<Array<RowScores>> => {
  const one = async (group: ReadonlyArray<OptionRow>): Promise<Array<RowScores>> => {
    if (group.length === 1 && batchTokens(group) > options.maxTokens) {
      throw options.tooLarge(group[0]!, `its ${batchTokens(group)}-token batch exceeds the ${options.maxTokens}-token limit`)
    }
    try {
      return await options.score(group)
    } catch (e) {
      if (!isOutOfMemory(e)) throw e
      if (group.length === 1) throw options.tooLarge(group[0]!, e instanceof Error ? e.message : String(e))
      options.onSplit?.(group.length, batchTokens(group))
      const [a, b] = halves(group)
      return [...(await one(a)), ...(await one(b))]
    }
  }
  const out: Array<RowScores> = []
  for (const g of planGroups(rows, options.maxTokens)) out.push(...(await one(g)))
  return out
}
