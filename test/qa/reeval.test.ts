import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect } from "effect"
import { cpSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { offlineReferenceJudge } from "../../operators/qa/judge/offline-reference.ts"
import { cacheKeyOf } from "../../operators/qa/prediction-key.ts"
import { evaluate } from "../../pipelines/evaluate/grid.ts"
import { reeval } from "../../pipelines/evaluate/reeval.ts"
import { baselineSystems } from "../../pipelines/evaluate/systems.ts"
import { loadManifest } from "../../operators/qa/loaders/manifest.ts"
import { loadPromptSet } from "../../operators/qa/prompts/templates.ts"
import { Judgements } from "../../warehouse/eval-scores.ts"
import { Runs } from "../../warehouse/runs.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

const sample = resolve(import.meta.dirname, "../../data/qa")
const prompts = loadPromptSet()

const copySample = () => {
  const dir = tempDir("fleuve-reeval-")
  cpSync(sample, dir, { recursive: true })
  return join(dir, "enmed-sample.json")
}
const editJsonl = (file: string, edit: (rows: Array<Record<string, unknown>>) => Array<Record<string, unknown>>) => {
  const rows = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
  writeFileSync(file, edit(rows).map((r) => JSON.stringify(r)).join("\n") + "\n")
}
const q = <A extends Record<string, unknown>>(sql: string, params?: Array<string>) =>
  Effect.gen(function*() {
    return yield* (yield* Warehouse).query<A>(sql, params)
  })

test("cache key: every identity field counts", () => {
  const base = { modelId: "Qwen/Qwen3-14B", modelRevision: "abc", adapterHash: "none", kind: "generate" as const, promptHash: "p", decodingHash: "d", datasetVersion: "ds", itemHash: "i" }
  const k = cacheKeyOf(base)
  for (const [field, value] of Object.entries({ modelId: "Qwen/Qwen3-8B", modelRevision: "abd", adapterHash: "lora1", promptHash: "p2", decodingHash: "d2", datasetVersion: "ds2", itemHash: "i2" })) {
    assert.notEqual(cacheKeyOf({ ...base, [field]: value }), k, field)
  }
  assert.notEqual(cacheKeyOf({ ...base, kind: "loglikelihood", continuations: [" A"] }), cacheKeyOf({ ...base, kind: "loglikelihood", continuations: [" B"] }))
  assert.equal(cacheKeyOf({ ...base }), k)
})

test("two judges' verdicts on one prediction never share a key: each is kept and read back as its own", async () => {
  const db = tempWarehousePath()
  const key = cacheKeyOf({ modelId: "m", modelRevision: "r", adapterHash: "none", kind: "generate", promptHash: "p", decodingHash: "d", datasetVersion: "ds", itemHash: "i" })
  const [a, b] = await runWithWarehouse(db, Effect.gen(function*() {
    yield* Judgements.put([
      { cacheKey: key, judge: "judge-a", kind: "http", order: "reference-first", score: 2, raw: "Note: 2" },
      { cacheKey: key, judge: "judge-b", kind: "http", order: "reference-first", score: 5, raw: "Note: 5" }
    ])
    return [yield* Judgements.get([key], "judge-a"), yield* Judgements.get([key], "judge-b")]
  }))
  assert.equal(a!.get(key), 2)
  assert.equal(b!.get(key), 5)
})

test("one model's answers are never served for another", async () => {
  const db = tempWarehousePath()
  const manifest = copySample()
  const { tasks } = await Effect.runPromise(loadManifest(manifest, ["mcqa"]))
  const small = tasks.map((t) => ({ ...t, test: t.test.slice(0, 5) }))
  const [tri] = baselineSystems(prompts, tasks, ["char-3gram"])
  const [bi] = baselineSystems(prompts, tasks, ["char-2gram"])
  const plan = (systems: Array<{ system: string; model: typeof tri.model }>) => ({ systems, tasks: small, shots: [0], prompts, judge: offlineReferenceJudge })
  const counts = await runWithWarehouse(db, Effect.gen(function*() {
    const run = (id: string, systems: Parameters<typeof plan>[0]) => Runs.start(id, "test", {}).pipe(Effect.andThen(evaluate(id, plan(systems))))
    const first = yield* run("r1", [{ system: "A", model: tri!.model }])
    // Same model under another system name: the cache may answer (same answers by definition).
    const sameModel = yield* run("r2", [{ system: "B", model: tri!.model }])
    // Another model, or the same model with an adapter: the cache must not answer.
    const otherModel = yield* run("r3", [{ system: "C", model: bi!.model }])
    const adapted = yield* run("r4", [{ system: "D", model: { ...tri!.model, adapterHash: "sha256-of-some-lora" } }])
    const rows = yield* q<{ system: string; n: number; keys: number }>("SELECT system, count(*) AS n, count(DISTINCT cache_key) AS keys FROM predictions GROUP BY system ORDER BY system")
    const shared = yield* q<{ n: number }>("SELECT count(*) AS n FROM predictions a JOIN predictions b USING (task, shots, item_id) WHERE a.system = 'A' AND b.system IN ('C', 'D') AND a.cache_key = b.cache_key")
    return { first, sameModel, otherModel, adapted, rows, shared }
  }))
  assert.equal(counts.first.fromCache, 0)
  assert.equal(counts.sameModel.fromCache, 5)
  assert.equal(counts.otherModel.fromCache, 0)
  assert.equal(counts.adapted.fromCache, 0)
  assert.deepEqual(counts.shared, [{ n: 0 }])
  assert.deepEqual(counts.rows.map((r) => [r.system, r.n]), [["A", 5], ["B", 5], ["C", 5], ["D", 5]])
})

test("reeval: change 5% of one task's items → exactly those are re-scored; removed items retire", async () => {
  const db = tempWarehousePath()
  const manifest = copySample()
  const dir = resolve(manifest, "..")
  const opts = { manifest, shots: [0, 3], systems: (tasks: Parameters<typeof baselineSystems>[1]) => baselineSystems(prompts, tasks) }

  const first = await runWithWarehouse(db, reeval(opts))
  assert.deepEqual(first.eval.scored, { mcqa: 400, extqa: 200, absqa: 200 })
  assert.equal(first.diffs.mcqa!.added.length, 200)
  const counts1 = await runWithWarehouse(db, q<{ task: string; n: number }>("SELECT task, count(*) AS n FROM scores GROUP BY task ORDER BY task"))
  assert.deepEqual(counts1, [{ task: "absqa", n: 200 }, { task: "extqa", n: 400 }, { task: "mcqa", n: 2000 }])

  const again = await runWithWarehouse(db, reeval(opts))
  assert.deepEqual(again.eval.scored, {})
  assert.equal(again.eval.current, 800)

  // 10 of 200 MCQA items (5%) get a corrected question; one ExtQA item is removed.
  const changedIds = ["mcqa-0007", "mcqa-0023", "mcqa-0042", "mcqa-0058", "mcqa-0091", "mcqa-0104", "mcqa-0133", "mcqa-0150", "mcqa-0176", "mcqa-0199"]
  editJsonl(join(dir, "mcqa/test.jsonl"), (rows) => rows.map((r) => (changedIds.includes(String(r.id)) ? { ...r, question: `${String(r.question)} (énoncé corrigé)` } : r)))
  editJsonl(join(dir, "extqa/test.jsonl"), (rows) => rows.filter((r) => r.id !== "extqa-c01-q1"))
  const before = await runWithWarehouse(db, q<{ mean: number }>("SELECT avg(score) AS mean FROM scores WHERE task = 'mcqa' AND metric = 'acc'"))

  const third = await runWithWarehouse(db, reeval(opts))
  assert.deepEqual([...third.diffs.mcqa!.changed].sort(), changedIds)
  assert.deepEqual(third.diffs.extqa!.removed, ["extqa-c01-q1"])
  assert.deepEqual(third.eval.scored, { mcqa: 20 }) // 10 items × 2 shot counts, one system
  assert.equal(third.retiredScores, 4) // 1 item × 2 shots × (f1, em)

  const landed = await runWithWarehouse(db, Effect.gen(function*() {
    return {
      rescored: yield* q<{ item_id: string }>("SELECT DISTINCT item_id FROM scores WHERE run_id = $1 ORDER BY item_id", [third.runId]),
      history: yield* q<{ reason: string; n: number }>("SELECT reason, count(*) AS n FROM score_history GROUP BY reason ORDER BY reason"),
      retired: yield* q<{ item_id: string }>("SELECT item_id FROM items WHERE retired"),
      extqa: yield* q<{ n: number }>("SELECT count(*) AS n FROM scores WHERE task = 'extqa'"),
      mean: yield* q<{ mean: number }>("SELECT avg(score) AS mean FROM scores WHERE task = 'mcqa' AND metric = 'acc'"),
      hashes: yield* q<{ n: number }>("SELECT count(*) AS n FROM item_history WHERE item_id = 'mcqa-0007'")
    }
  }))
  assert.deepEqual(landed.rescored.map((r) => r.item_id), changedIds)
  assert.deepEqual(landed.history, [{ reason: "changed", n: 100 }, { reason: "retired", n: 4 }]) // 10 × 2 × 5 MCQA metrics
  assert.deepEqual(landed.retired, [{ item_id: "extqa-c01-q1" }])
  assert.deepEqual(landed.extqa, [{ n: 396 }])
  assert.deepEqual(landed.hashes, [{ n: 2 }])
  assert.ok(Number.isFinite(before[0]!.mean) && Number.isFinite(landed.mean[0]!.mean))
})

test("reeval refreshes the analyses: a changed MCQA item moves only its cells", async () => {
  const db = tempWarehousePath()
  const manifest = copySample()
  const dir = resolve(manifest, "..")
  const opts = {
    manifest,
    shots: [0, 3],
    tasks: ["mcqa", "extqa"] as Array<"mcqa" | "extqa">,
    reference: "char-2gram",
    systems: (tasks: Parameters<typeof baselineSystems>[1]) => baselineSystems(prompts, tasks, ["char-2gram", "char-4gram"])
  }
  const cells = () => runWithWarehouse(db, q<{ task: string; shots: number; system: string; n: number; mean: number }>("SELECT task, shots, system, n, mean FROM cell_scores ORDER BY ALL"))
  const first = await runWithWarehouse(db, reeval(opts))
  assert.ok(first.analyses)
  const before = await cells()
  assert.equal(before.length, 8) // 2 tasks × 2 shots × 2 systems
  // Replace the options of 3 MCQA items by ones that are all right: acc becomes 1 whatever a model
  // picks, so a cell moves unless the 3 items were already right in it (an edit keeping one gold
  // answer can leave every mean where it was, as it did with this sample).
  editJsonl(join(dir, "mcqa/test.jsonl"), (rows) => rows.map((r, i) => (i < 3 ? { ...r, answers: { a: "Oui", b: "Non", c: "Peut-être", d: "Jamais", e: "Toujours et partout sans exception" }, correct_answers: ["a", "b", "c", "d", "e"], type: "multiple", nbr_correct_answers: 5 } : r)))
  const second = await runWithWarehouse(db, reeval(opts))
  assert.deepEqual(second.eval.scored, { mcqa: 12 }) // 3 items × 2 shots × 2 systems
  const after = await cells()
  const key = (c: { task: string; shots: number; system: string }) => `${c.task}/${c.shots}/${c.system}`
  const moved = after.filter((c, i) => c.mean !== before[i]!.mean).map(key)
  assert.ok(moved.length > 0 && moved.every((k) => k.startsWith("mcqa/")), moved.join(","))
  assert.deepEqual(after.filter((c) => c.task === "extqa"), before.filter((c) => c.task === "extqa"))
  // Nothing changed: no rescoring and no analysis run.
  const third = await runWithWarehouse(db, reeval(opts))
  assert.equal(third.analyses, undefined)
})

test("reeval --limit N scores the first N test items of each task, retires nothing, and a run without it scores the rest", async () => {
  const db = tempWarehousePath()
  const manifest = copySample()
  const prompts = loadPromptSet()
  const opts = { manifest, shots: [0], systems: (tasks: Parameters<typeof baselineSystems>[1]) => baselineSystems(prompts, tasks) }
  const limited = await runWithWarehouse(db, reeval({ ...opts, limit: 5 }))
  assert.deepEqual(limited.eval.scored, { mcqa: 5, extqa: 5, absqa: 5 })
  assert.equal(limited.retiredScores, 0)
  const rest = await runWithWarehouse(db, reeval(opts))
  assert.deepEqual(rest.eval.scored, { mcqa: 195, extqa: 95, absqa: 95 })
  assert.equal(rest.eval.current, 15)
})
