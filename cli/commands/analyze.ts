import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { ANALYSIS_TABLES, runAnalyses } from "../../warehouse/analyses.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { formatRows } from "../format.ts"
import { reportFailure } from "../common.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

export const analyzeCommand = Command.make(
  "analyze",
  {
    warehouse: warehouseFlag,
    reference: Flag.String("reference").pipe(
      Flag.withDescription("System every candidate is compared with in paired tests (e.g. Qwen3-14B-vanilla)")
    ),
    alpha: Flag.Finite("alpha").pipe(Flag.withDescription("Significance level for wins/losses and the Nemenyi critical difference"), Flag.withDefault(0.05)),
    family: Flag.Literals("family", ["system", "all"]).pipe(
      Flag.withDescription("BH/Bonferroni family: 'system' = one candidate's cells (default), 'all' = every candidate × cell (per test)"),
      Flag.withDefault("system")
    ),
    seed: Flag.Int("seed").pipe(Flag.withDescription("Seed of the paired bootstrap (same seed, same intervals)"), Flag.withDefault(0)),
    metric: Flag.KeyValuePair("metric").pipe(
      Flag.withDescription("TASK=METRIC: analyse TASK on METRIC (default per task: acc, else f1, else judge, else score, else the first by name)"),
      Flag.optional
    )
  },
  ({ warehouse, reference, alpha, family, seed, metric }) =>
    Effect.gen(function*() {
      const started = Date.now()
      const summary = yield* runAnalyses({
        reference,
        alpha,
        family,
        seed,
        metrics: Option.getOrElse(metric, () => ({})),
        onStep: (s) => process.stderr.write(`analyze: ${s} (${((Date.now() - started) / 1000).toFixed(1)}s)\n`)
      })
      const w = yield* Warehouse
      yield* Console.log(`analyzed ${warehouse} against ${summary.reference} in ${((Date.now() - started) / 1000).toFixed(1)}s`)
      yield* Console.log(`metrics: ${summary.metrics.map((m) => `${m.task}=${m.metric}`).join(", ")}`)
      if (summary.cellsWithoutReference.length > 0) {
        yield* Console.log(`no paired tests in cells without ${summary.reference}: ${summary.cellsWithoutReference.join(", ")}`)
      }
      yield* Console.log(`tables: ${ANALYSIS_TABLES.map((t) => `${t} (${summary.rowCounts[t]})`).join(", ")}`)
      const top = yield* w.query("SELECT * FROM significance_record LIMIT 5")
      yield* Console.log(`\nsignificance record vs ${summary.reference} (α = ${alpha}, ${family === "all" ? "one BH family for all" : "one BH family per system"}), top ${top.length}:`)
      yield* Console.log(formatRows(top, "table"))
    }).pipe(
      Effect.provide(Warehouse.layer(warehouse)),
      Effect.catchTags({ AnalysisError: reportFailure, WarehouseError: reportFailure })
    )
).pipe(
  Command.withDescription(
    "Significance and ranking analyses over the item-level scores: writes (replacing) the tables " +
      `${ANALYSIS_TABLES.join(", ")}. Paired t, Wilcoxon, exact McNemar and bootstrap tests against --reference with ` +
      "BH/Bonferroni adjustment; normalized scores, global ranking, Friedman/Iman–Davenport and the Nemenyi CD. See docs/analyses.md."
  ),
  Command.withExamples([
    { command: "fleuve analyze --reference Qwen3-14B-vanilla", description: "All analyses against the vanilla model" },
    { command: "fleuve analyze --reference Qwen3-14B-vanilla --family all --alpha 0.01", description: "One BH family over every candidate × cell" },
    { command: "fleuve query \"SELECT * FROM paired_tests WHERE test = 't' AND p_bh < 0.05\"", description: "Then read the tables with SQL" }
  ])
)
