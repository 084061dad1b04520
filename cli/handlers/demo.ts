import { Console, Effect, Option } from "effect"
import { mkdirSync } from "node:fs"
import { resolve } from "node:path"
import { runDemo } from "../../pipelines/demo/plan.ts"
import { reportAnyFailure, reportFailure } from "../common.ts"
import { withWarehouse } from "../../pipelines/services.ts"
import { progressReporter } from "../progress.ts"
import type { DemoArgs } from "../flags/demo.ts"

const stderr = (line: string) => process.stderr.write(`${line}\n`)

export const demoHandler = (o: DemoArgs) =>
  Effect.gen(function*() {
    const started = performance.now()
    // The tensor runtime loads only here: every other command stays light.
    const { demoInputs, demoSizes, demoSteps, describeBackend, onScoringPath, selectBackend, setScoringEngine } = yield* Effect.promise(() => import("../../pipelines/demo/demo.ts"))
    const choice = yield* Effect.tryPromise({
      try: () => selectBackend(o.backend, "training"),
      catch: (e) => ({ message: e instanceof Error ? e.message : String(e) })
    })
    stderr(`demo: ${describeBackend(choice)}`)
    // Which path scores the options, printed when it changes (the tiny models do not fit the engine).
    setScoringEngine(Option.getOrUndefined(o.engine))
    onScoringPath((line) => stderr(`demo: ${line}`))
    if (Option.isSome(o.limit) && o.limit.value < 1) return yield* reportFailure({ message: `--limit must be at least 1, got ${o.limit.value}` })
    const sizes = Option.isSome(o.limit) ? { ...demoSizes(o.quick), itemsPerTask: o.limit.value } : demoSizes(o.quick)
    const out = resolve(o.out)
    mkdirSync(out, { recursive: true })
    const inputs = yield* demoInputs(sizes)
    const at = () => `[${((performance.now() - started) / 1000).toFixed(0)}s]`
    let lastStep = 0
    const steps = demoSteps({
      outDir: out,
      sizes,
      ...(Option.isSome(o.model) ? { modelDir: o.model.value } : {}),
      log: (line) => stderr(`${at()} ${line}`),
      // One line every few optimizer steps: enough to see it move without flooding the terminal.
      onStep: (label) => (r) => {
        const now = performance.now()
        if (r.step === r.totalSteps || r.step === 1 || now - lastStep > 5000) {
          lastStep = now
          stderr(`${label}: step ${r.step}/${r.totalSteps}  loss ${r.loss.toFixed(4)}  ${r.tokensPerSecond.toFixed(0)} tokens/s`)
        }
      },
      corpusRun: { onProgress: progressReporter() }
    })
    const report = yield* runDemo(steps, {
      prompts: inputs.prompts,
      tasks: inputs.tasks,
      source: inputs.source,
      judge: inputs.judge,
      shots: sizes.shots,
      log: (line) => stderr(`${at()} demo: ${/^\d\/6 /.test(line) ? "step " : ""}${line}`)
    })
    stderr(`demo: AbsQA judged by ${inputs.judge.id} (offline reference judge: token F1 against the reference answer, no LLM)`)
    stderr(`demo: finished in ${((performance.now() - started) / 1000).toFixed(1)}s`)
    stderr(`demo: the warehouse is ${resolve(o.warehouse)}; a first query to try:`)
    stderr(`  fleuve query --warehouse ${o.warehouse} "SELECT system, task, shots, metric, round(avg(score), 3) AS mean, count(*) AS n FROM scores GROUP BY ALL ORDER BY task, shots, metric, mean DESC"`)
    yield* Console.log(report)
  }).pipe(
    Effect.provide(withWarehouse(o.warehouse)),
    Effect.catch(reportAnyFailure)
  )
