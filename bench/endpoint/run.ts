// Grid throughput through an OpenAI-compatible endpoint vs fleuve's own runtime, same model, same
// CPU, same run: the committed tiny Qwen3 (test/fixtures/qwen3-tiny, window raised to 1024 by
// scripts/setup/60-llama-cpp.sh) as an HF checkpoint scored by fleuve's tfjs runtime (cpu backend;
// MCQA options share one prompt pass through a KV cache), and as an f32 GGUF served by llama.cpp's
// server (llama-cpp-python, 1 thread; options one request each, the first alone so its prefix
// cache serves the others), at 1 and 4 requests in flight. Each side runs the whole grid (sample
// data: 60 MCQA + 40 ExtQA items, 0 shots) into a fresh warehouse, twice, alternating; the best
// wall time of each is kept.
//
//   npx tsx bench/endpoint/run.ts
import { Effect } from "effect"
import { loadavg } from "node:os"
import { selectBackend } from "../../model/index.ts"
import { offlineReferenceJudge } from "../../operators/qa/judge/offline-reference.ts"
import { loadManifest, SAMPLE_MANIFEST } from "../../operators/qa/loaders/manifest.ts"
import { loadPromptSet } from "../../operators/qa/prompts/templates.ts"
import { loadQwen3QaModel } from "../../operators/qa/qwen3-model.ts"
import { evaluate, type EvalSystem, gridRequests } from "../../pipelines/evaluate/grid.ts"
import { endpointSystem } from "../../pipelines/evaluate/systems.ts"
import { Runs } from "../../warehouse/runs.ts"
import { llamaServer, llamaServerMissing, tiny1kModelDir } from "../../test/helpers/llama-server.ts"
import { runWithWarehouse, tempWarehousePath } from "../../test/helpers/warehouse.ts"

const missing = llamaServerMissing()
if (missing) {
  console.error(missing)
  process.exit(1)
}
const shots = (process.env.BENCH_SHOTS ?? "0").split(",").map(Number)
const prompts = loadPromptSet()
const { tasks } = await Effect.runPromise(loadManifest(SAMPLE_MANIFEST, ["mcqa", "extqa"]))
await selectBackend("cpu")
const server = await llamaServer({ model: "tiny1k" })

const runGrid = async (system: EvalSystem) => {
  const plan = { systems: [system], tasks, shots, prompts, judge: offlineReferenceJudge }
  const requests = gridRequests(plan, system).length
  const httpBefore = (system.model as { client?: { stats: () => { requests: number } } }).client?.stats().requests ?? 0
  const load = loadavg()[0]!
  const t0 = performance.now()
  await runWithWarehouse(tempWarehousePath(), Effect.gen(function*() {
    yield* Runs.start("bench", "bench", {})
    return yield* evaluate("bench", plan)
  }))
  const seconds = (performance.now() - t0) / 1000
  const http = ((system.model as { client?: { stats: () => { requests: number } } }).client?.stats().requests ?? 0) - httpBefore
  return { requests, http, seconds, load }
}

try {
  const runtime: EvalSystem = { system: "runtime", model: loadQwen3QaModel(tiny1kModelDir, { modelId: "qwen3-tiny-1k" }) }
  const endpoint1 = await Effect.runPromise(endpointSystem({ endpoint: server.url, model: server.alias, system: "endpoint-c1", tokenizer: tiny1kModelDir, concurrency: 1 }))
  const endpoint4 = await Effect.runPromise(endpointSystem({ endpoint: server.url, model: server.alias, system: "endpoint-c4", tokenizer: tiny1kModelDir, concurrency: 4 }))
  const best: Record<string, Awaited<ReturnType<typeof runGrid>>> = {}
  for (let round = 0; round < 2; round++) {
    for (const s of [runtime, endpoint1, endpoint4]) {
      const r = await runGrid(s)
      console.error(`round ${round + 1} ${s.system}: ${r.requests} grid requests (${r.http} HTTP) in ${r.seconds.toFixed(2)} s, load ${r.load.toFixed(1)}`)
      if (!best[s.system] || r.seconds < best[s.system]!.seconds) best[s.system] = r
    }
  }
  const base = best["runtime"]!
  console.log("| system | grid requests | HTTP requests | best wall (s) | grid requests/s | HTTP requests/s | vs runtime | load (1 min) |")
  console.log("|---|---|---|---|---|---|---|---|")
  for (const [name, r] of Object.entries(best)) {
    console.log(`| ${name} | ${r.requests} | ${r.http || "—"} | ${r.seconds.toFixed(2)} | ${(r.requests / r.seconds).toFixed(1)} | ${r.http ? (r.http / r.seconds).toFixed(1) : "—"} | ${(base.seconds / r.seconds).toFixed(2)}× | ${r.load.toFixed(1)} |`)
  }
} finally {
  await server.kill()
}
