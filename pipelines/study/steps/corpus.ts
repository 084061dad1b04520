/** The corpus step: the corpus pipeline (clean, deduplicate, tokenize with the base's tokenizer, pack) into Arrow shards. */
import { Effect } from "effect"
import { mkdirSync, rmSync } from "node:fs"
import { buildCorpusRun, type CorpusOptions, readCorpusConfig } from "../../corpus.ts"
import type { CorpusConfig } from "../../corpus-config.ts"
import { PipelineRuntime } from "../../runtime/runtime.ts"
import type { PlannedStep } from "../plan.ts"
import { outputOf, type StepEnv, type StepSummary } from "./context.ts"

export const runCorpusStep = (step: PlannedStep, env: StepEnv) =>
  Effect.gen(function*() {
    const s = step.spec
    if (s.kind !== "corpus") return yield* Effect.die(new Error(`${step.id} is not a corpus step`))
    const shards = outputOf(step, env.outputs).shards!
    rmSync(shards, { recursive: true, force: true })
    mkdirSync(shards, { recursive: true })
    const config: CorpusConfig = s.configFile !== undefined ? yield* readCorpusConfig(s.configFile) : ((s.config ?? {}) as CorpusConfig)
    // The study's corpus is its own: not merged into the warehouse's incremental corpus state.
    const options: CorpusOptions = { ...config, sequenceLength: s.sequenceLength, input: s.input, outDir: shards, tokenizer: s.tokenizer, incremental: false }
    const run = yield* buildCorpusRun(options)
    const runtime = yield* PipelineRuntime
    const report = yield* runtime.run(run.pipeline, { partitions: 1, ...env.corpusRun }).pipe(run.settle)
    const summary: StepSummary = {
      detail: `kept ${run.ledger.processed.size} of ${run.ledger.seen.size} documents, ${run.writer.written.length} shard(s), ${report.deadLetters.length} dead letters`,
      documentsSeen: run.ledger.seen.size,
      documentsKept: run.ledger.processed.size,
      shards: run.writer.written.length,
      deadLetters: report.deadLetters.length,
      corpusRunId: run.runId
    }
    return summary
  })
