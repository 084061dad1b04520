// Endpoint systems against a real third-party OpenAI-compatible server: llama.cpp's (PyPI
// llama-cpp-python, built from source by scripts/setup/60-llama-cpp.sh) serving f32 GGUFs made by
// llama.cpp's own convert_hf_to_gguf.py: a tiny random Qwen3 with the real Qwen3 tokenizer (short
// items only: that server sorts the 151 936-entry vocabulary in Python for every echoed prompt token,
// about a second each here), and the committed tiny Qwen3 (384-token tokenizer, 1024-token window)
// for everything else.
// fleuve's endpoint scores equal fleuve's own runtime (tfjs cpu) on the same HF checkpoint within
// the conversion's tolerance (f32 GGUF: 1e-3 nat per option), the MCQA choice of every item is the
// same, greedy generations are the same text (with and without stop strings); the boundary found
// by the server's text offsets equals the one from tokenizer.json; the API key is sent and never
// shown. A fault test kills the server mid-grid and restarts it: every request lands exactly once.
//
// llama-cpp-python's server always puts the BOS token (<|endoftext|> for Qwen3) before a prompt, so
// the runtime side scores "<|endoftext|>" + context: the same tokens the server sees.
import assert from "node:assert/strict"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { after, before, describe, it } from "node:test"
import { Effect, Redacted } from "effect"
import { selectBackend } from "../../../model/tfjs/backend.ts"
import { loadModelDir } from "../../../model/qwen3/checkpoint.ts"
import { scoreContinuations } from "../../../model/runtime/scoring.ts"
import { generateGreedy } from "../../../model/runtime/generate.ts"
import { makeEndpointQaModel } from "../../../operators/qa/endpoint-model.ts"
import { offlineReferenceJudge } from "../../../operators/qa/judge/offline-reference.ts"
import { loadManifest, SAMPLE_MANIFEST } from "../../../operators/qa/loaders/manifest.ts"
import { loadPromptSet } from "../../../operators/qa/prompts/templates.ts"
import { evaluate, gridRequests } from "../../../pipelines/evaluate/grid.ts"
import { endpointSystem } from "../../../pipelines/evaluate/systems.ts"
import { Runs } from "../../../warehouse/runs.ts"
import { Warehouse } from "../../../warehouse/warehouse.ts"
import { llamaServer, type LlamaServer, llamaServerMissing, qwentokModelDir, tiny1kModelDir } from "../../helpers/llama-server.ts"
import { runCli, runWithWarehouse, tempDir, tempWarehousePath } from "../../helpers/warehouse.ts"

const TOL = 1e-3
const BOS = "<|endoftext|>"
// Skipped only outside CI when the server is not installed (FLEUVE_SKIP_SETUP runs); on CI a missing install fails.
const missing = process.env.CI ? undefined : llamaServerMissing()

const ITEMS: ReadonlyArray<{ readonly context: string; readonly options: ReadonlyArray<string> }> = [
  { context: "Question : quel organe filtre le sang ?\nRéponse :", options: [" les reins", " le cœur", " les poumons", " le foie"] },
  { context: "Question : quel organe filtre le sang ?\nRéponse : ", options: ["les reins", "le cœur", "les poumons"] },
  { context: "Quel antidote pour les opioïdes ? Réponse :\t", options: ["Naloxone", "Flumazénil", "Atropine"] },
  { context: "Le patient présente une fièvre\r\n", options: ["persistante depuis trois jours.", "légère.", "A"] },
  { context: "Posologie maximale du paracétamol :\u00a0", options: ["4 g par jour", "10 g par jour"] },
  { context: "Réponse (A, B, C, D ou E) :\n\n", options: ["A", "B", "C", "D", "E"] }
]
const PROMPTS = ["Le patient présente", "Quelle est la dose maximale de paracétamol chez l'adulte ?", "Après l'intervention,"]

const SHORT = { context: "Antidote des opioïdes :\t", options: ["Naloxone", "Atropine"] }

