/**
 * Writes fleuve's demo sample (corpus + QA sets + fact list) from the fact base, byte-identical
 * for a given seed. See scripts/data/demo-sample/build.ts for the design, docs/demo.md for why.
 *
 *   node --import tsx scripts/data/build-demo-sample.ts            write the files (seed 18)
 *   node --import tsx scripts/data/build-demo-sample.ts --check    exit 1 if a committed file differs
 *   node --import tsx scripts/data/build-demo-sample.ts --sizes enmed --out data/enmed-sized
 *       the same generator at the EnMed card's test sizes (MCQA 622, ExtQA 207, AbsQA 248, with
 *       training pools), written under --out (git-ignored: about 2.6 MB, rebuilt in a second) with
 *       its manifest, --out/qa/manifest.json; the GPU host's study run builds it there
 *       (bench/gpu/run-study.sh)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { buildDemoSample, DEMO_SAMPLE_SEED, SAMPLE_PATHS, SAMPLE_SIZES } from "./demo-sample/build.ts"

const root = resolve(import.meta.dirname, "../..")
const args = process.argv.slice(2)
const check = args.includes("--check")
const valueOf = (flag: string): string | undefined => {
  const at = args.indexOf(flag)
  if (at < 0) return undefined
  const v = args[at + 1]
  if (v === undefined || v.startsWith("--")) {
    process.stderr.write(`${flag} needs a value\n`)
    process.exit(2)
  }
  return v
}
const seedArg = valueOf("--seed")
const seed = seedArg !== undefined ? Number(seedArg) : DEMO_SAMPLE_SEED
if (!Number.isInteger(seed)) {
  process.stderr.write(`--seed must be an integer, got '${seedArg}'\n`)
  process.exit(2)
}
const sizesName = valueOf("--sizes") ?? "demo"
const sizes = SAMPLE_SIZES.find((s) => s.name === sizesName)
if (!sizes) {
  process.stderr.write(`--sizes ${sizesName}: expected one of ${SAMPLE_SIZES.map((s) => s.name).join(", ")}\n`)
  process.exit(2)
}
const out = valueOf("--out")
if (sizes.name !== "demo" && out === undefined) {
  process.stderr.write(`--sizes ${sizes.name} needs --out DIR (only the demo sizes are committed under data/)\n`)
  process.exit(2)
}
if (out !== undefined && check) {
  process.stderr.write("--check compares the committed demo sample; it takes no --out\n")
  process.exit(2)
}
const sample = buildDemoSample(seed, sizes)
// Under --out, data/X becomes OUT/X, and the QA sets get their manifest (as data/qa/enmed-sample.json).
const files = new Map([...sample.files].map(([path, content]) => [out === undefined ? path : join(out, path.replace(/^data\//, "")), content]))
if (out !== undefined) {
  const rel = (p: string) => p.replace(/^data\/qa\//, "")
  const manifest = {
    name: `enmed-sample-${sizes.name}-sizes`,
    description: `fleuve's EnMed-shaped QA sets at the '${sizes.name}' sizes (invented facts, French; scripts/data/build-demo-sample.ts --sizes ${sizes.name} --seed ${seed})`,
    tasks: {
      mcqa: { format: "frenchmedmcqa", test: rel(SAMPLE_PATHS.mcqaTest), train: rel(SAMPLE_PATHS.mcqaTrain) },
      extqa: { format: "squad", test: rel(SAMPLE_PATHS.extqaTest), train: rel(SAMPLE_PATHS.extqaTrain) },
      absqa: { format: "mediqal-oeq", test: rel(SAMPLE_PATHS.absqaTest), train: rel(SAMPLE_PATHS.absqaTrain) }
    }
  }
  files.set(join(out, "qa", "manifest.json"), JSON.stringify(manifest, null, 2) + "\n")
}
let stale = 0
for (const [path, content] of files) {
  const target = isAbsolute(path) ? path : join(root, path)
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
