import { Command } from "effect/cli"
import { ANALYSIS_TABLES } from "../../pipelines/names.ts"
import { lazyHandler } from "../lazy.ts"
import { analyzeFlags } from "../flags/analyze.ts"

export const analyzeCommand = Command.make("analyze", analyzeFlags, (args) => lazyHandler(() => import("../handlers/analyze.ts"), (h) => h.analyzeHandler(args))).pipe(
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
