import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect } from "effect"
import { join } from "node:path"
import { importLmEval } from "../../pipelines/import-lm-eval.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { runCli, runWithWarehouse, tempWarehousePath } from "../helpers/warehouse.ts"

const dir = join(import.meta.dirname, "../fixtures/lm-eval")
const good = join(dir, "samples_frenchmedmcqa_2026-11-20T10-15-02.123456.jsonl")
const bad = join(dir, "samples_bad_2026-11-20T10-15-02.123456.jsonl")
const q = (sql: string) => Effect.gen(function*() {
  return yield* (yield* Warehouse).query(sql)
})

test("fleuve import-lm-eval lands --log_samples acc/acc_norm as a system, idempotently", async () => {
  const db = tempWarehousePath()
  const r = runCli(["import-lm-eval", good, "--system", "Mistral-7B-lmeval", "--shots", "3", "--id-field", "id", "--warehouse", db])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /8 sample line\(s\), 16 score\(s\) landed .*\(task frenchmedmcqa\)/)
  const opts = { system: "Mistral-7B-lmeval", task: "frenchmedmcqa", shots: 3, datasetVersion: "lm-eval:frenchmedmcqa", idField: "id", keepGoing: false }
  const out = await runWithWarehouse(db, Effect.gen(function*() {
    const again = yield* importLmEval(good, opts)
    const rows = yield* q("SELECT metric, count(*) AS n, sum(score) AS total, min(item_id) AS first, any_value(shots) AS shots, any_value(dataset_version) AS dv FROM scores WHERE system = 'Mistral-7B-lmeval' GROUP BY metric ORDER BY metric")
    const systems = yield* q("SELECT system FROM systems")
    return { again, rows, systems }
  }))
  // The fixture's own per-sample values: 1 of 8 right by acc, 2 of 8 by acc_norm.
  assert.deepEqual(out.rows, [
    { metric: "acc", n: 8, total: 1, first: "mcqa-0001", shots: 3, dv: "lm-eval:frenchmedmcqa" },
    { metric: "acc_norm", n: 8, total: 2, first: "mcqa-0001", shots: 3, dv: "lm-eval:frenchmedmcqa" }
  ])
  assert.equal(out.again.landed, 0)
  assert.equal(out.again.alreadyPresent, 16)
  assert.deepEqual(out.systems, [{ system: "Mistral-7B-lmeval" }])
})

test("import-lm-eval: malformed lines fail the import with line and field, or become dead letters", async () => {
  const db = tempWarehousePath()
  const opts = { system: "S", task: "bad", shots: 0, datasetVersion: "lm-eval:bad" }
  const out = await runWithWarehouse(db, Effect.gen(function*() {
    const strict = yield* Effect.flip(importLmEval(bad, { ...opts, keepGoing: false }))
    const none = yield* q("SELECT count(*) AS n FROM scores")
    const lenient = yield* importLmEval(bad, { ...opts, keepGoing: true })
    const dead = yield* q("SELECT field FROM dead_letters ORDER BY position")
    return { strict, none, lenient, dead }
  }))
  assert.match(out.strict.message, /2 bad line\(s\); nothing was imported/)
  assert.match(out.strict.message, /samples_bad_[^:]+:2 field 'acc_norm': metric 'acc_norm' is not a number/)
  assert.match(out.strict.message, /samples_bad_[^:]+:3: malformed JSON/)
  assert.deepEqual(out.none, [{ n: 0 }])
  assert.equal(out.lenient.landed, 2)
  assert.equal(out.lenient.rejected, 2)
  assert.deepEqual(out.dead.map((r) => (r as { field: string | null }).field), ["acc_norm", null])
})