describe("endpoint systems on llama.cpp's server, real Qwen3 tokenizer", { skip: missing }, () => {
  let server: LlamaServer
  const local = { current: undefined as ReturnType<typeof loadModelDir> | undefined }
  before(async () => {
    await selectBackend("cpu")
    local.current = loadModelDir(qwentokModelDir)
    server = await llamaServer({ model: "qwentok", apiKey: "sk-test-5ecret" })
  })
  after(async () => {
    await server?.kill()
    local.current?.model.dispose()
  })
  const key = Redacted.make("sk-test-5ecret")

  it("scores as fleuve's runtime does within 1e-3 nat; tokenizer.json and text offsets agree", async () => {
    const { model, tokenizer } = local.current!
    assert.deepEqual(tokenizer.encode(BOS), [151643], "the runtime reads the BOS token the server prepends")
    const withTok = await Effect.runPromise(makeEndpointQaModel({ endpoint: server.url, model: server.alias, tokenizer: qwentokModelDir, apiKey: key }))
    const byOffsets = await Effect.runPromise(makeEndpointQaModel({ endpoint: server.url, model: server.alias, apiKey: key }))
    const ref = await scoreContinuations(model, tokenizer, BOS + SHORT.context, SHORT.options)
    const a = await Effect.runPromise(withTok.loglikelihood(SHORT.context, SHORT.options))
    const b = await Effect.runPromise(byOffsets.loglikelihood(SHORT.context, SHORT.options))
    SHORT.options.forEach((o, i) => {
      assert.equal(a.options[i]!.tokens, ref.options[i]!.tokenIds.length, o)
      assert.ok(Math.abs(a.options[i]!.logprob - ref.options[i]!.logprob) < TOL, `${o}: endpoint ${a.options[i]!.logprob} vs runtime ${ref.options[i]!.logprob}`)
      assert.equal(a.options[i]!.greedy, ref.options[i]!.greedy)
      assert.deepEqual(b.options[i], a.options[i])
    })
  })

  it("generates the runtime's greedy text", async () => {
    const { model, tokenizer } = local.current!
    const endpoint = await Effect.runPromise(makeEndpointQaModel({ endpoint: server.url, model: server.alias, apiKey: key }))
    for (const prompt of PROMPTS) {
      const [ref] = await generateGreedy(model, tokenizer, [BOS + prompt], { maxNewTokens: 12 })
      const got = await Effect.runPromise(endpoint.generate(prompt, { maxNewTokens: 12, stop: [] }))
      assert.equal(got.text, ref!.text, `greedy continuation of ${JSON.stringify(prompt)}`)
    }
  })
})

