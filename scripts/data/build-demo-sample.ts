/**
 * Writes fleuve's demo sample (corpus + QA sets + fact list) from the fact base, byte-identical
 * for a given seed. See scripts/data/demo-sample/build.ts for the design, docs/demo.md for why.
 *
 *   node --import tsx scripts/data/build-demo-sample.ts            write the files (seed 18)
 *   node --import tsx scripts/data/build-demo-sample.ts --check    exit 1 if a committed file differs
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { buildDemoSample, DEMO_SAMPLE_SEED } from "./demo-sample/build.ts"

const root = resolve(import.meta.dirname, "../..")
const args = process.argv.slice(2)
const check = args.includes("--check")
const seedAt = args.indexOf("--seed")
const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : DEMO_SAMPLE_SEED
if (!Number.isInteger(seed)) {
  process.stderr.write(`--seed must be an integer, got '${args[seedAt + 1]}'\n`)
  process.exit(2)
}
const sample = buildDemoSample(seed)
let stale = 0
for (const [path, content] of sample.files) {
  const target = join(root, path)
  if (check) {
    if (!existsSync(target) || readFileSync(target, "utf8") !== content) {
      process.stderr.write(`${path} differs from what the generator writes\n`)
      stale++
    }
    continue
  }
  mkdirSync(dirname(target), { recursive: true })
  writeFileSync(target, content)
  process.stderr.write(`${path}: ${content.trimEnd().split("\n").length} lines\n`)
}
process.exit(stale > 0 ? 1 : 0)
