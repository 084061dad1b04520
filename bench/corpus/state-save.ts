/**
 * The corpus state save alone (CorpusState.saveStaged), on N synthetic rows (a quarter of them
 * duplicates), into a fresh warehouse: its time and how much it adds to the process's RSS
 * (sampled every 20 ms). --again saves the same rows a second time, replacing every row.
 *
 *   npx tsx bench/corpus/state-save.ts [--rows 1100000] [--again]
 */
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CorpusState, type StagedDecisions } from "../../warehouse/corpus-state.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"

const at = process.argv.indexOf("--rows")
const n = at > 0 ? Number(process.argv[at + 1]) : 1_100_000
const dir = mkdtempSync(join(tmpdir(), "fleuve-state-save-"))
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20)
let peak = 0
const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 20)
const id = (i: number) => `gen-${String(i).padStart(8, "0")}`

const saveOnce = (runId: string, staged: StagedDecisions) =>
  Effect.gen(function*() {
    const before = rssMb()
    peak = before
    const started = performance.now()
    yield* CorpusState.saveStaged(runId, staged, [])
    return { run: runId, rows: n, seconds: Number(((performance.now() - started) / 1000).toFixed(2)), rssBeforeMb: before, rssAddedMb: peak - before }
  })

const program = Effect.acquireUseRelease(CorpusState.stage, (staged) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      const kept = i % 4 !== 0
      staged.put(i, {
        docId: id(i),
        contentHash: ((i * 2654435761) >>> 0).toString(16).padStart(8, "0").repeat(8),
        source: `corpus.jsonl:${i + 1}`,
        status: kept ? "kept" : "duplicate",
        lang: "fr",
        langScore: 0.9 + (i % 100) / 1000,
        ...(kept
          ? { tokens: 800 + (i % 500), bands: Array.from({ length: 14 }, (_, b) => ((i * 14 + b) * 40503).toString(36)) }
          : { reason: "near duplicate", duplicateOf: id(i - 1), similarity: 0.9 })
      })
    }
    console.log(JSON.stringify(yield* saveOnce("run-1", staged)))
    if (process.argv.includes("--again")) console.log(JSON.stringify(yield* saveOnce("run-2", staged)))
  }), (staged) => Effect.sync(() => staged.remove()))

await Effect.runPromise(program.pipe(Effect.provide(Warehouse.layer(join(dir, "state.duckdb")))) as Effect.Effect<void>)
clearInterval(sampler)
rmSync(dir, { recursive: true, force: true })
