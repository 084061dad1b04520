import assert from "node:assert/strict"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { scoreNearDuplicates } from "../../bench/corpus/manifest.ts"
import { readArrowShard } from "../../operators/writers/arrow-shards.ts"
import { tempDir, tempWarehousePath } from "../helpers/warehouse.ts"
import { qwen3, runCorpus, sampleManifest, samplePath } from "./helpers.ts"

test("the full chain on the sample corpus drops exactly what was planted", async () => {
  const manifest = await sampleManifest()
  const { run, rows, report } = await runCorpus(tempWarehousePath(), { input: samplePath })
  assert.equal(rows.length, manifest.size)
  const byId = new Map(rows.map((r) => [r.doc_id, r]))
  for (const e of manifest.values()) {
    const r = byId.get(e.id)!
    if (e.kind === "original") assert.equal(r.status, "kept", `${e.id} (${e.genre}) was dropped: ${r.reason}`)
    if (e.kind === "foreign") {
      assert.equal(r.reason, `language ${e.lang}`, e.id)
      // Dropped by language id, yet labelled: the rows to read when tuning the threshold.
      assert.equal(r.lang, e.lang, e.id)
      assert.ok(typeof r.lang_score === "number" && r.lang_score > 0, `${e.id} lang_score ${r.lang_score}`)
    }
    if (r.status === "kept") assert.ok(r.lang === "fr" && typeof r.lang_score === "number", e.id)
    if (e.kind === "junk") assert.equal(r.status, "dropped", `${e.id} (${e.junk}) survived`)
    if (e.kind === "exact-duplicate") assert.deepEqual([r.status, r.reason, r.duplicate_of, r.similarity], ["duplicate", "exact duplicate", e.duplicateOf, 1], e.id)
  }
  // Near duplicates: every removal names the original it copies; recall is measured, not perfect.
  const removed = rows.filter((r) => r.reason === "near duplicate")
  for (const r of removed) {
    assert.equal(manifest.get(r.doc_id)!.duplicateOf, r.duplicate_of, r.doc_id)
    // LSH band estimate of the Jaccard similarity: a near duplicate shares at least one band.
    assert.ok(typeof r.similarity === "number" && r.similarity > 0 && r.similarity <= 1, `${r.doc_id} similarity ${r.similarity}`)
  }
  assert.ok(rows.filter((r) => r.status !== "duplicate").every((r) => r.similarity === null))
  const pr = scoreNearDuplicates(manifest, removed.map((r) => r.doc_id), () => true)
  assert.equal(pr.precision, 1)
  assert.ok(pr.recall >= 0.85, `near-duplicate recall ${pr.recall}`)
  assert.equal(report.deadLetters.length, 0)
  const tallies = Object.fromEntries(run.tallies.map((t) => [t.name, t.snapshot()]))
  assert.equal(tallies["near-dedup"]!.dropped, removed.length)
  assert.ok(tallies.normalise!.counters["mojibake-repairs"]! > 0)

  // Packed shards: fixed length, EOS after every document, every kept document present once.
  const eos = qwen3().eosId!
  const sequences = run.writer.written.flatMap(readArrowShard)
  assert.ok(sequences.length > 0)
  sequences.slice(0, -1).forEach((s) => assert.equal(s.ids.length, 512))
  const kept = rows.filter((r) => r.status === "kept").map((r) => r.doc_id)
  const allIds = sequences.flatMap((s) => s.ids)
  assert.equal(allIds.filter((id) => id === eos).length, kept.length)
  assert.deepEqual([...new Set(sequences.flatMap((s) => s.docIds))].sort(), [...kept].sort())
  // The first document decodes back to its scrubbed text.
  const firstEos = allIds.indexOf(eos)
  assert.ok(qwen3().decode(allIds.slice(0, firstEos)).length > 100)
})

