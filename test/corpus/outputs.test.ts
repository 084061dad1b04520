import assert from "node:assert/strict"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { placeholder } from "../../operators/corpus/pii.ts"
import { readArrowShard } from "../../operators/writers/arrow-shards.ts"
import { readManifest } from "../../operators/writers/corpus-manifest.ts"
import { readDocumentsFile } from "../../operators/writers/documents-jsonl.ts"
import { compactCorpus } from "../../pipelines/corpus-compact.ts"
import { tempDir, tempWarehousePath } from "../helpers/warehouse.ts"
import { qwen3, runCorpus, sampleManifest, samplePath } from "./helpers.ts"

test("cleaned documents as JSONL.gz and a manifest beside the shards; incremental runs supersede, say how many retired; compact rewrites the current documents once", async () => {
  const warehouse = tempWarehousePath()
  const out = join(tempDir(), "out")
  const planted = await sampleManifest()
  const lines = readFileSync(samplePath, "utf8").trimEnd().split("\n")

  // Run 1: every kept document is a line, scrubbed, with its PII counts by type.
  const first = await runCorpus(warehouse, { input: samplePath, outDir: out })
  const kept1 = first.rows.filter((r) => r.status === "kept").map((r) => r.doc_id).sort()
  const docs1 = readDocumentsFile(first.run.outcome.documentsFile!)
  assert.deepEqual(docs1.map((d) => d.id).sort(), kept1)
  for (const d of docs1) {
    assert.equal(d.lang, "fr", d.id)
    assert.ok(d.quality !== null && d.quality.words! >= 50 && d.quality.alpha_words_ratio! >= 0.8 && d.quality.stop_words! >= 2, `${d.id} quality ${JSON.stringify(d.quality)}`)
    const e = planted.get(d.id)!
    if (e.mojibake) continue
    for (const p of e.pii) {
      assert.ok(!d.text.includes(p.value), `${d.id}: ${p.value} in the cleaned text`)
      assert.ok(d.text.includes(placeholder(p.type as "NIR")))
    }
    const expected: Record<string, number> = {}
    for (const p of e.pii) expected[p.type] = (expected[p.type] ?? 0) + 1
    assert.deepEqual(d.pii, expected, d.id)
  }
  assert.ok(docs1.some((d) => Object.keys(d.pii).length > 0))
  const m1 = readManifest(out)!
  assert.equal(m1.current.documents, kept1.length)
  assert.equal(m1.shards.reduce((a, s) => a + s.staleSequences.length, 0), 0)
  assert.deepEqual(m1.shards.map((s) => s.file).sort(), first.run.writer.written.map((p) => p.slice(out.length + 1)).sort())

  // Run 2: change 5%, remove 3. Only the changed documents are written; earlier entries lose them.
  const changed = new Set<string>()
  const removed = new Set<string>()
  const edited = lines.flatMap((line, i) => {
    const doc = JSON.parse(line) as { id: string; text: string }
    if (i % 20 === 7) {
      changed.add(doc.id)
      return [JSON.stringify({ id: doc.id, text: `${doc.text}\n\nAjout : le patient a été revu en consultation de contrôle le mois suivant.` })]
    }
    if (i >= 11 && i <= 13) {
      removed.add(doc.id)
      return []
    }
    return [line]
  })
  const input2 = join(tempDir(), "v2.jsonl")
  writeFileSync(input2, `${edited.join("\n")}\n`)
  const second = await runCorpus(warehouse, { input: input2, outDir: out })
  assert.equal(second.run.outcome.retired, 3)
  const kept2 = second.rows.filter((r) => r.status === "kept" && !r.retired).map((r) => r.doc_id).sort()
  const docs2 = readDocumentsFile(second.run.outcome.documentsFile!)
  assert.deepEqual(docs2.map((d) => d.id).sort(), [...changed].filter((id) => kept2.includes(id)).sort())
  assert.ok(docs2.every((d) => d.text.includes("revu en consultation de contrôle")))
  const m2 = readManifest(out)!
  assert.equal(m2.current.documents, kept2.length)
  const currentIn = (file: string) => m2.documentsFiles.find((f) => f.file === file)!.documents
  for (const id of [...changed, ...removed]) assert.ok(!m1.documentsFiles.some((f) => currentIn(f.file).includes(id)), `${id} still current in run 1's file`)
  const stale = m2.shards.flatMap((s) => s.staleSequences.map((seq) => ({ s, seq })))
  assert.ok(stale.length > 0, "run 1's shards hold superseded documents")
  for (const { s, seq } of stale) {
    const sequence = readArrowShard(join(out, s.file)).find((x) => x.seq === seq)!
    assert.ok(sequence.docIds.some((d) => changed.has(d) || removed.has(d)))
  }

  // Compact: each current document once, in full shards; the files listed before are gone.
  const before = readdirSync(out).sort()
  const c = await Effect.runPromise(compactCorpus(out, { tokenizer: qwen3() }))
  assert.equal(c.after.documents, kept2.length)
  for (const f of c.removed) assert.ok(!existsSync(join(out, f)), f)
  assert.deepEqual(readdirSync(out).filter((f) => before.includes(f)), ["manifest.json"])
  const m3 = readManifest(out)!
  assert.equal(m3.current.documents, kept2.length)
  assert.equal(m3.shards.reduce((a, s) => a + s.staleSequences.length, 0), 0)
  const sequences = m3.shards.flatMap((s) => readArrowShard(join(out, s.file)))
  const eos = qwen3().eosId!
  assert.equal(sequences.flatMap((s) => s.ids).filter((id) => id === eos).length, kept2.length)
  assert.deepEqual([...new Set(sequences.flatMap((s) => s.docIds))].sort(), kept2)
  sequences.slice(0, -1).forEach((s) => assert.equal(s.ids.length, 512))
  const compacted = readDocumentsFile(join(out, m3.documentsFiles[0]!.file))
  assert.deepEqual(compacted.map((d) => d.id).sort(), kept2)
})
