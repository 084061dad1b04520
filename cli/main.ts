import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { describeDeadLetter } from "../operators/operator.ts"
import { EmbeddedRuntime } from "../pipelines/embedded.ts"
import { importScores } from "../pipelines/import-scores.ts"
import { findPipeline, pipelines } from "../pipelines/registry.ts"
import { PipelineRuntime } from "../pipelines/runtime.ts"
import { Warehouse } from "../warehouse/warehouse.ts"
import { formatRows } from "./format.ts"
import { progressReporter, renderProgress } from "./progress.ts"
import { warehouseFlag } from "./warehouse-flag.ts"

/** Prints a typed failure as one clear message and sets a failing exit code; no stack traces. */
const reportFailure = (e: { readonly message: string }) =>
  Effect.sync(() => {
    process.stderr.write(`fleuve: ${e.message}\n`)
    process.exitCode = 1
  })

const withWarehouse = (path: string) => Layer.mergeAll(Warehouse.layer(path), EmbeddedRuntime)

const importScoresCommand = Command.make(
  "import-scores",
  {
    file: Argument.String("file").pipe(Argument.withDescription("CSV, JSONL or Parquet file with columns system, task, shots, item_id, score [, metric, dataset_version, judge]")),
    warehouse: warehouseFlag,
    keepGoing: Flag.Boolean("keep-going").pipe(
      Flag.withDescription("Land the valid rows and keep each bad row in dead_letters with its reason (default: any bad row fails the import and nothing lands)"),
      Flag.withDefault(false)
    )
  },
  ({ file, warehouse, keepGoing }) =>
    Effect.gen(function*() {
      const summary = yield* importScores(file, { keepGoing, run: { onProgress: progressReporter() } })
      yield* Console.log(
        `${file}: ${summary.rowsRead} rows read, ${summary.landed} landed, ${summary.alreadyPresent} already present, ` +
          `${summary.repeatedRows} repeated in file, ${summary.rejected} rejected (run ${summary.runId})`
      )
      for (const d of summary.deadLetters.slice(0, 10)) yield* Console.error(`  rejected ${describeDeadLetter(d)}`)
      if (summary.rejected > 10) yield* Console.error(`  … ${summary.rejected - 10} more in the dead_letters table`)
    }).pipe(
      Effect.provide(withWarehouse(warehouse)),
      Effect.catchTags({ ImportRejected: reportFailure, WarehouseError: reportFailure, PipelineFailure: reportFailure })
    )
).pipe(
  Command.withDescription("Land item-level scores in the warehouse. Strict: one bad row fails the whole import unless --keep-going."),
  Command.withExamples([
    { command: "fleuve import-scores results.csv", description: "Import, failing on the first bad row (nothing lands)" },
    { command: "fleuve import-scores results.jsonl --keep-going", description: "Land valid rows; bad ones go to dead_letters" }
  ])
)

const queryCommand = Command.make(
  "query",
  {
    sql: Argument.String("sql").pipe(Argument.withDescription("SQL to run against the warehouse")),
    warehouse: warehouseFlag,
    format: Flag.Literals("format", ["table", "json", "csv"]).pipe(
      Flag.withDescription("table (aligned, for people), json (one array of row objects), csv"),
      Flag.withDefault("table")
    )
  },
  ({ sql, warehouse, format }) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      const rows = yield* w.query(sql)
      yield* Console.log(formatRows(rows, format))
    }).pipe(Effect.provide(Warehouse.layer(warehouse)), Effect.catchTag("WarehouseError", reportFailure))
).pipe(
  Command.withDescription("Run SQL against the warehouse and print the rows"),
  Command.withExamples([
    { command: "fleuve query \"SELECT system, avg(score) FROM scores GROUP BY ALL\"", description: "Mean score per system" },
    { command: "fleuve query --format json \"SELECT * FROM dead_letters\"", description: "Dead letters as JSON" }
  ])
)

const pipelinesCommand = Command.make("pipelines", {}, () =>
  Console.log(
    pipelines.map((p) => `${p.name}\n    ${p.description}\n    topics: ${p.topics.join(" → ")}`).join("\n\n")
  )).pipe(Command.withDescription("List the pipelines `fleuve run` can run"))

const runCommand = Command.make(
  "run",
  {
    pipeline: Argument.String("pipeline").pipe(Argument.withDescription("Pipeline name (see `fleuve pipelines`)")),
    warehouse: warehouseFlag,
    partitions: Flag.Int("partitions").pipe(Flag.withDescription("Partitions per topic (per-key order is kept)"), Flag.withDefault(4))
  },
  ({ pipeline: name, warehouse, partitions }) =>
    Effect.gen(function*() {
      const entry = findPipeline(name)
      if (!entry) {
        return yield* reportFailure({ message: `unknown pipeline '${name}'; known: ${pipelines.map((p) => p.name).join(", ")}` })
      }
      const runtime = yield* PipelineRuntime
      const pipeline = yield* entry.build
      yield* Console.error(`running ${name} on the ${runtime.name} runtime, warehouse ${warehouse}`)
      const report = yield* runtime.run(pipeline, { partitions, onProgress: progressReporter() })
      yield* Console.log(renderProgress(report.stages))
      yield* Console.log(`${name}: done in ${(report.elapsedMs / 1000).toFixed(1)}s, ${report.deadLetters.length} dead letters`)
    }).pipe(
      Effect.provide(withWarehouse(warehouse)),
      Effect.catch((e: unknown) => reportFailure({ message: e instanceof Error ? e.message : String((e as { message?: string }).message ?? e) }))
    )
).pipe(Command.withDescription("Run a pipeline on the embedded runtime, with progress per stage"))

const fleuve = Command.make("fleuve").pipe(
  Command.withDescription(
    "fleuve: a streaming ETL and evaluation warehouse for LLM corpora and QA benchmarks.\n" +
      "Item-level scores land in a DuckDB warehouse (./fleuve.duckdb by default) that you can query with SQL."
  ),
  Command.withSubcommands([importScoresCommand, queryCommand, pipelinesCommand, runCommand])
)

fleuve.pipe(Command.run({ version: "0.1.0" }), Effect.provide(NodeServices.layer), NodeRuntime.runMain)
