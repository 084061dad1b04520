import { Console, Effect, Option } from "effect"
import { resolve } from "node:path"
import { reportAnyFailure, reportFailure } from "../common.ts"
import { withWarehouse } from "../../pipelines/services.ts"
import { withMaxRecordBytes } from "../../pipelines/record-limit.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"
import { progressReporter } from "../progress.ts"
import type { DemoArgs } from "../flags/demo.ts"
import { interruptions, renderResults, trainingProgress } from "./study.ts"

const stderr = (line: string) => process.stderr.write(`${line}\n`)

export const demoHandler = (o: DemoArgs) =>
  Effect.gen(function*() {
    const started = performance.now()
    if (Option.isSome(o.limit) && o.limit.value < 1) return yield* reportFailure({ message: `--limit must be at least 1, got ${o.limit.value}` })
    // The tensor runtime loads only here: every other command stays light.
    const { runDemo } = yield* Effect.promise(() => import("../../pipelines/demo/demo.ts"))
    const out = resolve(o.out)
    const stop = interruptions(stderr)
    const outcome = yield* runDemo(
      { quick: o.quick, limit: Option.getOrUndefined(o.limit), model: Option.getOrUndefined(o.model) },
      {
        out,
        backend: o.backend,
        engine: Option.getOrUndefined(o.engine),
        log: (line) => stderr(`[${((performance.now() - started) / 1000).toFixed(0)}s] demo: ${line}`),
        onTrainingStep: trainingProgress(),
        signal: stop.signal,
        corpusRun: { onProgress: progressReporter() }
      }
    ).pipe(Effect.ensuring(Effect.sync(stop.dispose)))
    if (outcome.results.length > 0) stderr(`demo: the study's steps:\n${renderResults(outcome.results)}`)
    stderr(`demo: AbsQA judged by the offline reference judge (token F1 against the reference answer, no LLM)`)
    stderr(`demo: finished in ${((performance.now() - started) / 1000).toFixed(1)}s`)
    stderr(`demo: the warehouse is ${resolve(o.warehouse)}; a first query to try:`)
    stderr(`  fleuve query --warehouse ${o.warehouse} "SELECT system, task, shots, metric, round(avg(score), 3) AS mean, count(*) AS n FROM scores GROUP BY ALL ORDER BY task, shots, metric, mean DESC"`)
    stderr(`demo: the same protocol as a file you can edit: fleuve study studies/demo.yaml (docs/study.md)`)
    yield* Console.log(resolve(out, "report.html"))
  }).pipe(
    withMaxRecordBytes(maxRecordBytesOf(o.maxRecordBytes)),
    Effect.provide(withWarehouse(o.warehouse)),
    Effect.catch(reportAnyFailure)
  )
