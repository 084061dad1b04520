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
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs"
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

const program = Effect.gen(function*() {
  const run = yield* buildCorpusRun({ input, outDir: join(workdir, "shards"), tokenizer: tokenizerPath, sequenceLength: 2048 })
  const runtime = yield* PipelineRuntime
  const report = yield* runtime.run(run.pipeline, { partitions: 1, workers })
  return { run, report }
})
const { run, report } = await Effect.runPromise(
  program.pipe(Effect.provide(Layer.mergeAll(Warehouse.layer(join(workdir, "state.duckdb")), EmbeddedRuntime))) as Effect.Effect<{ run: Awaited<ReturnType<typeof Effect.runPromise<any, any>>>; report: any }, never, never>
) as any
const seconds = (performance.now() - t0) / 1000
const decisions = run.ledger.all() as Array<{ docId: string; status: string; reason?: string }>
const reached = decisions.filter((d) => d.status === "kept" || d.status === "duplicate").map((d) => d.docId)
const removed = decisions.filter((d) => d.status === "duplicate").map((d) => d.docId)
const removedNear = decisions.filter((d) => d.reason === "near duplicate").map((d) => d.docId)
writeFileSync(join(workdir, "reached.json"), JSON.stringify(reached))
writeFileSync(join(workdir, "removed.json"), JSON.stringify(removed))
writeFileSync(join(workdir, "removed-near.json"), JSON.stringify(removedNear))
const usage = process.resourceUsage()
// What the run still holds at its end (its per-document state), after a full collection when
// node runs with --expose-gc: peak RSS also counts garbage V8 had not yet collected.
const gc = (globalThis as { gc?: () => void }).gc
gc?.()
const heapMb = process.memoryUsage().heapUsed / 2 ** 20
console.log(JSON.stringify({
  seconds,
  workers,
  pipelineSeconds: report.elapsedMs / 1000,
  cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
  peakRssMb: usage.maxRSS / 1024,
  ...(gc ? { heapAfterGcMb: heapMb } : {}),
  inputBytes: statSync(input).size,
  docs: run.ledger.seen.size,
  reached: reached.length,
  removed: removed.length,
  kept: decisions.filter((d) => d.status === "kept").length,
  sequences: run.tallies.find((t: { name: string }) => t.name === "pack").counters.get("sequences") ?? 0
}))