describe("endpoint systems on llama.cpp's server, tiny fixture model", { skip: missing }, () => {
  let server: LlamaServer
  const local = { current: undefined as ReturnType<typeof loadModelDir> | undefined }
  before(async () => {
    await selectBackend("cpu")
    local.current = loadModelDir(tiny1kModelDir)
    server = await llamaServer({ model: "tiny1k", apiKey: "sk-test-5ecret" })
  })
  after(async () => {
    await server?.kill()
    local.current?.model.dispose()
  })
  const key = Redacted.make("sk-test-5ecret")

  it("scores options as fleuve's runtime does, within 1e-3 nat, with the same choice per item", async () => {
    const { model, tokenizer } = local.current!
    assert.deepEqual(tokenizer.encode(BOS), [0], "the runtime reads the BOS token the server prepends")
    const withTok = await Effect.runPromise(makeEndpointQaModel({ endpoint: server.url, model: server.alias, tokenizer: tiny1kModelDir, apiKey: key, concurrency: 2 }))
    const byOffsets = await Effect.runPromise(makeEndpointQaModel({ endpoint: server.url, model: server.alias, apiKey: key, concurrency: 2 }))
    let compared = 0
    for (const item of ITEMS) {
      const ref = await scoreContinuations(model, tokenizer, BOS + item.context, item.options)
      const a = await Effect.runPromise(withTok.loglikelihood(item.context, item.options))
      const b = await Effect.runPromise(byOffsets.loglikelihood(item.context, item.options))
      item.options.forEach((o, i) => {
        const r = ref.options[i]!
        assert.equal(a.options[i]!.tokens, r.tokenIds.length, `${JSON.stringify(item.context)} + ${JSON.stringify(o)}: token count`)
        assert.ok(Math.abs(a.options[i]!.logprob - r.logprob) < TOL, `${JSON.stringify(item.context)} + ${JSON.stringify(o)}: endpoint ${a.options[i]!.logprob} vs runtime ${r.logprob}`)
        assert.equal(a.options[i]!.greedy, r.greedy, `${JSON.stringify(o)}: greedy`)
        // The server's text offsets find the same boundary as the tokenizer.
        assert.equal(b.options[i]!.tokens, a.options[i]!.tokens)
        assert.equal(b.options[i]!.logprob, a.options[i]!.logprob)
        compared++
      })
      const argmax = (xs: ReadonlyArray<number>) => xs.indexOf(Math.max(...xs))
      assert.equal(argmax(a.options.map((o) => o.logprob)), argmax(ref.options.map((o) => o.logprob)), `MCQA choice for ${JSON.stringify(item.context)}`)
    }
    assert.equal(compared, ITEMS.reduce((n, it) => n + it.options.length, 0))
  })

  it("generates the runtime's greedy text, with and without stop strings", async () => {
    const { model, tokenizer } = local.current!
    const endpoint = await Effect.runPromise(makeEndpointQaModel({ endpoint: server.url, model: server.alias, apiKey: key }))
    for (const prompt of PROMPTS) {
      const [ref] = await generateGreedy(model, tokenizer, [BOS + prompt], { maxNewTokens: 12 })
      const got = await Effect.runPromise(endpoint.generate(prompt, { maxNewTokens: 12, stop: [] }))
      assert.equal(got.text, ref!.text, `greedy continuation of ${JSON.stringify(prompt)}`)
      // A stop string taken from the middle of that text cuts both at the same place.
      const chars = [...ref!.text]
      const stop = chars.slice(Math.floor(chars.length / 2), Math.floor(chars.length / 2) + 2).join("")
      if (stop.trim() === "") continue
      const [refStop] = await generateGreedy(model, tokenizer, [BOS + prompt], { maxNewTokens: 12, stop: [stop] })
      const gotStop = await Effect.runPromise(endpoint.generate(prompt, { maxNewTokens: 12, stop: [stop] }))
      assert.equal(gotStop.text, refStop!.text, `stop ${JSON.stringify(stop)}`)
      assert.ok(gotStop.text.length < got.text.length)
    }
  })

  it("sends the API key, and shows neither it nor URL credentials in errors", async () => {
    const noKey = await Effect.runPromise(makeEndpointQaModel({ endpoint: server.url, model: server.alias, retries: 0 }))
    const failed = await Effect.runPromise(Effect.flip(noKey.loglikelihood("Réponse :", [" A"])))
    assert.match(failed.message, /HTTP 401/)
    const withCreds = server.url.replace("http://", "http://alice:pa55word@")
    const creds = await Effect.runPromise(makeEndpointQaModel({ endpoint: withCreds, model: server.alias, retries: 0 }))
    assert.ok(!creds.modelId.includes("pa55word"), creds.modelId)
    const e = await Effect.runPromise(Effect.flip(creds.loglikelihood("Réponse :", [" A"])))
    assert.ok(!e.message.includes("pa55word") && !e.message.includes("alice"), e.message)
    const ok = await Effect.runPromise(makeEndpointQaModel({ endpoint: server.url, model: server.alias, apiKey: key }))
    assert.ok(!JSON.stringify(ok.modelId + ok.modelRevision).includes("5ecret"))
    assert.ok(!String(key).includes("5ecret") && !JSON.stringify({ key }).includes("5ecret"), "the key is a redacted value")
  })

  it("puts endpoint and revision into the cache key: two endpoints or revisions never share predictions", async () => {
    const prompts = loadPromptSet()
    const { tasks } = await Effect.runPromise(loadManifest(SAMPLE_MANIFEST, ["mcqa"]))
    const small = tasks.map((t) => ({ ...t, test: t.test.slice(0, 1) }))
    const make = (url: string, revision?: string) =>
      Effect.runPromise(endpointSystem({ endpoint: url, model: server.alias, apiKey: key, ...(revision ? { revision } : {}) }))
    const a = await make(server.url, "r1")
    const b = await make(server.url, "r2")
    const c = await make(server.url.replace("127.0.0.1", "localhost"), "r1")
    const plan = { tasks: small, shots: [0], prompts, judge: offlineReferenceJudge, systems: [] }
    const keys = [a, b, c].map((s) => gridRequests(plan, s)[0]!.cacheKey)
    assert.equal(new Set(keys).size, 3)
    assert.equal(a.model.modelRevision, "r1")
    assert.equal((await make(server.url)).model.modelRevision, "unreported", "llama.cpp reports no revision")
  })

  it("lands every request of a grid exactly once when the server is killed mid-grid and restarted", async () => {
    const prompts = loadPromptSet()
    const { tasks } = await Effect.runPromise(loadManifest(SAMPLE_MANIFEST, ["mcqa", "extqa"]))
    const small = tasks.map((t) => ({ ...t, test: t.test.slice(0, t.task === "mcqa" ? 6 : 3) }))
    const run = async (withFault: boolean) => {
      const system = await Effect.runPromise(endpointSystem({ endpoint: server.url, model: server.alias, system: "llama", apiKey: key, tokenizer: tiny1kModelDir, concurrency: 3, retries: 10 }))
      const client = (system.model as unknown as { client: { stats: () => { requests: number; retries: number } } }).client
      const plan = { systems: [system], tasks: small, shots: [0], prompts, judge: offlineReferenceJudge }
      let killed = false
      const watcher = withFault
        ? setInterval(() => {
          if (!killed && client.stats().requests >= 8) {
            killed = true
            void server.kill().then(() => new Promise((r) => setTimeout(r, 1500))).then(() => server.start())
          }
        }, 5)
        : undefined
      try {
        return await runWithWarehouse(tempWarehousePath(), Effect.gen(function*() {
          yield* Runs.start("r", "test", {})
          const counts = yield* evaluate("r", plan)
          const w = yield* Warehouse
          const preds = yield* w.query<{ cache_key: string; options: string | null; output: string | null }>(
            "SELECT cache_key, options::VARCHAR AS options, output FROM predictions WHERE system = 'llama' ORDER BY cache_key"
          )
          // One scored item per request (scores has a row per metric; the key forbids duplicates).
          const scores = yield* w.query<{ n: number }>("SELECT count(DISTINCT (task, shots, item_id)) AS n FROM scores WHERE system = 'llama'")
          const dead = yield* w.query<{ n: number }>("SELECT count(*) AS n FROM dead_letters")
          return { counts, preds, scores: Number(scores[0]!.n), dead: Number(dead[0]!.n), stats: client.stats(), killed, total: gridRequests(plan, system).length }
        }))
      } finally {
        if (watcher) clearInterval(watcher)
      }
    }
    const clean = await run(false)
    const faulty = await run(true)
    assert.ok(faulty.killed, "the server was killed mid-grid")
    assert.ok(faulty.stats.retries > 0, "requests were retried")
    for (const r of [clean, faulty]) {
      assert.equal(r.dead, 0)
      assert.equal(Object.values(r.counts.scored).reduce((a, b) => a + b, 0), r.total, "every request went through the pipeline once")
      assert.equal(r.scores, r.total)
      assert.equal(r.preds.length, r.total)
    }
    // The same predictions as the run without a fault, request by request.
    assert.deepEqual(faulty.preds, clean.preds)
  })

  it("fleuve reeval --endpoint scores through the server; output and runs.args show no credentials", async () => {
    const dir = tempDir()
    const sample = join(import.meta.dirname, "..", "..", "..", "data", "qa")
    mkdirSync(join(dir, "mcqa"))
    writeFileSync(join(dir, "mcqa", "test.jsonl"), readFileSync(join(sample, "mcqa", "test.jsonl"), "utf8").split("\n").slice(0, 4).join("\n") + "\n")
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ name: "endpoint-cli", tasks: { mcqa: { format: "frenchmedmcqa", test: "mcqa/test.jsonl", train: join(sample, "mcqa", "train.jsonl") } } }))
    const db = join(dir, "w.duckdb")
    const url = server.url.replace("http://", "http://alice:pa55word@")
    const r = runCli(["reeval", "--manifest", join(dir, "manifest.json"), "--warehouse", db, "--tasks", "mcqa", "--shots", "0", "--systems", "char-3gram",
      "--endpoint", url, "--endpoint-model", server.alias, "--endpoint-name", "llama", "--endpoint-revision", "r1", "--endpoint-concurrency", "2"], { env: { FLEUVE_ENDPOINT_API_KEY: "sk-test-5ecret" } })
    assert.equal(r.code, 0, r.stderr)
    for (const secret of ["pa55word", "5ecret"]) assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), `${secret} printed`)
    const rows = await runWithWarehouse(db, Effect.gen(function*() {
      const w = yield* Warehouse
      const args = yield* w.query<{ args: string }>("SELECT args::VARCHAR AS args FROM runs WHERE command = 'reeval'")
      const preds = yield* w.query<{ n: number; model_id: string; model_revision: string }>("SELECT count(*) AS n, any_value(model_id) AS model_id, any_value(model_revision) AS model_revision FROM predictions WHERE system = 'llama'")
      return { args: args.map((a) => a.args).join("\n"), preds: preds[0]! }
    }))
    assert.equal(Number(rows.preds.n), 4)
    assert.equal(rows.preds.model_revision, "r1")
    assert.match(rows.preds.model_id, /^qwen3-tiny-tiny1k@http:\/\/\*\*\*@127\.0\.0\.1:\d+/)
    assert.match(rows.args, /"modelId":"qwen3-tiny-tiny1k@http:\/\/\*\*\*@127/)
    for (const secret of ["pa55word", "alice", "5ecret"]) assert.ok(!rows.args.includes(secret), `${secret} in runs.args`)
  })
})
