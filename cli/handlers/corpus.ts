import { Console, Effect, Option } from "effect"
import { withMaxRecordBytes } from "../../pipelines/record-limit.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"
import { existsSync, statSync } from "node:fs"
import { availableParallelism } from "node:os"
import { buildCorpusRun, type CorpusOptions, readCorpusConfig, type TallySnapshot } from "../../pipelines/corpus.ts"
import { compactCorpus } from "../../pipelines/corpus-compact.ts"
import { PipelineRuntime } from "../../pipelines/runtime/runtime.ts"
import { progressReporter } from "../progress.ts"
import { reportAnyFailure } from "../common.ts"
import { withWarehouse } from "../../pipelines/services.ts"
import type { CorpusArgs } from "../flags/corpus.ts"

/** One line per corpus operator: what it kept, changed and dropped, and why. */
export const renderTallies = (tallies: ReadonlyArray<TallySnapshot>): string => {
  const name = Math.max(...tallies.map((t) => t.name.length))
  return tallies.map((t) => {
    const reasons = Object.entries(t.dropReasons).map(([r, n]) => `${r} ${n}`).join(", ")
    const counters = Object.entries(t.counters).map(([c, n]) => `${c} ${n}`).join(", ")
    return `${t.name.padEnd(name)}  kept ${String(t.kept).padStart(7)}  changed ${String(t.changed).padStart(7)}  dropped ${String(t.dropped).padStart(7)}  rejected ${String(t.rejected).padStart(5)}` +
      `${reasons ? `  [${reasons}]` : ""}${counters ? `  {${counters}}` : ""}`
  }).join("\n")
}

/**
 * Worker threads pay off once their start (a bundle, a tokenizer each: ~1 s) is small against the
 * work, and once the main thread's own share leaves them cores: on 2 cores they did not
 * (BENCHMARKS.md, Corpus), so the default asks for 4 cores and 8 MB of input.
 */
const defaultWorkers = (input: string): number => {
  const size = existsSync(input) && statSync(input).isFile() ? statSync(input).size : Infinity
  const cores = availableParallelism()
  return size >= 8e6 && cores >= 4 ? cores - 1 : 1
}

export const corpusHandler = ({ input, out, tokenizer, config, sequenceLength, textField, idField, workers, full, compact, warehouse, maxRecordBytes }: CorpusArgs) =>
  Effect.gen(function*() {
    const fromFile = Option.isSome(config) ? yield* readCorpusConfig(config.value) : {}
    const options: CorpusOptions = { sequenceLength, ...fromFile, input, outDir: out, tokenizer, textField, idField, incremental: !full }
    yield* Console.error(`corpus: loading tokenizer ${tokenizer}`)
    const run = yield* buildCorpusRun(options)
    const runtime = yield* PipelineRuntime
    // One partition: dedup keeps the first document of a cluster in input order, run after run.
    // Workers compute the stateless steps ahead of the stages; decisions stay on this thread, in order.
    const threads = Option.getOrElse(workers, () => defaultWorkers(input))
    const report = yield* runtime.run(run.pipeline, { partitions: 1, workers: threads, onProgress: progressReporter() }).pipe(run.settle)
    yield* Console.log(renderTallies(run.tallies.map((t) => t.snapshot())))
    yield* Console.log(
      `corpus: run ${run.runId}: ${run.ledger.seen.size} documents seen, ${run.ledger.processed.size} (re)processed, ` +
        `${run.outcome.retired} retired, ${report.deadLetters.length} dead letters, ${run.writer.written.length} shard(s) in ${out}, ${(report.elapsedMs / 1000).toFixed(1)}s`
    )
    const m = run.outcome.manifest
    if (m) {
      yield* Console.log(
        `corpus: ${run.outcome.documentsFile ? `${run.documents.count} cleaned documents in ${run.outcome.documentsFile}; ` : ""}` +
          `${out}/manifest.json: ${m.current.documents} current documents in ${m.shards.length} shard(s), ${m.current.sequences} current sequences, ` +
          `${m.shards.reduce((a, s) => a + s.staleSequences.length, 0)} stale`
      )
    }
    if (compact) {
      const c = yield* compactCorpus(out)
      yield* Console.log(
        `corpus: compacted ${c.before.shards} shard(s) (${c.before.sequences} sequences, ${c.before.staleSequences} stale) and ${c.before.documentsFiles} documents file(s) ` +
          `into ${c.after.shards} shard(s), ${c.after.sequences} sequences, ${c.after.documents} documents`
      )
    }
  }).pipe(
    withMaxRecordBytes(maxRecordBytesOf(maxRecordBytes)),
    Effect.provide(withWarehouse(warehouse)),
    Effect.catch(reportAnyFailure)
  )
