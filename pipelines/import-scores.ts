import { Effect, Schema } from "effect"
import { existsSync, statSync } from "node:fs"
import { describeDeadLetter, OperatorFailure } from "../operators/operator.ts"
import { formatOf, readTable } from "../operators/readers/index.ts"
import { parseScoreRow } from "../operators/scores/parse-score-row.ts"
import { describePosition, type Position } from "../schemas/common.ts"
import type { DeadLetter } from "../schemas/dead-letter.ts"
import type { Score } from "../schemas/evaluation.ts"
import { landDeadLetters } from "../warehouse/dead-letters.ts"
import { Runs } from "../warehouse/runs.ts"
import type { WarehouseError } from "../warehouse/errors.ts"
import { ScoreStore, type StagedScore } from "../warehouse/score-store.ts"
import { Warehouse } from "../warehouse/warehouse.ts"
import { type Pipeline, sink, source, stage } from "./runtime/graph.ts"
import { PipelineRuntime, type RunOptions } from "./runtime/runtime.ts"

export { describeDeadLetter } from "../operators/operator.ts"

export class ImportRejected extends Schema.TaggedError<ImportRejected>()("ImportRejected", {
  file: Schema.String,
  message: Schema.String,
  rejected: Schema.Int
}) {}

export interface ImportSummary {
  readonly file: string
  readonly runId: string
  readonly rowsRead: number
  /** Keys new to the warehouse. */
  readonly landed: number
  /** Keys the warehouse already held with the same score (re-import). */
  readonly alreadyPresent: number
  /** Rows repeating an earlier row of the same file exactly. */
  readonly repeatedRows: number
  readonly rejected: number
  readonly deadLetters: ReadonlyArray<DeadLetter>
}

const seqOf = (p: Position) => (p._tag === "File" ? p.line : p._tag === "Topic" ? Number(p.offset) : p.seq)

/** file → parse-score-row → score staging. The merge into `scores` happens after the run. */
export const importScoresPipeline = (file: string, stageRows: (rows: ReadonlyArray<StagedScore>) => Effect.Effect<void, WarehouseError>): Pipeline<never> =>
  ({
    name: "import-scores",
    description: "Reads item-level scores (CSV, JSONL, Parquet), validates them and lands them in `scores`",
    nodes: [
      source("read-scores", "eval.scores.import", readTable(file)),
      stage("eval.scores.import", parseScoreRow, "eval.scores"),
      sink<Score, never>("land-scores", "eval.scores", (batch) =>
        stageRows(batch.map((e) => ({ score: e.value, source: describePosition(e.position), seq: seqOf(e.position) }))).pipe(
          Effect.mapError((e) => new OperatorFailure({ operator: "land-scores", message: e.message }))
        ))
    ]
  })

const MAX_LISTED = 20

/**
 * `fleuve import-scores`. Strict by default: one bad row fails the import and nothing lands.
 * With keepGoing, valid rows land and each rejected row becomes a dead letter with its reason.
 */
export const importScores = (file: string, options: { readonly keepGoing: boolean; readonly run?: RunOptions }) =>
  // Recorded from the start: a rejected (strict) or failed import leaves a `failed` run saying why.
  Runs.record("import-scores", { file, keepGoing: options.keepGoing }, (runId) => importScoresAs(runId, file, options))

const importScoresAs = (runId: string, file: string, options: { readonly keepGoing: boolean; readonly run?: RunOptions }) =>
  Effect.gen(function*() {
    if (!existsSync(file) || !statSync(file).isFile()) {
      return yield* new ImportRejected({ file, rejected: 0, message: `${file}: no such file` })
    }
    if (!formatOf(file)) {
      return yield* new ImportRejected({ file, rejected: 0, message: `${file}: unknown format (expected .csv, .jsonl, .ndjson, .json or .parquet, optionally .gz)` })
    }
    const runtime = yield* PipelineRuntime
    const store = yield* ScoreStore.begin
    const report = yield* runtime.run(importScoresPipeline(file, store.stage), options.run)
    const conflicts = yield* store.conflicts
    const conflictLetters: Array<DeadLetter> = conflicts.map((c) => ({
      operator: "check-score-conflicts",
      reason: c.reason,
      field: "score",
      position: { _tag: "File", file, line: c.seq },
      record: JSON.stringify(c.record)
    }))
    const deadLetters = [...report.deadLetters, ...conflictLetters].sort((a, b) => seqOf(a.position) - seqOf(b.position))
    const rowsRead = report.stages.find((s) => s.name === "read-scores")?.out ?? 0
    // An empty file, a header alone or a file of NUL bytes used to "import 0 rows" with rc 0.
    if (rowsRead === 0 && !options.keepGoing) {
      yield* store.discard
      return yield* new ImportRejected({ file, rejected: 0, message: `${file}: no rows: the file holds no data rows (it is empty or has a header only); nothing was imported` })
    }
    if (!options.keepGoing && deadLetters.length > 0) {
      yield* store.discard
      const listed = deadLetters.slice(0, MAX_LISTED).map((d) => `  ${describeDeadLetter(d)}`)
      const more = deadLetters.length > MAX_LISTED ? `\n  … and ${deadLetters.length - MAX_LISTED} more` : ""
      return yield* new ImportRejected({
        file,
        rejected: deadLetters.length,
        message: `${file}: ${deadLetters.length} bad row(s); nothing was imported (use --keep-going to land the valid rows and keep the rest as dead letters):\n${listed.join("\n")}${more}`
      })
    }
    const warehouse = yield* Warehouse
    const counts = yield* warehouse.transaction(Effect.gen(function*() {
      yield* store.reject(conflicts.map((c) => c.seq))
      const merged = yield* store.merge(runId)
      yield* landDeadLetters(runId, deadLetters)
      yield* Runs.finish(runId, "succeeded", { ...merged, rejected: deadLetters.length, rowsRead })
      return merged
    })).pipe(Effect.ensuring(store.discard.pipe(Effect.ignore)))
    return {
      file,
      runId,
      rowsRead,
      landed: counts.newKeys,
      alreadyPresent: counts.existingKeys,
      repeatedRows: counts.repeatedRows,
      rejected: deadLetters.length,
      deadLetters
    } satisfies ImportSummary
  })
