// Issue 20 item 11: the corpus pipeline on Kafka with several workers must keep the same
// documents as the embedded run. Near-duplicate detection needs one view of the LSH index and the
// input order, so every corpus topic has one partition (one worker of each stage owns the ordered
// stream, the others of its group stand by), and the decisions a stage makes in whichever worker
// owns it travel on corpus.decisions to the run job, which saves them to corpus_documents.
//
// Here three real worker processes (`fleuve worker`): one of the clean stage, two of the dedup
// stage (one owns the partition, the other stands by). Their client ids sort before the run job's,
// so the group's round-robin assignment gives them the partitions: the run job itself processes no
// clean or dedup record (its report says 0), and still lands every decision. The input is the
// committed sample corpus (420 documents: 19 exact and 39 near duplicates, language and quality drops).
import assert from "node:assert/strict"
import { join } from "node:path"
import { after, test } from "node:test"
import { runCli, tempDir } from "../../helpers/warehouse.ts"
import { killAll, readDecisions, readOutputs, sampleCorpus as input, startCorpusWorker, waitFor, workers } from "./corpus-helpers.ts"
import { stopWorker } from "./helpers.ts"

after(killAll)

test("corpus on Kafka with 3 workers keeps, drops and links duplicates exactly as the embedded run", { timeout: 240_000 }, async () => {
  const dir = tempDir("fleuve-corpus-kafka-")
  const embedded = runCli(["corpus", input, "--warehouse", join(dir, "embedded.duckdb"), "--out", join(dir, "embedded-out")])
  assert.equal(embedded.code, 0, embedded.stderr)

  const env = { FLEUVE_CORPUS_INPUT: input, FLEUVE_CORPUS_OUT: join(dir, "kafka-out") }
  const started = [
    startCorpusWorker(dir, "clean", "w1", env),
    startCorpusWorker(dir, "dedup-tokenize-pack", "w2", env),
    startCorpusWorker(dir, "dedup-tokenize-pack", "w3", env)
  ]
  for (const w of started) await waitFor(w.log, /consuming corpus\.(raw|clean) as group/, 120_000)

  const db = join(dir, "kafka.duckdb")
  const run = runCli(["run", "corpus", "--runtime", "kafka", "--warehouse", db], { env: { ...env, FLEUVE_KAFKA_CLIENT_ID: "z-corpus-run" } })
  assert.equal(run.code, 0, run.stderr)
  // The workers made the decisions: the run job handled no clean or dedup record itself.
  assert.match(run.stdout, /^clean\s+0\s+0\s/m, run.stdout)
  assert.match(run.stdout, /^dedup-tokenize-pack\s+0\s+0\s/m, run.stdout)
  // Their progress lines (every 5 s) say so too: w1 cleaned, one of w2 and w3 deduplicated.
  await waitFor(started[0]!.log, /progress: clean 420→380/, 30_000)
  await waitFor([started[1]!.log, started[2]!.log], /progress: dedup-tokenize-pack 380→/, 30_000)
  await Promise.all(workers.map((w) => stopWorker(w)))

  const want = readDecisions(join(dir, "embedded.duckdb"))
  const got = readDecisions(db)
  assert.equal(want.length, 420)
  // The input has real near-duplicates, and they are found.
  assert.ok(want.filter((r) => r.reason === "near duplicate").length >= 30)
  assert.ok(want.filter((r) => r.reason === "exact duplicate").length >= 10)
  assert.deepEqual(got, want)
  // The outputs too: the dedup owner flushes the packer's last, partial sequence at the run's end
  // marker (it used to stay in the long-lived worker: 36 sequences instead of 37), and the kept
  // documents reach the run job, which writes the one documents file its manifest lists (the owner
  // used to write its own, outside the manifest).
  const wantOut = readOutputs(join(dir, "embedded-out"))
  const gotOut = readOutputs(join(dir, "kafka-out"))
  assert.equal(gotOut.sequences.length, wantOut.sequences.length)
  assert.deepEqual(gotOut.sequences, wantOut.sequences)
  assert.equal(gotOut.documents.length, want.filter((r) => r.status === "kept").length)
  assert.deepEqual(gotOut.documents, wantOut.documents)
  assert.deepEqual(gotOut.manifest, wantOut.manifest)
})
