// Issue 20 item 11, runs: stage workers live across runs, but a run's state must not. Three
// consecutive corpus runs go through the same two worker processes (clean, dedup), each compared
// with `fleuve corpus` on the same input and warehouse history:
//   1. the sample corpus into a new warehouse;
//   2. an incremental run into the same warehouse: 20 documents gone (retired), 10 changed, one
//      rewritten in English (dropped), the rest unchanged, 40 new documents repeating earlier ones
//      under new ids, and one repeating the English one's old text. The workers have no
//      warehouse: they must start from the state the run job publishes after the run's begin
//      marker (earlier runs' documents), or the 40 repeats would be kept; and the dedup stage must
//      forget the rewritten document's old version, which the clean stage sends it, or the last
//      one would be its duplicate;
//   3. the sample under new ids into a new warehouse: nothing of runs 1 and 2 may remain in the
//      workers (their indexes would mark every document a duplicate of run 1's, their packer would
//      carry run 2's last tokens into this run's first sequence).
// Each run: corpus_documents (every column a later run reads), shards, documents file, manifest.
import assert from "node:assert/strict"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { after, test } from "node:test"
import { runCli, tempDir } from "../../helpers/warehouse.ts"
import { type DecisionRow, killAll, readDecisions, readOutputs, sampleCorpus, startCorpusWorker, waitFor, workers } from "./corpus-helpers.ts"
import { stopWorker } from "./helpers.ts"

after(killAll)

type Doc = { id: string; text: string }

test("the same corpus workers through three runs (first, incremental, another warehouse) decide and write exactly as fleuve corpus", { timeout: 240_000 }, async () => {
  const dir = tempDir("fleuve-corpus-runs-")
  const docs = readFileSync(sampleCorpus, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Doc)
  const write = (name: string, list: ReadonlyArray<Doc>) => {
    const path = join(dir, name)
    writeFileSync(path, list.map((d) => JSON.stringify(d)).join("\n") + "\n")
    return path
  }
  const first = write("first.jsonl", docs)
  // Written after run 1, to pick `gone`: a document run 1 kept that run 2 rewrites in English (the
  // language filter drops it), and that a new document at the end repeats as it was. The clean
  // stage must make the dedup stage forget its old version, though the dedup stage never sees it.
  let gone = ""
  const second = () => {
    const kept = new Set(readDecisions(join(dir, "embedded-a.duckdb")).filter((d) => d.status === "kept").map((d) => d.doc_id))
    const index = docs.findIndex((d, i) => i >= 10 && i < 100 && kept.has(d.id))
    gone = docs[index]!.id
    return write("second.jsonl", [
      ...docs.slice(0, 400).map((d, i) =>
        i < 10
          ? { ...d, text: `${d.text}\nMise à jour du protocole de soins validée par l'équipe médicale du service.` }
          : i === index
          ? { ...d, text: "This notice was rewritten in English: visiting hours change next week, and parking near the main entrance is now reserved for patients." }
          : d
      ),
      ...docs.slice(100, 140).map((d) => ({ ...d, id: `new-${d.id}` })),
      { ...docs[index]!, id: `new-old-${docs[index]!.id}` }
    ])
  }
  const third = write("third.jsonl", docs.map((d) => ({ ...d, id: `again-${d.id}` })))

  // Workers read nothing from these: the run job produces its input and writes its outputs.
  const workerEnv = { FLEUVE_CORPUS_INPUT: first, FLEUVE_CORPUS_OUT: join(dir, "unused") }
  const started = [startCorpusWorker(dir, "clean", "r1", workerEnv), startCorpusWorker(dir, "dedup-tokenize-pack", "r2", workerEnv)]
  for (const w of started) await waitFor(w.log, /consuming corpus\.(raw|clean) as group/, 120_000)

  const runs = [
    { input: () => first, store: "a" },
    { input: second, store: "a" },
    { input: () => third, store: "b" }
  ]
  const results: Array<{ kept: number; repeats: number; oldText?: DecisionRow | undefined }> = []
  for (const [i, { input, store }] of runs.entries()) {
    const r = { input: input(), store }
    const embedded = runCli(["corpus", r.input, "--warehouse", join(dir, `embedded-${r.store}.duckdb`), "--out", join(dir, `embedded-${r.store}`)])
    assert.equal(embedded.code, 0, embedded.stderr)
    const run = runCli(["run", "corpus", "--runtime", "kafka", "--warehouse", join(dir, `kafka-${r.store}.duckdb`)], {
      env: { FLEUVE_CORPUS_INPUT: r.input, FLEUVE_CORPUS_OUT: join(dir, `kafka-${r.store}`), FLEUVE_KAFKA_CLIENT_ID: "z-corpus-run" }
    })
    assert.equal(run.code, 0, run.stderr)
    // The workers decided: the run job handled no clean or dedup record itself.
    assert.match(run.stdout, /^clean\s+0\s+0\s/m, `run ${i + 1}: ${run.stdout}`)
    assert.match(run.stdout, /^dedup-tokenize-pack\s+0\s+0\s/m, `run ${i + 1}: ${run.stdout}`)

    const want = readDecisions(join(dir, `embedded-${r.store}.duckdb`))
    assert.deepEqual(readDecisions(join(dir, `kafka-${r.store}.duckdb`)), want, `run ${i + 1}: corpus_documents`)
    const wantOut = readOutputs(join(dir, `embedded-${r.store}`))
    const gotOut = readOutputs(join(dir, `kafka-${r.store}`))
    assert.deepEqual(gotOut.sequences, wantOut.sequences, `run ${i + 1}: sequences`)
    assert.deepEqual(gotOut.documents, wantOut.documents, `run ${i + 1}: documents`)
    assert.deepEqual(gotOut.manifest, wantOut.manifest, `run ${i + 1}: manifest`)
    results.push({
      kept: want.filter((d) => d.status === "kept").length,
      repeats: want.filter((d) => d.doc_id.startsWith("new-") && d.status === "duplicate").length,
      oldText: want.find((d) => d.doc_id === `new-old-${gone}`)
    })
  }
  await Promise.all(workers.map((w) => stopWorker(w)))

  // What the runs exercised: run 2 found the repeats of run 1's documents, run 3 kept as many as run 1.
  assert.ok(results[1]!.repeats >= 30, JSON.stringify(results))
  // The old text of the document rewritten in English is no longer a duplicate of it.
  assert.ok(results[1]!.oldText && results[1]!.oldText.duplicate_of !== gone, JSON.stringify(results[1]!.oldText))
  assert.equal(results[2]!.kept, results[0]!.kept)
})
