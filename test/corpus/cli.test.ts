import assert from "node:assert/strict"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runCli, runWithWarehouse, tempDir } from "../helpers/warehouse.ts"
import { samplePath } from "./helpers.ts"

test("fleuve corpus --help teaches the options with examples", () => {
  const r = runCli(["corpus", "--help"])
  assert.equal(r.code, 0, r.stderr)
  for (const s of ["--out", "--tokenizer", "--config", "--sequence-length", "--full", "--compact", "manifest.json", "fleuve corpus data/corpus/sample.jsonl"]) assert.ok(r.stdout.includes(s), s)
})

test("fleuve corpus and fleuve run corpus process a corpus into Arrow shards; a re-run skips everything", async () => {
  const dir = tempDir()
  const input = join(dir, "small.jsonl")
  writeFileSync(input, readFileSync(samplePath, "utf8").split("\n").slice(0, 30).join("\n") + "\n")
  const warehouse = join(dir, "w.duckdb")
  const out = join(dir, "shards")
  const config = join(dir, "thresholds.json")
  writeFileSync(config, JSON.stringify({ quality: { minWords: 40 }, sequenceLength: 256 }))
  const first = runCli(["corpus", input, "--out", out, "--warehouse", warehouse, "--config", config])
  assert.equal(first.code, 0, first.stderr)
  assert.match(first.stdout, /30 documents seen, 30 \(re\)processed, 0 retired/)
  assert.match(first.stdout, /cleaned documents in .*-documents\.jsonl\.gz; .*manifest\.json: \d+ current documents/)
  assert.match(first.stdout, /^pii /m)
  assert.ok(readdirSync(out).some((f) => f.endsWith(".arrow")))
  const again = runCli(["run", "corpus", "--warehouse", warehouse, "--partitions", "1"], { env: { FLEUVE_CORPUS_INPUT: input, FLEUVE_CORPUS_OUT: out } })
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stdout, /corpus: done/)
  // The second run saw the same 30 documents unchanged: every row still names the first run.
  const [state] = await runWithWarehouse(warehouse, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ n: number; runs: number }>("SELECT count(*) AS n, count(DISTINCT last_run) AS runs FROM corpus_documents")
  }))
  assert.deepEqual(state, { n: 30, runs: 1 })
  const missing = runCli(["corpus", join(dir, "nope.jsonl"), "--warehouse", warehouse])
  assert.notEqual(missing.code, 0)
  assert.match(missing.stderr, /nope\.jsonl: no such file or folder/)
})

test("the default tokenizer (qwen3) is found from fleuve's own install, whatever the working directory", () => {
  const dir = tempDir()
  const r = runCli(["corpus", samplePath, "--out", join(dir, "shards"), "--warehouse", join(dir, "w.duckdb"), "--full"], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(readdirSync(join(dir, "shards")).some((f) => f.endsWith(".arrow")), "packed shards written")
})
