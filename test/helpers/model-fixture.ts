import { readFileSync } from "node:fs"
import { join } from "node:path"

// a test bundled onto a GPU host runs from elsewhere: FLEUVE_TEST_FIXTURES says where the fixtures are
const fixtures = process.env.FLEUVE_TEST_FIXTURES ?? join(import.meta.dirname, "..", "fixtures")
export const tinyDir = join(fixtures, "qwen3-tiny")
export const tinyBf16Dir = join(fixtures, "qwen3-tiny-bf16-sharded")

export interface ScoringRef {
  readonly context: string
  readonly continuation: string
  readonly context_ids: Array<number>
  readonly continuation_ids: Array<number>
  readonly token_logprobs: Array<number>
  readonly logprob: number
  readonly greedy: boolean
}

/** What transformers computed for the tiny model (scripts/fixtures/qwen3_tiny.py). */
export interface TinyReference {
  readonly encodings: Array<{ text: string; ids: Array<number> }>
  readonly scoring: Array<ScoringRef>
  readonly scoring_bf16_sharded: Array<ScoringRef>
  readonly generations: Array<{ prompt: string; prompt_ids: Array<number>; new_ids: Array<number> }>
  readonly full_sequence: { ids: Array<number>; logprobs_of_next: Array<number>; argmax: Array<number> }
  readonly dtypes: { f32: Array<number>; f16: Array<number>; bf16: Array<number> }
}

export const tinyReference = (): TinyReference => JSON.parse(readFileSync(join(tinyDir, "reference.json"), "utf8"))

/** Groups the reference rows by context, as a multiple-choice item groups its options. */
export const groupByContext = (rows: ReadonlyArray<ScoringRef>): Map<string, Array<ScoringRef>> => {
  const m = new Map<string, Array<ScoringRef>>()
  for (const r of rows) m.set(r.context, [...(m.get(r.context) ?? []), r])
  return m
}
