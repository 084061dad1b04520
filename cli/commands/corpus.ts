import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { existsSync, readFileSync } from "node:fs"
import type { TallySnapshot } from "../../operators/corpus/tally.ts"
import { buildCorpusRun, type CorpusOptions, defaultCorpusOptions } from "../../pipelines/corpus.ts"
import { PipelineRuntime } from "../../pipelines/runtime.ts"
import { progressReporter } from "../progress.ts"
import { reportFailure, withWarehouse } from "../common.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

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

/** Reads the thresholds file: any of CorpusOptions' tuning fields, as JSON. */
const readConfig = (path: string): Partial<CorpusOptions> => {
  if (!existsSync(path)) throw new Error(`${path}: no such config file`)
  try {
    return JSON.parse(readFileSync(path, "utf8"))
  } catch (e) {
    throw new Error(`${path}: not valid JSON: ${(e as Error).message}`)
  }
}

export const corpusCommand = Command.make(
  "corpus",
  {
    input: Argument.String("input").pipe(Argument.withDescription("Corpus to process: a JSONL (.jsonl/.jsonl.gz), CSV or Parquet file with a `text` field, or a folder of .txt files (and/or such files)")),
    out: Flag.String("out").pipe(Flag.withDescription("Folder for the packed Arrow IPC shards (<run id>-NNNNN.arrow)"), Flag.withDefault(defaultCorpusOptions.outDir)),
    tokenizer: Flag.String("tokenizer").pipe(Flag.withDescription("Hugging Face tokenizer.json, or a model folder holding it"), Flag.withDefault(defaultCorpusOptions.tokenizer)),
    config: Flag.String("config").pipe(
      Flag.withDescription("JSON file of thresholds, e.g. {\"quality\": {\"minWords\": 30}, \"minLanguageScore\": 0.8, \"languages\": [\"fr\"], \"sequenceLength\": 4096}"),
      Flag.optional
    ),
    sequenceLength: Flag.Int("sequence-length").pipe(Flag.withDescription("Tokens per packed training sequence"), Flag.withDefault(defaultCorpusOptions.sequenceLength)),
    textField: Flag.String("text-field").pipe(Flag.withDescription("Field holding the text in JSONL/CSV/Parquet rows"), Flag.withDefault("text")),
    idField: Flag.String("id-field").pipe(Flag.withDescription("Field holding a stable document id (else file:line)"), Flag.withDefault("id")),
    full: Flag.Boolean("full").pipe(Flag.withDescription("Reprocess every document and leave the warehouse's corpus state untouched (default: incremental)"), Flag.withDefault(false)),
    warehouse: warehouseFlag
  },
  ({ input, out, tokenizer, config, sequenceLength, textField, idField, full, warehouse }) =>
    Effect.gen(function*() {
      const fromFile = Option.isSome(config) ? yield* Effect.try({ try: () => readConfig(config.value), catch: (e) => ({ message: (e as Error).message }) }) : {}
      const options: CorpusOptions = { sequenceLength, ...fromFile, input, outDir: out, tokenizer, textField, idField, incremental: !full }
      yield* Console.error(`corpus: loading tokenizer ${tokenizer}`)
      const run = yield* buildCorpusRun(options)
      const runtime = yield* PipelineRuntime
      // One partition: dedup keeps the first document of a cluster in input order, run after run.
      const report = yield* runtime.run(run.pipeline, { partitions: 1, onProgress: progressReporter() })
      yield* Console.log(renderTallies(run.tallies.map((t) => t.snapshot())))
      yield* Console.log(
        `corpus: run ${run.runId}: ${run.ledger.seen.size} documents seen, ${run.ledger.processed.size} (re)processed, ` +
          `${report.deadLetters.length} dead letters, ${run.writer.written.length} shard(s) in ${out}, ${(report.elapsedMs / 1000).toFixed(1)}s`
      )
    }).pipe(
      Effect.provide(withWarehouse(warehouse)),
      Effect.catch((e: unknown) => reportFailure({ message: e instanceof Error ? e.message : String((e as { message?: string }).message ?? e) }))
    )
).pipe(
  Command.withDescription(
    "Stream a corpus through normalisation, language id, quality filters, PII scrubbing, exact + MinHash dedup, tokenization and packing.\n" +
      "Incremental: documents whose content did not change since the last run are skipped; disappeared ones are retired (table corpus_documents)."
  ),
  Command.withExamples([
    { command: "fleuve corpus data/corpus/sample.jsonl", description: "Process the sample corpus into out/corpus/*.arrow" },
    { command: "fleuve corpus notes/ --out shards --sequence-length 4096", description: "A folder of .txt files, 4096-token sequences" },
    { command: "fleuve corpus dump.jsonl.gz --config thresholds.json --full", description: "Custom thresholds, reprocess everything" }
  ])
)
