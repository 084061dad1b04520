import { Flag } from "effect/cli"
import { type ArgsOf } from "../lazy.ts"
import { warehouseFlag } from "./warehouse.ts"
import { withDefaultSaid } from "./defaults.ts"

export const analyzeFlags = {
  warehouse: warehouseFlag,
  reference: Flag.String("reference").pipe(
    Flag.withDescription("System every candidate is compared with in paired tests (e.g. Qwen3-14B-vanilla) (required)")
  ),
  alpha: Flag.Finite("alpha").pipe(Flag.withDescription(withDefaultSaid("Significance level for wins/losses and the Nemenyi critical difference", 0.05)), Flag.withDefault(0.05)),
  family: Flag.Literals("family", ["system", "all"]).pipe(
    Flag.withDescription(withDefaultSaid("BH/Bonferroni family: 'system' = one candidate's cells (default), 'all' = every candidate × cell (per test)", "system")),
    Flag.withDefault("system")
  ),
  seed: Flag.Int("seed").pipe(Flag.withDescription(withDefaultSaid("Seed of the paired bootstrap (same seed, same intervals)", 0)), Flag.withDefault(0)),
  metric: Flag.KeyValuePair("metric").pipe(
    Flag.withDescription("TASK=METRIC: analyse TASK on METRIC (default per task: acc, else f1, else judge, else score, else the first by name)"),
    Flag.optional
  )
}
export type AnalyzeArgs = ArgsOf<typeof analyzeFlags>
