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
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, openSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { after, test } from "node:test"
import { runCli, tempDir } from "../../helpers/warehouse.ts"
import { root, sleep, stopWorker } from "./helpers.ts"

const bin = join(root, "bin/fleuve.mjs")
const input = join(root, "data/corpus/sample.jsonl")
const workers: Array<ChildProcess> = []
after(() => workers.forEach((w) => w.exitCode === null && w.signalCode === null && w.kill("SIGKILL")))

const startCorpusWorker = (dir: string, node: string, instance: string, env: Record<string, string>) => {
  const log = join(dir, `${instance}.log`)
  const fd = openSync(log, "a")
  const child = spawn(process.execPath, [bin, "worker", node, "--pipeline", "corpus", "--instance", instance], {
    cwd: root,
    env: { ...process.env, ...env, FLEUVE_KAFKA_CLIENT_ID: `a-corpus-${instance}`, FLEUVE_KAFKA_SESSION_TIMEOUT_MS: "6000" },
    stdio: ["ignore", fd, fd]
  })
  closeSync(fd)
  workers.push(child)
  return { child, log }
}

const waitFor = async (file: string, pattern: RegExp, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (pattern.test(readFileSync(file, "utf8"))) return
    await sleep(250)
  }
  throw new Error(`${file}: no line matching ${pattern} within ${timeoutMs / 1000}s:\n${readFileSync(file, "utf8")}`)
}

const DECISIONS = "SELECT doc_id, status, reason, duplicate_of, similarity, lang, tokens, content_hash FROM corpus_documents ORDER BY doc_id"

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
  await Promise.race([waitFor(started[1]!.log, /progress: dedup-tokenize-pack 380→/, 30_000), waitFor(started[2]!.log, /progress: dedup-tokenize-pack 380→/, 30_000)])
  await Promise.all(workers.map((w) => stopWorker(w)))

  const read = (warehouse: string) => {
    const q = runCli(["query", "--warehouse", warehouse, "--format", "json", DECISIONS])
    assert.equal(q.code, 0, q.stderr)
    return JSON.parse(q.stdout) as Array<{ doc_id: string; status: string; reason: string | null; duplicate_of: string | null }>
  }
  const want = read(join(dir, "embedded.duckdb"))
  const got = read(db)
  assert.equal(want.length, 420)
  // The input has real near-duplicates, and they are found.
  assert.ok(want.filter((r) => r.reason === "near duplicate").length >= 30)
  assert.ok(want.filter((r) => r.reason === "exact duplicate").length >= 10)
  assert.deepEqual(got, want)
})
