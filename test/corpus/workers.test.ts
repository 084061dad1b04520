import assert from "node:assert/strict"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync } from "node:zlib"
import { test } from "node:test"
import { Effect } from "effect"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"
import { runCorpus, samplePath } from "./helpers.ts"

/** Everything a run decides, minus what names the run (ids, times). */
const stateOf = (warehouse: string) =>
  runWithWarehouse(warehouse, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<Record<string, unknown>>(
      "SELECT doc_id, content_hash, source, status, reason, duplicate_of, lang, lang_score, tokens, lsh_bands, retired FROM corpus_documents ORDER BY doc_id"
    )
  }))

const shardBytes = (files: ReadonlyArray<string>) => files.map((f) => readFileSync(f))

// The sample corpus plus lines the reader and the chain must turn into dead letters, so the
// comparison covers rejects as well as kept, dropped and duplicate documents.
const input = () => {
  const path = join(tempDir(), "corpus.jsonl")
  const lines = readFileSync(samplePath, "utf8").trimEnd().split("\n")
  lines.splice(7, 0, "{not json", JSON.stringify({ id: "no-text", body: "x" }), JSON.stringify({ id: "empty", text: " \u200b " }))
  writeFileSync(path, lines.join("\n") + "\n")
  return path
}

test("corpus on worker threads: shards, corpus_documents rows, tallies and dead letters equal the one-thread run's", async () => {
  const path = input()
  const oneWarehouse = tempWarehousePath()
  const one = await runCorpus(oneWarehouse, { input: path }, { workers: 1, tokenizerFromFile: true })
  const twoWarehouse = tempWarehousePath()
  const two = await runCorpus(twoWarehouse, { input: path }, { workers: 2, tokenizerFromFile: true })
  assert.ok(one.rows.length > 400)
  // Every readable document's stateless steps ran on a worker (the two unreadable lines have none).
  assert.equal(one.report.offloaded, undefined)
  assert.equal(two.report.offloaded?.clean, readFileSync(path, "utf8").trimEnd().split("\n").length - 2)
  assert.deepEqual(two.rows.map(({ last_run: _l, ...r }) => r), one.rows.map(({ last_run: _l, ...r }) => r))
  assert.deepEqual(await stateOf(twoWarehouse), await stateOf(oneWarehouse))
  assert.deepEqual(two.run.tallies.map((t) => t.snapshot()), one.run.tallies.map((t) => t.snapshot()))
  assert.deepEqual(two.deadLetters.map((d) => d.reason).sort(), one.deadLetters.map((d) => d.reason).sort())
  assert.equal(one.deadLetters.length, 2)
  // The cleaned documents (with their PII counts and quality measures) are the same too.
  const documents = (r: typeof one) => gunzipSync(readFileSync(r.run.outcome.documentsFile!)).toString("utf8")
  assert.ok(documents(one).length > 0)
  assert.equal(documents(two), documents(one))
  const shards = shardBytes(one.run.writer.written)
  assert.ok(shards.length > 0)
  assert.deepEqual(shardBytes(two.run.writer.written), shards)

  // Incremental with workers: the unchanged documents stop in the workers and are skipped.
  const again = await runCorpus(twoWarehouse, { input: path }, { workers: 2, tokenizerFromFile: true })
  assert.equal(again.run.ledger.processed.size, 0)
  assert.deepEqual(await stateOf(twoWarehouse), await stateOf(oneWarehouse))
})
