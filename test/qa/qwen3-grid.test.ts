import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect } from "effect"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { scoreContinuations } from "../../model/runtime/scoring.ts"
import { ModelHandle } from "../../model/runtime/model-handle.ts"
import { localModelJudge } from "../../operators/qa/judge/local-model.ts"
import { loadManifest, SAMPLE_MANIFEST } from "../../operators/qa/loaders/manifest.ts"
import { loadPromptSet } from "../../operators/qa/prompts/templates.ts"
import { modelRevisionOf, qwen3QaModel } from "../../operators/qa/qwen3-model.ts"
import { evaluate } from "../../pipelines/evaluate/grid.ts"
import { Runs } from "../../warehouse/runs.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { tinyDir } from "../helpers/model-fixture.ts"
import { runWithWarehouse, tempWarehousePath } from "../helpers/warehouse.ts"

test("the grid drives the tfjs Qwen3 runtime: stored option log-likelihoods, cache, local-model judge", async () => {
  await selectBackend("cpu")
  const handle = ModelHandle.load({ dir: tinyDir })
  const loaded = handle.current
  const model = qwen3QaModel(handle, { modelId: "qwen3-tiny" })
  assert.equal(model.modelRevision, modelRevisionOf(tinyDir))
  const prompts = loadPromptSet()
  const { tasks } = await Effect.runPromise(loadManifest(SAMPLE_MANIFEST))
  const small = tasks.map((t) => ({ ...t, test: t.test.slice(0, 2) }))
  const judge = localModelJudge(model)
  const plan = { systems: [{ system: "qwen3-tiny", model }], tasks: small, shots: [0, 1], prompts, judge }
  const db = tempWarehousePath()
  const out = await runWithWarehouse(db, Effect.gen(function*() {
    yield* Runs.start("q1", "test", {})
    const first = yield* evaluate("q1", plan)
    yield* Runs.start("q2", "test", {})
    const second = yield* evaluate("q2", plan)
    const w = yield* Warehouse
    const mc = yield* w.query<{ item_id: string; shots: number; options: string; model_id: string; model_revision: string }>(
      "SELECT item_id, shots, options::VARCHAR AS options, model_id, model_revision FROM prediction_cache WHERE task = 'mcqa' AND shots = 0 ORDER BY item_id"
    )
    const judged = yield* w.query<{ n: number; judges: string }>("SELECT count(*) AS n, string_agg(DISTINCT judge, ',') AS judges FROM scores WHERE task = 'absqa'")
    const dead = yield* w.query<{ n: number }>("SELECT count(*) AS n FROM dead_letters WHERE reason LIKE 'judge local-model/%'")
    return { first, second, mc, judged, dead }
  }))
  assert.deepEqual(out.first.scored, { mcqa: 4, extqa: 4, absqa: 4 })
  assert.deepEqual(out.second.scored, {})
  assert.equal(out.second.current, 12)
  assert.equal(out.mc.length, 2)
  // The stored log-likelihoods are the runtime's own, option by option.
  const item = small.find((t) => t.task === "mcqa")!.test[0]!.item
  assert.equal(item.task, "mcqa")
  const { buildEvalRequest } = await import("../../operators/qa/requests.ts")
  const req = buildEvalRequest(prompts, { system: "qwen3-tiny", ...model }, small.find((t) => t.task === "mcqa")!.test[0]!, small.find((t) => t.task === "mcqa")!.train, 0)
  const direct = await scoreContinuations(loaded.model, loaded.tokenizer, req.prompt, req.continuations!)
  const stored = JSON.parse(out.mc[0]!.options) as Array<{ logprob: number; tokens: number }>
  assert.deepEqual(stored.map((o) => o.logprob), direct.options.map((o) => o.logprob))
  assert.deepEqual(stored.map((o) => o.tokens), direct.options.map((o) => o.tokenIds.length))
  assert.equal(out.mc[0]!.model_id, "qwen3-tiny")
  // A random tiny model rarely writes a readable verdict: each AbsQA answer is either scored by
  // the local-model judge (its id stored) or kept as a dead letter naming that judge.
  assert.equal(out.judged[0]!.n + out.dead[0]!.n, 4)
  if (out.judged[0]!.n > 0) assert.match(out.judged[0]!.judges, /^local-model\/qwen3-tiny@/)
})