test("incremental: change 5% of the documents and exactly those are reprocessed; removed ones are retired", async () => {
  const warehouse = tempWarehousePath()
  const dir = tempDir()
  const lines = readFileSync(samplePath, "utf8").trimEnd().split("\n")
  const first = await runCorpus(warehouse, { input: samplePath })
  assert.equal(first.run.ledger.processed.size, lines.length)

  // Re-running unchanged input processes nothing.
  const again = await runCorpus(warehouse, { input: samplePath })
  assert.equal(again.run.ledger.processed.size, 0)
  assert.equal(again.run.tallies.find((t) => t.name === "skip-unchanged")!.dropped, lines.length)

  // Change every 20th document (5%), delete three others.
  const changed = new Set<string>()
  const removed = new Set<string>()
  const edited = lines.flatMap((line, i) => {
    const doc = JSON.parse(line) as { id: string; text: string }
    if (i % 20 === 7) {
      changed.add(doc.id)
      return [JSON.stringify({ id: doc.id, text: `${doc.text}\n\nAjout : le patient a été revu en consultation de contrôle le mois suivant.` })]
    }
    if (i === 11 || i === 12 || i === 13) {
      removed.add(doc.id)
      return []
    }
    return [line]
  })
  assert.equal(changed.size, Math.round(lines.length / 20))
  const input = join(dir, "corpus-v2.jsonl")
  writeFileSync(input, `${edited.join("\n")}\n`)
  const second = await runCorpus(warehouse, { input })
  assert.deepEqual([...second.run.ledger.processed].sort(), [...changed].sort())
  const lastRun = second.run.runId
  assert.deepEqual(second.rows.filter((r) => r.last_run === lastRun && !r.retired).map((r) => r.doc_id).sort(), [...changed].sort())
  assert.deepEqual(second.rows.filter((r) => r.retired).map((r) => r.doc_id).sort(), [...removed].sort())
  // Dedup state survived the runs: a changed original is still kept, not a duplicate of itself.
  for (const id of changed) {
    const before = first.rows.find((r) => r.doc_id === id)!
    const after = second.rows.find((r) => r.doc_id === id)!
    if (before.status === "kept") assert.equal(after.status, "kept", id)
    assert.notEqual(after.content_hash, before.content_hash)
  }

  // A new copy of a kept document is caught against the state of earlier runs.
  const keptRow = first.rows.find((r) => r.status === "kept")!
  const keptText = (JSON.parse(lines.find((l) => l.includes(`"${keptRow.doc_id}"`))!) as { text: string }).text
  const third = join(dir, "corpus-v3.jsonl")
  writeFileSync(third, `${edited.join("\n")}\n${JSON.stringify({ id: "late-copy", text: keptText })}\n`)
  const late = await runCorpus(warehouse, { input: third })
  assert.equal(late.run.ledger.processed.size, 1)
  assert.deepEqual(late.rows.filter((r) => r.last_run === late.run.runId).map((r) => r.doc_id), ["late-copy"])
  const row = late.rows.find((r) => r.doc_id === "late-copy")!
  assert.equal(row.status, "duplicate")
})

test("unreadable records become dead letters naming file and line; the rest goes through", async () => {
  const dir = tempDir()
  const input = join(dir, "bad.jsonl")
  const good = readFileSync(samplePath, "utf8").split("\n").slice(1, 4)
  writeFileSync(input, [good[0], "{not json", JSON.stringify({ id: "x", body: "no text field" }), good[1], good[2]].join("\n") + "\n")
  const { deadLetters, rows } = await runCorpus(tempWarehousePath(), { input })
  assert.equal(deadLetters.length, 2)
  assert.ok(deadLetters.some((d) => d.position === `${input}:2` && /malformed JSON/.test(d.reason)))
  assert.ok(deadLetters.some((d) => d.position === `${input}:3` && /field 'text' is missing/.test(d.reason)))
  assert.equal(rows.length, 3)
})

test("an incremental run supersedes in the manifest documents an earlier run listed that the warehouse does not know (a --full run saved no state)", async () => {
  const out = join(tempDir(), "shards")
  // Run 1 saves no state; run 2, against a fresh warehouse, processes every document again.
  await runCorpus(tempWarehousePath(), { input: samplePath, outDir: out, incremental: false })
  const first = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as { documentsFiles: Array<{ run: string; documents: Array<string> }> }
  assert.ok(first.documentsFiles[0]!.documents.length > 0)
  const second = await runCorpus(tempWarehousePath(), { input: samplePath, outDir: out })
  assert.ok(second.run.ledger.processed.size > 0)
  const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8")) as { documentsFiles: Array<{ run: string; documents: Array<string> }> }
  // Run 1's files hold no current document: run 2 processed (and kept) every one of them again.
  assert.deepEqual(manifest.documentsFiles.map((f) => [f.run === second.run.runId, f.documents.length === 0]), [[false, true], [true, false]])
})
