import { Command, Flag } from "effect/cli"
import { ANALYSIS_TABLES } from "../../analysis/analysis-tables.ts"
import { type ArgsOf, lazyHandler } from "../lazy.ts"
import { warehouseFlag } from "../warehouse-flag.ts"

const config = {
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
}
export type AnalyzeArgs = ArgsOf<typeof config>

export const analyzeCommand = Command.make("analyze", config, (args) => lazyHandler(() => import("../handlers/analyze.ts"), (h) => h.analyzeHandler(args))).pipe(
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
