import { Console, Effect, Option } from "effect"
import { analyzeWarehouse } from "../../pipelines/analyze.ts"
import { ANALYSIS_TABLES } from "../../pipelines/names.ts"
import { warehouseAt } from "../../pipelines/services.ts"
import type { AnalyzeArgs } from "../flags/analyze.ts"
import { reportFailure } from "../common.ts"
import { formatRows } from "../format.ts"

export const analyzeHandler = ({ warehouse, reference, alpha, family, seed, metric }: AnalyzeArgs) =>
  Effect.gen(function*() {
    const started = Date.now()
    const { summary, top } = yield* analyzeWarehouse({
      reference,
      alpha,
      family,
      seed,
      metrics: Option.getOrElse(metric, () => ({})),
      onStep: (s) => process.stderr.write(`analyze: ${s} (${((Date.now() - started) / 1000).toFixed(1)}s)\n`)
    })
    for (const warning of summary.warnings) process.stderr.write(`analyze: warning: ${warning}\n`)
    yield* Console.log(`analyzed ${warehouse} against ${summary.reference} in ${((Date.now() - started) / 1000).toFixed(1)}s`)
    yield* Console.log(`metrics: ${summary.metrics.map((m) => `${m.task}=${m.metric}`).join(", ")}`)
    if (summary.cellsWithoutReference.length > 0) {
      yield* Console.log(`no paired tests in cells without ${summary.reference}: ${summary.cellsWithoutReference.join(", ")}`)
    }
    yield* Console.log(`tables: ${ANALYSIS_TABLES.map((t) => `${t} (${summary.rowCounts[t]})`).join(", ")}`)
    yield* Console.log(`\nsignificance record vs ${summary.reference} (α = ${alpha}, ${family === "all" ? "one BH family for all" : "one BH family per system"}), top ${top.length}:`)
    yield* Console.log(formatRows(top, "table"))
  }).pipe(
    // Analyses need scores: a mistyped --warehouse is an error, not a new empty file.
    Effect.provide(warehouseAt(warehouse, { mustExist: true })),
    Effect.catchTags({ AnalysisError: reportFailure, WarehouseError: reportFailure })
  )
