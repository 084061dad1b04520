// One corpus run at a time per cluster. The stages hold one run's state, and each sink's consumer
// group is shared by the run jobs: a second run job started while the first still runs used to
// join the first's sink groups, where the first's sink passed over the second's records — the second
// run then waited forever for its end marker (found by this test). Now a run job whose sinks'
// groups have live members refuses to start, saying why; the first run is not disturbed.
//
// Run A reads a FIFO: its first 1,000 documents go out, then it waits for the rest of its input.
// Run B starts meanwhile and must be refused at once. Then A gets the rest and must decide, and
// write, exactly as `fleuve corpus` on the same documents.
import assert from "node:assert/strict"
import { execFileSync, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { open } from "node:fs/promises"
import { join } from "node:path"
import { after, test } from "node:test"
import { kafkajsTransport } from "../../../pipelines/kafka/kafkajs-transport.ts"
import { runCliAsync, tempDir } from "../../helpers/warehouse.ts"
import { killAll, readDecisions, readOutputs, startCorpusWorker, waitFor, workers, writeCopies } from "./corpus-helpers.ts"
import { root, sleep, stopWorker, testSettings, within } from "./helpers.ts"

after(killAll)

const rawEnd = async () => {
  const transport = kafkajsTransport(testSettings())
  try {
    return BigInt((await transport.topicOffsets("corpus.raw"))[0]?.high ?? "0")
  } finally {
    await transport.close()
  }
}

test("a corpus run job refuses to start while another runs on the cluster, naming it; the running one decides as fleuve corpus", { timeout: 240_000 }, async () => {
  const dir = tempDir("fleuve-corpus-run-jobs-")
  const input = join(dir, "corpus.jsonl")
  assert.equal(writeCopies(input, 2), 1260)
  const lines = readFileSync(input, "utf8").split("\n").filter((l) => l.length > 0)
  const fifo = join(dir, "slow.jsonl")
  execFileSync("mkfifo", [fifo])

  const env = { FLEUVE_CORPUS_INPUT: input, FLEUVE_CORPUS_OUT: join(dir, "unused") }
  const started = [startCorpusWorker(dir, "clean", "j1", env), startCorpusWorker(dir, "dedup-tokenize-pack", "j2", env)]
  for (const w of started) await waitFor(w.log, /consuming corpus\.(raw|clean) as group/, 120_000)

  // Run A, on the FIFO.
  const before = await rawEnd()
  const a = spawn(process.execPath, [join(root, "bin/fleuve.mjs"), "run", "corpus", "--runtime", "kafka", "--warehouse", join(dir, "a.duckdb")], {
    cwd: root,
    env: { ...process.env, FLEUVE_CORPUS_INPUT: fifo, FLEUVE_CORPUS_OUT: join(dir, "a-out"), FLEUVE_KAFKA_CLIENT_ID: "z-corpus-run-a" }
  })
  workers.push(a)
  let aOut = ""
  let aErr = ""
  a.stdout.on("data", (d: Buffer) => (aOut += d.toString()))
  a.stderr.on("data", (d: Buffer) => (aErr += d.toString()))
  const aEnded = new Promise<number>((resolve) => a.on("close", (code) => resolve(code ?? -1)))
  const writer = await open(fifo, "w")
  await writer.write(lines.slice(0, 1100).join("\n") + "\n")
  const deadline = Date.now() + 120_000
  while ((await rawEnd()) < before + 1001n) {
    assert.ok(Date.now() < deadline && a.exitCode === null, `run A produced nothing (exit code ${a.exitCode})\n${aErr}`)
    await sleep(200)
  }

  // Run B, while A waits for the rest of its input: refused, naming A's run job.
  const b = await within(
    runCliAsync(["run", "corpus", "--runtime", "kafka", "--warehouse", join(dir, "b.duckdb")], {
      cwd: root,
      env: { FLEUVE_CORPUS_INPUT: input, FLEUVE_CORPUS_OUT: join(dir, "b-out"), FLEUVE_KAFKA_CLIENT_ID: "z-corpus-run-b" }
    }),
    90_000,
    () => ({ code: -2, stdout: "", stderr: "run B did not end within 90 s" })
  )
  assert.notEqual(b.code, 0, b.stdout)
  assert.match(b.stderr, /another corpus run is in progress on this cluster: its run job holds the sink group fleuve\.corpus\.[\w-]+ \(z-corpus-run-a on /, b.stderr)

  // A gets the rest of its input and ends as `fleuve corpus` would have.
  await writer.write(lines.slice(1100).join("\n") + "\n")
  await writer.close()
  assert.equal(await aEnded, 0, aErr)
  assert.match(aOut, /^dedup-tokenize-pack\s+0\s+0\s/m, aOut)
  const embedded = await runCliAsync(["corpus", input, "--warehouse", join(dir, "embedded.duckdb"), "--out", join(dir, "embedded-out")], { cwd: root })
  assert.equal(embedded.code, 0, embedded.stderr)
  assert.deepEqual(readDecisions(join(dir, "a.duckdb")), readDecisions(join(dir, "embedded.duckdb")))
  const want = readOutputs(join(dir, "embedded-out"))
  const got = readOutputs(join(dir, "a-out"))
  assert.deepEqual(got.sequences, want.sequences)
  assert.deepEqual(got.manifest, want.manifest)
  await Promise.all(started.map((w) => stopWorker(w.child)))
})
