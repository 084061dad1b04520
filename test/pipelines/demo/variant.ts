import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { repoRoot } from "../../helpers/paths.ts"
import { runCli, tempDir } from "../../helpers/warehouse.ts"

/**
 * Runs a variant of the demo study (studies/demo.yaml with its data paths made absolute, then
 * `change`d) through the real CLI in a fresh folder; returns the run and where it wrote.
 */
export const runDemoVariant = (name: string, change: (study: string) => string, timeoutMs = 590_000) => {
  const dir = tempDir(`fleuve-demo-${name}-`)
  const db = join(dir, "demo.duckdb")
  const out = join(dir, "out")
  const study = change(readFileSync(join(repoRoot, "studies/demo.yaml"), "utf8").replaceAll("../data/", `${join(repoRoot, "data")}/`))
  const file = join(dir, `${name}.yaml`)
  writeFileSync(file, study)
  return { study, db, out, run: runCli(["study", file, "--out", out, "--warehouse", db], { timeoutMs }) }
}
