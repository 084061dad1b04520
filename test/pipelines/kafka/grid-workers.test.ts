// Issue 19: the evaluation grid's scorer stage in other processes. `fleuve reeval --runtime kafka
// --scorer-workers S` produces system S's requests and lands what comes back; two
// `fleuve worker predict --pipeline evaluate-S` processes (no warehouse) answer them through
// llama.cpp's real OpenAI-compatible server (scripts/setup/60-llama-cpp.sh, the committed tiny
// Qwen3 as an f32 GGUF), on the real broker. One worker is SIGKILLed mid-grid; the other takes
// its partitions over. Every request is answered and landed exactly once, the rows equal the
// embedded run's, and the endpoint's API key and URL credentials are nowhere: not in the workers'
// or reeval's output, not in runs.args or dead_letters, not in any record on the grid's topics.
import assert from "node:assert/strict"
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { parse as parseYaml } from "yaml"
import { kafkajsTransport } from "../../../pipelines/kafka/kafkajs-transport.ts"
import { llamaServer, type LlamaServer, llamaServerMissing, tiny1kModelDir } from "../../helpers/llama-server.ts"
import { runCliAsync, tempDir } from "../../helpers/warehouse.ts"
import { countCommitted, root, sleep, testSettings, uniqueTag } from "./helpers.ts"

// Skipped only outside CI when the server is not installed (FLEUVE_SKIP_SETUP runs); on CI a missing install fails.
const missing = process.env.CI ? undefined : llamaServerMissing()

const bin = join(root, "bin/fleuve.mjs")
const KEY = "sk-grid-5ecret"
const URL_PASSWORD = "pw-9ecret"
const workers: Array<ChildProcess> = []
after(() => workers.forEach((w) => w.exitCode === null && w.signalCode === null && w.kill("SIGKILL")))

/** Every record value and header of a topic, committed or not, read whole by a fresh group. */
const readTopic = async (topic: string, atLeast: number) => {
  const transport = kafkajsTransport(testSettings())
  const texts: Array<string> = []
  const consumer = await transport.consumer({
    groupId: `read-${uniqueTag()}`,
    topics: [topic],
    fromBeginning: true,
    onBatch: async (b) => {
      for (const m of b.messages) texts.push(`${m.key?.toString() ?? ""} ${m.value?.toString("latin1") ?? ""} ${JSON.stringify(m.headers)}`)
    }
  })
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline && texts.length < atLeast) await sleep(250)
  await sleep(1000)
  await consumer.stop()
  await transport.close()
  return texts
}

const highWatermark = async (topic: string) => {
  const transport = kafkajsTransport(testSettings())
  try {
    return (await transport.topicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0)
  } catch {
    return 0
  } finally {
    await transport.close()
  }
}

/**
 * A service's command in docker-compose.yml, `${VAR:-default}` resolved from `vars` (else its
 * default): the test runs the deployment's own commands, with only the addresses swapped.
 */
const composeCommand = (service: string, vars: Record<string, string>): Array<string> => {
  const compose = parseYaml(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as { services: Record<string, { command: Array<string> }> }
  return compose.services[service]!.command.map((a) => a.replace(/\$\{(\w+):-([^}]*)\}/g, (_, name: string, fallback: string) => vars[name] ?? fallback))
}

/** `args` with the value after each flag in `values` replaced, and the flags in `drop` (booleans) left out. */
const withFlags = (args: ReadonlyArray<string>, values: Record<string, string>, drop: ReadonlyArray<string> = []) => {
  const out = args.filter((a) => !drop.includes(a))
  for (const [flag, value] of Object.entries(values)) {
    const i = out.indexOf(flag)
    assert.ok(i >= 0 && i + 1 < out.length, `the compose command has ${flag}`)
    out[i + 1] = value
  }
  return out
}

