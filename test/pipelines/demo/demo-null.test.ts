// The demo's null run (issue 18): the demo study with every training step count at 0 but the
// base's pre-training (which defines the base, the reference every test compares against). DAPT
// is then the base and each adapter an untrained one (B = 0), so every paired difference is 0,
// none is significant, the opening says so, and every held-out loss is the base's. The real
// study runner and CLI, at reduced sizes (2 pre-training steps, 3 items per task).
import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { Warehouse } from "../../../warehouse/warehouse.ts"
import { runWithWarehouse } from "../../helpers/warehouse.ts"
import { runDemoVariant } from "./variant.ts"

test("the demo study with 0 DAPT and LoRA steps: every system scores as the base, nothing is significant, the opening says so", { timeout: 240_000 }, async () => {
  const { study, db, out, run: r } = runDemoVariant("null", (demo) =>
    demo
      .replace(/(pretrain: \{[^}]*?)steps: \d+/, "$1steps: 2")
      .replace(/(\n {2}(?:dapt|unified|mcqa|extqa|absqa): +\{[^\n]*?)steps: \d+/g, "$1steps: 0")
      .replace("manifest: ", "limit: { mcqa: 3, extqa: 3, absqa: 3 }\n  manifest: "))
  assert.equal((study.match(/steps: 0,/g) ?? []).length, 5, study)
  assert.equal(r.code, 0, r.stderr)
  const result = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    const tests = yield* w.query<{ system: string; mean_diff: number; p_bh: number | null }>("SELECT system, mean_diff, p_bh FROM paired_tests WHERE test = 't'")
    const losses = yield* w.query<{ system: string; mean_nll: number }>("SELECT system, mean_nll FROM heldout_loss")
    return { tests, losses }
  }))
  assert.equal(result.tests.length, 5 * 3 * 2)
  for (const t of result.tests) {
    assert.equal(t.mean_diff, 0, `${t.system} differs from base`)
    assert.ok(t.p_bh === null || t.p_bh >= 0.05, `${t.system}: p_bh ${t.p_bh}`)
  }
  assert.equal(result.losses.length, 6)
  assert.equal(new Set(result.losses.map((l) => l.mean_nll.toFixed(6))).size, 1, JSON.stringify(result.losses))
  assert.match(readFileSync(join(out, "report.md"), "utf8"), /No difference against base is significant after the Benjamini–Hochberg adjustment/)
})
