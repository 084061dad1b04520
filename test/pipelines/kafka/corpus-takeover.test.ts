// Issue 20 item 11, takeover: the dedup stage's owner is SIGKILLed mid-run and its standby takes
// the partition over. The standby must not start from empty indexes (documents after the takeover
// would not be compared with those before it, undetected) nor from an empty packer (the carry of
// the last committed batch would be lost): it replays the run from its begin marker on
// corpus.clean up to the committed position, writing nothing, then goes on.
//
// The input is the sample corpus followed by two copies of it under new ids (1,260 documents), so
// most documents after the takeover duplicate one before it. Stages commit every 20 input records
// (FLEUVE_KAFKA_TRANSACTION_RECORDS), so the owner dies with many batches committed and many to go.
// The run's corpus_documents, shards (every sequence), cleaned-documents file and manifest must
// equal `fleuve corpus` on the same input.
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { after, test } from "node:test"
import { kafkajsTransport } from "../../../pipelines/kafka/kafkajs-transport.ts"
import { runCli, tempDir } from "../../helpers/warehouse.ts"
import { killAll, ownerOf, readDecisions, readOutputs, startCorpusWorker, waitFor, writeCopies } from "./corpus-helpers.ts"
import { root, sleep, stopWorker, testSettings } from "./helpers.ts"

after(killAll)

const DEDUP_GROUP = "fleuve.corpus.dedup-tokenize-pack"

const committedOn = async (group: string, topic: string) => {
  const transport = kafkajsTransport(testSettings())
  try {
    return BigInt((await transport.groupOffsets(group, [topic]))[0]?.offset ?? "-1")
  } finally {
    await transport.close()
  }
}

test("a standby that takes the dedup stage over mid-run rebuilds its state: decisions, sequences and documents equal the embedded run's", { timeout: 240_000 }, async () => {
  const dir = tempDir("fleuve-corpus-takeover-")
  const input = join(dir, "corpus.jsonl")
  assert.equal(writeCopies(input, 2), 1260)
  const embedded = runCli(["corpus", input, "--warehouse", join(dir, "embedded.duckdb"), "--out", join(dir, "embedded-out")])
  assert.equal(embedded.code, 0, embedded.stderr)

  const env = { FLEUVE_CORPUS_INPUT: input, FLEUVE_CORPUS_OUT: join(dir, "kafka-out"), FLEUVE_KAFKA_TRANSACTION_RECORDS: "20" }
  const clean = startCorpusWorker(dir, "clean", "t1", env)
  const first = startCorpusWorker(dir, "dedup-tokenize-pack", "t2", env)
  const second = startCorpusWorker(dir, "dedup-tokenize-pack", "t3", env)
  for (const w of [clean, first, second]) await waitFor(w.log, /consuming corpus\.(raw|clean) as group/, 120_000)
  const before = await committedOn(DEDUP_GROUP, "corpus.clean")

  const db = join(dir, "kafka.duckdb")
  const job = spawn(process.execPath, [join(root, "bin/fleuve.mjs"), "run", "corpus", "--runtime", "kafka", "--warehouse", db], {
    cwd: root,
    env: { ...process.env, ...env, FLEUVE_KAFKA_CLIENT_ID: "z-corpus-run" }
  })
  let stdout = ""
  let stderr = ""
  job.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
  job.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
  const ended = new Promise<number>((resolve) => job.on("close", (code) => resolve(code ?? -1)))

  // Once the owner has committed a few batches of this run (about 100 of its ~1,200 records), it dies.
  const deadline = Date.now() + 120_000
  while ((await committedOn(DEDUP_GROUP, "corpus.clean")) < before + 100n) {
    assert.ok(Date.now() < deadline && job.exitCode === null, `the dedup stage committed nothing of the run (run job exit code ${job.exitCode})\n${stderr}`)
    await sleep(100)
  }
  const owner = await ownerOf(DEDUP_GROUP, "corpus.clean")
  const victim = [first, second].find((w) => w.instance === owner)
  assert.ok(victim, `the dedup partition is owned by ${owner}, not by a dedup worker`)
  const standby = victim === first ? second : first
  await stopWorker(victim.child, "SIGKILL")
  const killedAt = await committedOn(DEDUP_GROUP, "corpus.clean")

  assert.equal(await ended, 0, stderr)
  // The run job still handled no clean or dedup record itself: the standby did.
  assert.match(stdout, /^dedup-tokenize-pack\s+0\s+0\s/m, stdout)
  await Promise.all([clean.child, standby.child].map((w) => stopWorker(w)))

  const want = readDecisions(join(dir, "embedded.duckdb"))
  assert.equal(want.length, 1260)
  // Most documents after the takeover repeat one before it: they must be found.
  assert.ok(want.filter((r) => r.reason === "exact duplicate").length >= 700)
  assert.deepEqual(readDecisions(db), want)
  const wantOut = readOutputs(join(dir, "embedded-out"))
  const gotOut = readOutputs(join(dir, "kafka-out"))
  assert.equal(gotOut.sequences.length, wantOut.sequences.length)
  assert.deepEqual(gotOut.sequences, wantOut.sequences)
  assert.deepEqual(gotOut.documents, wantOut.documents)
  assert.deepEqual(gotOut.manifest, wantOut.manifest)
  // (Without the rebuild, the standby kept 565 documents instead of 322: every copy after the takeover.)
  await waitFor(standby.log, /took over corpus\.clean\/0 at offset \d+: rebuilt run \S+'s state from its \d+ records/, 30_000)
  // The last takeover the standby logged is this one (a worker that starts in the middle of an
  // earlier, abandoned run on a shared broker rebuilds that run's state too).
  const line = [...readFileSync(standby.log, "utf8").matchAll(/took over corpus\.clean\/0 at offset (\d+): rebuilt run \S+'s state from its (\d+) records/g)].at(-1)!
  assert.ok(BigInt(line[1]!) >= killedAt, line[0])
  assert.ok(Number(line[2]) >= 100, `the replay covered the run before the takeover: ${line[0]}`)
})
