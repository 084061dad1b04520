/** `fleuve analyze`: the analyses over `scores` (analysis/), and the rows a person reads first. */
import { Effect, Exit } from "effect"
import { type AnalysisOptions, runAnalyses } from "../analysis/analyses.ts"
import { Runs } from "../warehouse/runs.ts"
import { Warehouse } from "../warehouse/warehouse.ts"

/** Runs every analysis and returns its summary with the significance record's first rows. */
export const analyzeWarehouse = (options: AnalysisOptions, topRows = 5) =>
  Effect.gen(function*() {
    // runAnalyses records its run and finishes it when it succeeds; a failure (or Ctrl-C) ends
    // it failed (or interrupted) here rather than leaving it running.
    const summary = yield* runAnalyses(options).pipe(Effect.onExit((exit) => (Exit.isFailure(exit) ? Runs.settleOpen(exit) : Effect.void)))
    const w = yield* Warehouse
    const top = yield* w.query(`SELECT * FROM significance_record LIMIT ${topRows}`)
    return { summary, top }
  })
