/** `fleuve analyze`: the analyses over `scores` (analysis/), and the rows a person reads first. */
import { Effect } from "effect"
import { type AnalysisOptions, runAnalyses } from "../analysis/analyses.ts"
import { Warehouse } from "../warehouse/warehouse.ts"

export { ANALYSIS_TABLES } from "../analysis/analyses.ts"

/** Runs every analysis and returns its summary with the significance record's first rows. */
export const analyzeWarehouse = (options: AnalysisOptions, topRows = 5) =>
  Effect.gen(function*() {
    const summary = yield* runAnalyses(options)
    const w = yield* Warehouse
    const top = yield* w.query(`SELECT * FROM significance_record LIMIT ${topRows}`)
    return { summary, top }
  })
