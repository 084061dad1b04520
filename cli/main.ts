// First: where results go (FLEUVE_RESULTS_FD, set by the GPU bundle's launcher), before anything writes or loads Dawn.
import "./results-fd.ts"
// The modules, not the package index: the index also loads Redis, HTTP, cluster... (a second of start-up).
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
// Modules rather than the "effect" index, which loads all of effect: --help needs a fraction.
import * as Effect from "effect/Effect"
import { Command } from "effect/cli"
import { analyzeCommand } from "./commands/analyze.ts"
import { importLmEvalCommand } from "./commands/import-lm-eval.ts"
import { corpusCommand } from "./commands/corpus.ts"
import { demoCommand } from "./commands/demo.ts"
import { gpuBundleCommand } from "./commands/gpu-bundle.ts"
import { nf4QuantizeCommand } from "./commands/nf4-quantize.ts"
import { importScoresCommand } from "./commands/import-scores.ts"
import { pipelinesCommand } from "./commands/pipelines.ts"
import { queryCommand } from "./commands/query.ts"
import { reportCommand } from "./commands/report.ts"
import { reevalCommand } from "./commands/reeval.ts"
import { runCommand } from "./commands/run.ts"
import { modelCommand } from "./commands/model.ts"
import { trainCommand } from "./commands/train.ts"
import { studyCommand } from "./commands/study.ts"
import { replayCommand } from "./commands/replay.ts"
import { topicsCommand } from "./commands/topics.ts"
import { workerCommand } from "./commands/worker.ts"
import { invalidInvocationPresenter } from "./invalid-invocation.ts"

// One file per command under cli/commands/; this file only assembles them.
const fleuve = Command.make("fleuve").pipe(
  Command.withDescription(
    "fleuve: a streaming ETL and evaluation warehouse for LLM corpora and QA benchmarks.\n" +
      "Item-level scores land in a DuckDB warehouse (./fleuve.duckdb by default) that you can query with SQL."
  ),
  // Start here: the first commands a newcomer runs, in the order they make sense.
  Command.withExamples([
    { command: "fleuve demo", description: "Start here: the EnMed protocol end to end on the bundled sample (CPU, minutes); prints the report's path" },
    { command: "fleuve query \"SELECT system, task, shots, round(avg(score), 3) AS mean FROM scores WHERE metric IN ('acc', 'f1', 'judge') GROUP BY ALL ORDER BY ALL\"", description: "Ask the warehouse (./fleuve.duckdb) anything in SQL" },
    { command: "fleuve import-scores my-scores.csv && fleuve analyze --reference my-baseline && fleuve report --out report/", description: "Your own item-level scores: import, test against a reference, draw the report" },
    { command: "fleuve corpus my-corpus.jsonl.gz --out shards/", description: "Clean, deduplicate, tokenize and pack a corpus" },
    { command: "fleuve <command> --help", description: "Every command's flags, defaults and examples" }
  ]),
  Command.withSubcommands([
    demoCommand,
    studyCommand,
    importScoresCommand,
    analyzeCommand,
    corpusCommand,
    queryCommand,
    pipelinesCommand,
    runCommand,
    reportCommand,
    reevalCommand,
    importLmEvalCommand,
    modelCommand,
    trainCommand,
    gpuBundleCommand,
    nf4QuantizeCommand,
    workerCommand,
    topicsCommand,
    replayCommand
  ])
)

fleuve.pipe(Command.run({ version: "0.1.0" }), Effect.provide(invalidInvocationPresenter), Effect.provide(NodeServices.layer), NodeRuntime.runMain)