describe("the grid's scorer stage in `fleuve worker` processes (llama.cpp server, real broker)", { skip: missing }, () => {
  let server: LlamaServer
  // The served name is the system's name (as in docker-compose.yml): one of its own, since the
  // grid's topics and groups are named after it and outlive the run on the broker.
  const system = `llama-${uniqueTag()}`
  before(async () => {
    server = await llamaServer({ model: "tiny1k", apiKey: KEY, alias: system })
  })
  after(async () => {
    await server?.kill()
  })

  it("two scorer workers answer every request once, one SIGKILLed mid-grid; the rows equal the embedded run's", { timeout: 300_000 }, async () => {
    const dir = tempDir("fleuve-grid-workers-")
    const sample = join(root, "data", "qa")
    mkdirSync(join(dir, "mcqa"))
    writeFileSync(join(dir, "mcqa", "test.jsonl"), readFileSync(join(sample, "mcqa", "test.jsonl"), "utf8"))
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({
      name: "grid-workers",
      tasks: {
        mcqa: { format: "frenchmedmcqa", test: "mcqa/test.jsonl", train: join(sample, "mcqa", "train.jsonl") },
        extqa: { format: "squad", test: join(sample, "extqa", "test.jsonl"), train: join(sample, "extqa", "train.jsonl") },
        absqa: { format: "mediqal-oeq", test: join(sample, "absqa", "test.jsonl"), train: join(sample, "absqa", "train.jsonl") }
      }
    }))
    const LIMIT = 16
    const REQUESTS = 2 * LIMIT
    const pipeline = `evaluate-${system}`
    // The server's URL with credentials in it (Basic authentication where no key is given; the
    // key, from the environment, wins): neither may show anywhere. reeval and its workers name the
    // system alike (the endpoint is part of the model's identity: a worker pointed elsewhere
    // would have its requests refused as dead letters, never answered).
    const secretUrl = server.url.replace("http://", `http://fleuve:${URL_PASSWORD}@`)
    // docker-compose.yml's commands (services scorer and reeval-vllm) with the vLLM service's
    // address swapped for llama.cpp's server, and without --endpoint-batch-options (llama.cpp's
    // Python server refuses a list of prompts; vLLM and SGLang take it). The rest is this test's
    // data: the manifest, a few items, the tokenizer and revision both sides declare.
    const vars = { FLEUVE_VLLM_NAME: system }
    const sameSystem = ["--endpoint-tokenizer", tiny1kModelDir, "--endpoint-revision", "r1"]
    const scorerCommand = [...withFlags(composeCommand("scorer", vars), { "--endpoint": secretUrl }, ["--endpoint-batch-options"]), ...sameSystem]
    const reevalCommand = (db: string) => [
      ...withFlags(composeCommand("reeval-vllm", vars), { "--endpoint": secretUrl, "--warehouse": db }, ["--endpoint-batch-options"]),
      ...sameSystem, "--manifest", join(dir, "manifest.json"), "--tasks", "mcqa,extqa", "--shots", "0", "--limit", String(LIMIT)
    ]
    assert.deepEqual(scorerCommand.slice(0, 4), ["worker", "predict", "--pipeline", pipeline])
    const kafkaArgs = reevalCommand(join(dir, "kafka.duckdb"))
    assert.deepEqual(kafkaArgs.slice(kafkaArgs.indexOf("--runtime"), kafkaArgs.indexOf("--runtime") + 4), ["--runtime", "kafka", "--scorer-workers", system])
    // The embedded run: the same command on the in-process runtime, every stage in one process.
    const embeddedArgs = reevalCommand(join(dir, "embedded.duckdb")).filter((_, i, all) => !["--runtime", "--scorer-workers"].includes(all[i]!) && !["--runtime", "--scorer-workers"].includes(all[i - 1]!))
    const env = { FLEUVE_ENDPOINT_API_KEY: KEY }
    const embedded = await runCliAsync(embeddedArgs, { env })
    assert.equal(embedded.code, 0, embedded.stderr)

    const startScorer = (instance: string) => {
      const log = join(dir, `${instance}.log`)
      const fd = openSync(log, "a")
      const child = spawn(process.execPath, [bin, ...scorerCommand, "--instance", instance], {
        cwd: root,
        env: { ...process.env, ...env, FLEUVE_KAFKA_CLIENT_ID: `scorer-${instance}`, FLEUVE_KAFKA_SESSION_TIMEOUT_MS: "6000" },
        stdio: ["ignore", fd, fd]
      })
      closeSync(fd)
      workers.push(child)
      return { child, log }
    }
    const a = startScorer(`a-${system}`)
    const b = startScorer(`b-${system}`)
    const db = join(dir, "kafka.duckdb")
    const run = runCliAsync(kafkaArgs, { env })

    // Mid-grid: the first worker seen asking the server is killed while it answers its batch
    // (nothing of that batch is committed yet), and the other has to take its partitions over.
    const predictionsTopic = `eval.predictions.${system}`
    const asking = /: [1-9]\d* request\(s\)/
    const deadline = Date.now() + 120_000
    let killed: typeof a | undefined
    while (!killed && Date.now() < deadline) {
      killed = [a, b].find((w) => asking.test(readFileSync(w.log, "utf8")))
      if (!killed) await sleep(100)
    }
    assert.ok(killed, `no worker asked the server within 120 s:\n${readFileSync(a.log, "utf8").slice(-2000)}`)
    killed.child.kill("SIGKILL")
    const survivor = killed === a ? b : a
    const written = await highWatermark(predictionsTopic)
    assert.ok(written < REQUESTS, `the kill came mid-grid (${written} records and markers of ${REQUESTS} predictions written)`)
    const kafka = await run
    assert.equal(kafka.code, 0, `${kafka.stderr}\n--- a:\n${readFileSync(a.log, "utf8")}\n--- b:\n${readFileSync(b.log, "utf8")}`)
    assert.match(kafka.stderr, new RegExp(`its scorer stage runs in worker processes: waiting for \`fleuve worker predict --pipeline ${pipeline}\``))
    survivor.child.kill("SIGTERM")
    await new Promise((r) => (survivor.child.exitCode !== null ? r(undefined) : survivor.child.once("exit", r)))
    const logB = readFileSync(b.log, "utf8")
    const logA = readFileSync(a.log, "utf8")
    // Both joined the group; the survivor answered and ended the grid.
    for (const l of [logA, logB]) assert.match(l, /consuming eval\.requests\..* as group fleuve\.evaluate-.*\.predict/)
    assert.match(readFileSync(survivor.log, "utf8"), /progress: predict [1-9]\d*→[1-9]/)

    const query = async (warehouse: string, sql: string) => {
      const r = await runCliAsync(["query", "--warehouse", warehouse, "--format", "json", sql])
      assert.equal(r.code, 0, r.stderr)
      return JSON.parse(r.stdout) as Array<Record<string, unknown>>
    }
    const SCORES = `SELECT system, task, shots, item_id, metric, score FROM scores ORDER BY ALL`
    const PREDICTIONS = `SELECT system, cache_key, options::VARCHAR AS options, output, model_id, model_revision FROM predictions ORDER BY ALL`
    const ours = (rows: Array<Record<string, unknown>>) => rows.filter((r) => r.system === system)
    const wantPreds = await query(join(dir, "embedded.duckdb"), PREDICTIONS)
    assert.equal(ours(wantPreds).length, REQUESTS)
    assert.deepEqual(await query(db, PREDICTIONS), wantPreds)
    const wantScores = await query(join(dir, "embedded.duckdb"), SCORES)
    assert.deepEqual(await query(db, SCORES), wantScores)
    assert.deepEqual(await query(db, "SELECT count(*)::INT AS n FROM dead_letters"), [{ n: 0 }])

    // Exactly once on the broker: one committed prediction a request, one committed score record a row.
    const settings = testSettings()
    assert.equal((await countCommitted(settings, predictionsTopic, REQUESTS)).count, REQUESTS)
    const scoreRows = ours(wantScores).length
    assert.equal((await countCommitted(settings, `eval.scores.${system}`, scoreRows)).count, scoreRows)

    // Credentials: nowhere printed or stored.
    const leaks = (where: string, text: string) => {
      assert.ok(!text.includes(KEY) && !text.includes("5ecret"), `${where} holds the API key`)
      assert.ok(!text.includes(URL_PASSWORD) && !text.includes("9ecret"), `${where} holds the URL's password`)
    }
    leaks("worker a's log", logA)
    leaks("worker b's log", logB)
    assert.match(logA + logB, /fleuve:<redacted>@127\.0\.0\.1/)
    leaks("reeval's output", kafka.stdout + kafka.stderr)
    leaks("runs.args", JSON.stringify(await query(db, "SELECT command, args::VARCHAR AS args FROM runs")))
    for (const topic of [`eval.requests.${system}`, predictionsTopic, `eval.requests.${system}.dlq`, `eval.scores.${system}`]) {
      leaks(topic, (await readTopic(topic, topic.endsWith(".dlq") ? 0 : REQUESTS)).join("\n"))
    }
  })

  it("a worker whose model is not the requests' refuses them as dead letters, which name the endpoint without its credentials", { timeout: 120_000 }, async () => {
    const dir = tempDir("fleuve-grid-workers-")
    const other = `${system}-b`
    const secretUrl = server.url.replace("http://", `http://fleuve:${URL_PASSWORD}@`)
    const flags = (revision: string) => ["--endpoint", secretUrl, "--endpoint-model", system, "--endpoint-tokenizer", tiny1kModelDir, "--endpoint-revision", revision]
    const env = { FLEUVE_ENDPOINT_API_KEY: KEY }
    const log = join(dir, "worker.log")
    const fd = openSync(log, "a")
    // Declares another revision than reeval's: another model as far as the cache key goes.
    const worker = spawn(process.execPath, [bin, "worker", "predict", "--pipeline", `evaluate-${other}`, "--instance", `c-${other}`, ...flags("r2")], {
      cwd: root,
      env: { ...process.env, ...env, FLEUVE_KAFKA_SESSION_TIMEOUT_MS: "6000" },
      stdio: ["ignore", fd, fd]
    })
    closeSync(fd)
    workers.push(worker)
    const db = join(dir, "kafka.duckdb")
    const run = await runCliAsync([
      "reeval", "--warehouse", db, "--tasks", "mcqa", "--shots", "0", "--limit", "2", "--systems", "char-3gram",
      ...flags("r1"), "--endpoint-name", other, "--runtime", "kafka", "--scorer-workers", other
    ], { env })
    worker.kill("SIGTERM")
    await new Promise((r) => (worker.exitCode !== null ? r(undefined) : worker.once("exit", r)))
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, /, 2 dead letter\(s\)/)
    const r = await runCliAsync(["query", "--warehouse", db, "--format", "json", "SELECT operator, reason, record::VARCHAR AS record FROM dead_letters ORDER BY ALL"])
    assert.equal(r.code, 0, r.stderr)
    const letters = JSON.parse(r.stdout) as Array<{ operator: string; reason: string; record: string }>
    assert.equal(letters.length, 2)
    for (const l of letters) {
      assert.equal(l.operator, "predict")
      // The model ids carry the endpoint, its password masked.
      assert.match(l.reason, /^request for .*fleuve:<redacted>@127\.0\.0\.1.*@r1\+tokenizer:\w+\+\w* sent to .*@r2\+tokenizer/)
    }
    const texts = [JSON.stringify(letters), readFileSync(log, "utf8"), run.stdout, run.stderr, ...(await readTopic(`eval.requests.${other}.dlq`, 2))]
    for (const t of texts) assert.ok(!t.includes("5ecret") && !t.includes("9ecret"), "no credential in the dead letters, their topic or the logs")
  })

  it("a scorer worker refuses the grid's other nodes, and runs only with the system's model", { timeout: 60_000 }, async () => {
    const land = await runCliAsync(["worker", "land-scores", "--pipeline", "evaluate-x"])
    assert.equal(land.code, 1)
    assert.match(land.stderr, /only its scorer stage 'predict' runs in a worker; 'land-scores' needs the warehouse/)
    const none = await runCliAsync(["worker", "predict", "--pipeline", "evaluate-x"])
    assert.equal(none.code, 1)
    assert.match(none.stderr, /needs the system's model, as reeval was given it: --endpoint URL --endpoint-model NAME/)
    const embedded = await runCliAsync(["reeval", "--warehouse", join(tempDir("fleuve-grid-workers-"), "w.duckdb"), "--scorer-workers", "char-3gram", "--limit", "1"])
    assert.equal(embedded.code, 1)
    assert.match(embedded.stderr, /--scorer-workers needs --runtime kafka/)
  })
})

