// The demo's trained run at reduced size (issue 18): the demo study's own sizes for the base, DAPT
// and the ExtQA adapter, scored on every ExtQA test item at 0 shots. The adapter's difference
// against the base is significant after Benjamini–Hochberg; the null run (demo-null.test.ts) shows
// none. Whatever the numbers, they are what the models did: nothing here sets a score.
import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { Warehouse } from "../../../warehouse/warehouse.ts"
import { runWithWarehouse } from "../../helpers/warehouse.ts"
import { runDemoVariant } from "./variant.ts"

test("the demo study trained (base, DAPT, the ExtQA adapter; ExtQA at 0 shots): the adapter beats the base significantly after BH", { timeout: 600_000 }, async () => {
  const { study, db, out, run: r } = runDemoVariant("trained", (demo) =>
    demo
      .replace(/\n {2}(unified|mcqa|absqa): +\{[^\n]*/g, "")
      .replace(/\n {2}- \{ name: EnMed-(Unified|MCQA|AbsQA), [^\n]*/g, "")
      .replace("manifest: ", "only: [extqa]\n  manifest: ")
      .replace("shots: [0, 3]", "shots: [0]"))
  assert.doesNotMatch(study, /unified|EnMed-MCQA/, study)
  assert.equal(r.code, 0, r.stderr)
  const tests = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ system: string; mean_diff: number; p_bh: number }>("SELECT system, mean_diff, p_bh FROM paired_tests WHERE test = 't' AND task = 'extqa' ORDER BY system")
  }))
  const adapter = tests.find((t) => t.system === "EnMed-ExtQA")
  assert.ok(adapter, JSON.stringify(tests))
  assert.ok(adapter.mean_diff > 0 && adapter.p_bh < 0.05, `EnMed-ExtQA vs base on ExtQA 0-shot: ${JSON.stringify(adapter)}`)
  const [dapt, base] = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ mean_nll: number }>("SELECT mean_nll FROM heldout_loss WHERE system IN ('EnMed-DAPT', 'base') ORDER BY system")
  }))
  assert.ok(dapt!.mean_nll < base!.mean_nll, "DAPT's held-out loss is below the base's")
  assert.match(readFileSync(join(out, "report.md"), "utf8"), /significant after the Benjamini–Hochberg adjustment/)
})
