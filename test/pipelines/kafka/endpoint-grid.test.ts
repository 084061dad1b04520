// Issue 19: the Kafka evaluation grid's scorer stage takes an endpoint system. `fleuve reeval
// --runtime kafka --endpoint URL --endpoint-model M` runs each system's grid as consumer groups on
// the real broker; the scorer stage (predict, a transactional stage) scores through llama.cpp's
// OpenAI-compatible server (PyPI llama-cpp-python, built by scripts/setup/60-llama-cpp.sh, serving
// the committed tiny Qwen3 as an f32 GGUF). The rows equal the embedded run's on the same server,
// and land exactly once: every request is one committed record on the predictions topic, every
// score row one committed record on the scores topic.
import assert from "node:assert/strict"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { llamaServer, type LlamaServer, llamaServerMissing, tiny1kModelDir } from "../../helpers/llama-server.ts"
import { runCliAsync, tempDir } from "../../helpers/warehouse.ts"
import { countCommitted, root, testSettings, uniqueTag } from "./helpers.ts"

// Skipped only outside CI when the server is not installed (FLEUVE_SKIP_SETUP runs); on CI a missing install fails.
const missing = process.env.CI ? undefined : llamaServerMissing()

describe("the Kafka grid's scorer stage on an endpoint system (llama.cpp server, real broker)", { skip: missing }, () => {
  let server: LlamaServer
  before(async () => {
    server = await llamaServer({ model: "tiny1k", apiKey: "sk-test-5ecret" })
  })
  after(async () => {
    await server?.kill()
  })

  it("lands the same rows as the embedded endpoint run, each exactly once", { timeout: 300_000 }, async () => {
    const dir = tempDir("fleuve-endpoint-kafka-")
    const sample = join(root, "data", "qa")
    mkdirSync(join(dir, "mcqa"))
    writeFileSync(join(dir, "mcqa", "test.jsonl"), readFileSync(join(sample, "mcqa", "test.jsonl"), "utf8").split("\n").slice(0, 4).join("\n") + "\n")
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({
      name: "endpoint-kafka",
      tasks: {
        mcqa: { format: "frenchmedmcqa", test: "mcqa/test.jsonl", train: join(sample, "mcqa", "train.jsonl") },
        extqa: { format: "squad", test: join(sample, "extqa", "test.jsonl"), train: join(sample, "extqa", "train.jsonl") },
        absqa: { format: "mediqal-oeq", test: join(sample, "absqa", "test.jsonl"), train: join(sample, "absqa", "train.jsonl") }
      }
    }))
    // A system name of its own: the grid's topics are named after it, and outlive the run on the broker.
    const system = `llama-${uniqueTag()}`
    const args = (db: string) => [
      "reeval", "--manifest", join(dir, "manifest.json"), "--warehouse", db, "--tasks", "mcqa,extqa", "--shots", "0", "--limit", "3", "--systems", "char-3gram",
      "--endpoint", server.url, "--endpoint-model", server.alias, "--endpoint-name", system, "--endpoint-tokenizer", tiny1kModelDir, "--endpoint-revision", "r1", "--endpoint-concurrency", "2"
    ]
    const env = { FLEUVE_ENDPOINT_API_KEY: "sk-test-5ecret" }
    const embedded = await runCliAsync(args(join(dir, "embedded.duckdb")), { env })
    assert.equal(embedded.code, 0, embedded.stderr)
    const kafka = await runCliAsync([...args(join(dir, "kafka.duckdb")), "--runtime", "kafka"], { env })
    assert.equal(kafka.code, 0, kafka.stderr)
    assert.match(kafka.stderr, /reeval on the kafka runtime/)
    assert.ok(!kafka.stderr.includes("5ecret") && !kafka.stdout.includes("5ecret"), "the API key is never printed")

    const query = async (db: string, sql: string) => {
      const r = await runCliAsync(["query", "--warehouse", db, "--format", "json", sql])
      assert.equal(r.code, 0, r.stderr)
      return JSON.parse(r.stdout) as Array<Record<string, unknown>>
    }
    const SCORES = `SELECT system, task, shots, item_id, metric, score FROM scores ORDER BY ALL`
    const PREDICTIONS = `SELECT system, cache_key, options::VARCHAR AS options, output, model_id, model_revision FROM predictions ORDER BY ALL`
    const [wantScores, gotScores] = [await query(join(dir, "embedded.duckdb"), SCORES), await query(join(dir, "kafka.duckdb"), SCORES)]
    const [wantPreds, gotPreds] = [await query(join(dir, "embedded.duckdb"), PREDICTIONS), await query(join(dir, "kafka.duckdb"), PREDICTIONS)]
    const ours = (rows: Array<Record<string, unknown>>) => rows.filter((r) => r.system === system)
    // 3 MCQA items (log-likelihoods of their options) and 3 ExtQA items (greedy generations) through the server.
    assert.equal(ours(wantPreds).length, 6)
    assert.ok(ours(wantPreds).some((p) => p.options !== null) && ours(wantPreds).some((p) => p.output !== null))
    assert.deepEqual(gotScores, wantScores)
    assert.deepEqual(gotPreds, wantPreds)

    // Exactly once on the broker: one committed prediction a request, one committed score record a row.
    const settings = testSettings()
    const predictions = await countCommitted(settings, `eval.predictions.${system}`, 6)
    assert.equal(predictions.count, 6)
    const scoreRows = ours(gotScores).length
    const scores = await countCommitted(settings, `eval.scores.${system}`, scoreRows)
    assert.equal(scores.count, scoreRows)
  })
})