// The same for a checkpoint fleuve loads itself (`--model`): the worker loads the committed tiny
// Qwen3 on the cpu backend and answers the grid of the system reeval names with the same flags.
describe("the grid's scorer stage of a --model system in a `fleuve worker` process (real broker)", () => {
  it("lands the embedded run's predictions and scores, each request once", { timeout: 180_000 }, async () => {
    const dir = tempDir("fleuve-grid-workers-")
    const system = `tiny-${uniqueTag()}`
    const model = ["--model", join(root, "test/fixtures/qwen3-tiny"), "--model-name", system, "--backend", "cpu"]
    const reevalArgs = (db: string) => ["reeval", "--warehouse", db, "--tasks", "mcqa,extqa", "--shots", "0", "--limit", "3", "--systems", "char-3gram", ...model]
    const embedded = await runCliAsync(reevalArgs(join(dir, "embedded.duckdb")))
    assert.equal(embedded.code, 0, embedded.stderr)
    const log = join(dir, "worker.log")
    const fd = openSync(log, "a")
    const worker = spawn(process.execPath, [bin, "worker", "predict", "--pipeline", `evaluate-${system}`, "--instance", `w-${system}`, ...model], {
      cwd: root,
      env: { ...process.env, FLEUVE_KAFKA_SESSION_TIMEOUT_MS: "6000" },
      stdio: ["ignore", fd, fd]
    })
    closeSync(fd)
    workers.push(worker)
    const db = join(dir, "kafka.duckdb")
    const kafka = await runCliAsync([...reevalArgs(db), "--runtime", "kafka", "--scorer-workers", system])
    worker.kill("SIGTERM")
    await new Promise((r) => (worker.exitCode !== null ? r(undefined) : worker.once("exit", r)))
    assert.equal(kafka.code, 0, `${kafka.stderr}\n--- worker:\n${readFileSync(log, "utf8")}`)
    assert.match(readFileSync(log, "utf8"), /progress: predict 6→6/)
    const query = async (warehouse: string, sql: string) => {
      const r = await runCliAsync(["query", "--warehouse", warehouse, "--format", "json", sql])
      assert.equal(r.code, 0, r.stderr)
      return JSON.parse(r.stdout) as Array<Record<string, unknown>>
    }
    const PREDICTIONS = `SELECT system, cache_key, options::VARCHAR AS options, output, model_id, model_revision FROM predictions ORDER BY ALL`
    const SCORES = `SELECT system, task, shots, item_id, metric, score FROM scores ORDER BY ALL`
    const want = await query(join(dir, "embedded.duckdb"), PREDICTIONS)
    assert.equal(want.filter((p) => p.system === system).length, 6)
    assert.deepEqual(await query(db, PREDICTIONS), want)
    assert.deepEqual(await query(db, SCORES), await query(join(dir, "embedded.duckdb"), SCORES))
    assert.equal((await countCommitted(testSettings(), `eval.predictions.${system}`, 6)).count, 6)
  })
})
