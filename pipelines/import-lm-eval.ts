import { Effect } from "effect"
import { existsSync } from "node:fs"
import { describeDeadLetter, OperatorFailure } from "../operators/operator.ts"
import { type LmEvalImport, parseLmEvalSample } from "../operators/qa/lm-eval/parse-sample.ts"
import { readJsonl } from "../operators/readers/jsonl.ts"
import { describePosition } from "../schemas/common.ts"
import type { Score } from "../schemas/evaluation.ts"
import { landDeadLetters } from "../warehouse/dead-letters.ts"
import { Runs } from "../warehouse/runs.ts"
import { Systems } from "../warehouse/systems.ts"
import { ScoreStore } from "../warehouse/score-store.ts"
import { Warehouse } from "../warehouse/warehouse.ts"
import { sink, source, stage } from "./runtime/graph.ts"
import { ImportRejected } from "./import-scores.ts"
import { PipelineRuntime, type RunOptions } from "./runtime/runtime.ts"

export { describeDeadLetter } from "../operators/operator.ts"
export { taskFromFileName } from "../operators/qa/lm-eval/parse-sample.ts"

/**
 * `fleuve import-lm-eval`: lands an lm-evaluation-harness `--log_samples` file as one system's
 * item-level scores, so runs made elsewhere sit next to fleuve's own in every analysis.
 * Strict like import-scores: one bad line fails the import unless keepGoing.
 */
export const importLmEval = (file: string, options: LmEvalImport & { readonly keepGoing: boolean; readonly run?: RunOptions }) =>
  // Recorded from the start: a rejected (strict) or failed import leaves a `failed` run saying why.
  Runs.record("import-lm-eval", { file, ...options, run: undefined }, (runId) => importLmEvalAs(runId, file, options))

const importLmEvalAs = (runId: string, file: string, options: LmEvalImport & { readonly keepGoing: boolean; readonly run?: RunOptions }) =>
  Effect.gen(function*() {
    if (!existsSync(file)) return yield* new ImportRejected({ file, rejected: 0, message: `${file}: no such file` })
    const runtime = yield* PipelineRuntime
    const store = yield* ScoreStore.begin
    const report = yield* runtime.run({
      name: "import-lm-eval",
      description: "lm-evaluation-harness --log_samples JSONL → item-level scores of one system",
      nodes: [
        source("read-samples", "lmeval.samples", readJsonl(file)),
        stage("lmeval.samples", parseLmEvalSample(options), "lmeval.scores"),
        sink<Score, Warehouse>("land-scores", "lmeval.scores", (batch) =>
          store.stage(batch.map((e) => ({ score: e.value, source: describePosition(e.position), seq: e.position._tag === "File" ? e.position.line : 0 }))).pipe(
            Effect.mapError((e) => new OperatorFailure({ operator: "land-scores", message: e.message }))
          ))
      ]
    }, options.run)
    const conflicts = yield* store.conflicts
    const dead = [
      ...report.deadLetters,
      ...conflicts.map((c) => ({ operator: "check-score-conflicts", reason: c.reason, field: "score", position: { _tag: "File" as const, file, line: c.seq }, record: JSON.stringify(c.record) }))
    ]
    if (!options.keepGoing && dead.length > 0) {
      yield* store.discard
      return yield* new ImportRejected({
        file,
        rejected: dead.length,
        message: `${file}: ${dead.length} bad line(s); nothing was imported (use --keep-going to land the rest):\n${dead.slice(0, 20).map((d) => `  ${describeDeadLetter(d)}`).join("\n")}`
      })
    }
    const w = yield* Warehouse
    const counts = yield* w.transaction(Effect.gen(function*() {
      yield* Systems.ensure(options.system, `imported from lm-evaluation-harness samples (${file})`)
      yield* store.reject(conflicts.map((c) => c.seq))
      const merged = yield* store.merge(runId)
      yield* landDeadLetters(runId, dead)
      yield* Runs.finish(runId, "succeeded", { ...merged, rejected: dead.length })
      return merged
    })).pipe(Effect.ensuring(store.discard.pipe(Effect.ignore)))
    const lines = report.stages.find((s) => s.name === "read-samples")?.out ?? 0
    return { runId, lines, landed: counts.newKeys, alreadyPresent: counts.existingKeys, rejected: dead.length, deadLetters: dead }
  })
