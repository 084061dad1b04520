import assert from "node:assert/strict"
import { test } from "node:test"
import { join } from "node:path"
import { runCli, tempWarehousePath } from "../helpers/warehouse.ts"

const dir = join(import.meta.dirname, "../fixtures/lm-eval")
const good = join(dir, "samples_frenchmedmcqa_2026-11-20T10-15-02.123456.jsonl")
const bad = join(dir, "samples_bad_2026-11-20T10-15-02.123456.jsonl")

test("import-lm-eval lands --log_samples acc/acc_norm as a system, idempotently", () => {
  const db = tempWarehousePath()
  const r = runCli(["import-lm-eval", good, "--system", "Mistral-7B-lmeval", "--shots", "3", "--id-field", "id", "--warehouse", db])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /8 sample line\(s\), 16 score\(s\) landed .*\(task frenchmedmcqa\)/)
  const q = runCli(["query", "--warehouse", db, "--format", "json",
    "SELECT metric, count(*) AS n, sum(score) AS total, min(item_id) AS first, any_value(shots) AS shots, any_value(dataset_version) AS dv FROM scores WHERE system = 'Mistral-7B-lmeval' GROUP BY metric ORDER BY metric"])
  assert.equal(q.code, 0, q.stderr)
  // The fixture's own per-sample values: 1 of 8 right by acc, 2 of 8 by acc_norm.
  assert.deepEqual(JSON.parse(q.stdout), [
    { metric: "acc", n: 8, total: 1, first: "mcqa-0001", shots: 3, dv: "lm-eval:frenchmedmcqa" },
    { metric: "acc_norm", n: 8, total: 2, first: "mcqa-0001", shots: 3, dv: "lm-eval:frenchmedmcqa" }
  ])
  const again = runCli(["import-lm-eval", good, "--system", "Mistral-7B-lmeval", "--shots", "3", "--id-field", "id", "--warehouse", db])
  assert.match(again.stdout, /0 score\(s\) landed .* 16 already present/)
  const sys = runCli(["query", "--warehouse", db, "--format", "json", "SELECT system FROM systems"])
  assert.deepEqual(JSON.parse(sys.stdout), [{ system: "Mistral-7B-lmeval" }])
})

test("import-lm-eval: malformed lines fail the import with line and field, or become dead letters", () => {
  const db = tempWarehousePath()
  const strict = runCli(["import-lm-eval", bad, "--system", "S", "--warehouse", db])
  assert.equal(strict.code, 1)
  assert.match(strict.stderr, /2 bad line\(s\); nothing was imported/)
  assert.match(strict.stderr, /samples_bad_[^:]+:2 field 'acc_norm': metric 'acc_norm' is not a number/)
  assert.match(strict.stderr, /samples_bad_[^:]+:3: malformed JSON/)
  const lenient = runCli(["import-lm-eval", bad, "--system", "S", "--keep-going", "--warehouse", db])
  assert.equal(lenient.code, 0, lenient.stderr)
  assert.match(lenient.stdout, /2 score\(s\) landed .* 2 rejected/)
  const dl = runCli(["query", "--warehouse", db, "--format", "json", "SELECT field FROM dead_letters ORDER BY position"])
  assert.deepEqual(JSON.parse(dl.stdout).map((r: { field: string | null }) => r.field), ["acc_norm", null])
})
