/**
 * fleuve side of bench/corpus: the full chain on one input, in this process, against a fresh
 * warehouse (incremental state included). Prints one JSON line; writes reached.json (documents
 * that reached dedup) and removed.json (documents dropped as duplicates) into WORKDIR.
 *
 *   npx tsx bench/corpus/fleuve-run.ts INPUT.jsonl WORKDIR TOKENIZER_JSON [--workers N]
 *
 * --workers N: the clean stage's stateless steps on N worker threads (RunOptions.workers; 1 = all
 * on the main thread). Each worker loads its own tokenizer.
 */
import { Effect, Layer } from "effect"
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { buildCorpusRun } from "../../pipelines/corpus.ts"
import { EmbeddedRuntime } from "../../pipelines/runtime/embedded.ts"
import { PipelineRuntime } from "../../pipelines/runtime/runtime.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"

const [input, workdir, tokenizerPath] = process.argv.slice(2) as [string, string, string]
// WORKDIR is emptied first: only when it is missing, empty or an earlier run's (its state.duckdb or
// shards are there). Arguments in the wrong order once made it the tokenizer file's path.
if (existsSync(workdir)) {
  const entries = statSync(workdir).isDirectory() ? readdirSync(workdir) : undefined
  if (entries === undefined || (entries.length > 0 && !entries.includes("state.duckdb") && !entries.includes("shards"))) {
    process.stderr.write(`fleuve-run: ${workdir} is not an earlier run's folder (no state.duckdb or shards): refusing to empty it\n`)
    process.exit(2)
  }
}
rmSync(workdir, { recursive: true, force: true })
mkdirSync(workdir, { recursive: true })
const workersAt = process.argv.indexOf("--workers")
const workers = workersAt > 0 ? Number(process.argv[workersAt + 1]) : 1
const t0 = performance.now()
// FLEUVE_BENCH_MEMORY=FILE: process.memoryUsage() every second as JSON lines (where the RSS goes:
// the JS heap, ArrayBuffers, or outside V8 — DuckDB, zlib).
const memoryLog = process.env.FLEUVE_BENCH_MEMORY
if (memoryLog) {
  writeFileSync(memoryLog, "")
  setInterval(() => {
    const m = process.memoryUsage()
    appendFileSync(memoryLog, JSON.stringify({ t: Math.round(performance.now() - t0), rss: m.rss >> 20, heapTotal: m.heapTotal >> 20, heapUsed: m.heapUsed >> 20, external: m.external >> 20, arrayBuffers: m.arrayBuffers >> 20 }) + "\n")
  }, 1000).unref()
}

const program = Effect.gen(function*() {
  const run = yield* buildCorpusRun({ input, outDir: join(workdir, "shards"), tokenizer: tokenizerPath, sequenceLength: 2048 })
  const runtime = yield* PipelineRuntime
  const report = yield* runtime.run(run.pipeline, { partitions: 1, workers })
  const seconds = (performance.now() - t0) / 1000
  // CPU and peak RSS of the run itself, before the scoring's queries below.
  const usage = process.resourceUsage()
  // What the run still holds at its end (its per-document state), after a full collection when
  // node runs with --expose-gc: peak RSS also counts garbage V8 had not yet collected.
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const heapMb = gc ? process.memoryUsage().heapUsed / 2 ** 20 : undefined
  // The run's decisions as it saved them (the ledger holds none at the end: they were staged to a
  // file as they were taken), read after the timed part, as the scoring needs them.
  const w = yield* Warehouse
  const ids = (where: string) => w.query<{ doc_id: string }>(`SELECT doc_id FROM corpus_documents WHERE ${where} ORDER BY doc_id`).pipe(Effect.map((rows) => rows.map((r) => r.doc_id)))
  const counts = {
    reached: yield* ids("status IN ('kept', 'duplicate')"),
    removed: yield* ids("status = 'duplicate'"),
    removedNear: yield* ids("reason = 'near duplicate'"),
    kept: (yield* w.query<{ n: number }>("SELECT count(*)::INTEGER AS n FROM corpus_documents WHERE status = 'kept'"))[0]!.n
  }
  return { run, report, seconds, usage, heapMb, counts }
})
const { run, report, seconds, usage, heapMb, counts } = await Effect.runPromise(
  program.pipe(Effect.provide(Layer.mergeAll(Warehouse.layer(join(workdir, "state.duckdb")), EmbeddedRuntime))) as Effect.Effect<any, never, never>
) as any
writeFileSync(join(workdir, "reached.json"), JSON.stringify(counts.reached))
writeFileSync(join(workdir, "removed.json"), JSON.stringify(counts.removed))
writeFileSync(join(workdir, "removed-near.json"), JSON.stringify(counts.removedNear))
console.log(JSON.stringify({
  seconds,
  workers,
  pipelineSeconds: report.elapsedMs / 1000,
  cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
  peakRssMb: usage.maxRSS / 1024,
  peakRssWithScoringMb: process.resourceUsage().maxRSS / 1024,
  ...(heapMb !== undefined ? { heapAfterGcMb: heapMb } : {}),
  inputBytes: statSync(input).size,
  docs: run.ledger.seen.size,
  reached: counts.reached.length,
  removed: counts.removed.length,
  kept: counts.kept,
  sequences: run.tallies.find((t: { name: string }) => t.name === "pack").counters.get("sequences") ?? 0
}))
