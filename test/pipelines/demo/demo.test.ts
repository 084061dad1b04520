import assert from "node:assert/strict"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { Warehouse } from "../../../warehouse/warehouse.ts"
import { runCli, runWithWarehouse, tempDir } from "../../helpers/warehouse.ts"
import { repoRoot } from "../../helpers/paths.ts"

// The shortened end-to-end demo: the real CLI, real training, a real DuckDB file.
test("fleuve demo --quick: the demo study's 16 steps, 6 systems × 3 tasks scored, analyses and report written, path printed", { timeout: 240_000 }, async () => {
  const dir = tempDir("fleuve-demo-")
  const out = join(dir, "out")
  const db = join(dir, "demo.duckdb")
  const r = runCli(["demo", "--quick", "--out", out, "--warehouse", db])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim().split("\n").pop(), join(out, "report.html"))
  // The study's steps, each announced and then listed with its time.
  for (const step of ["base", "corpus", "train:dapt", "train:unified", "heldout", "analyze", "report"]) assert.match(r.stderr, new RegExp(`^  ${step} +ran +\\d+\\.\\ds`, "m"), step)
  assert.match(r.stderr, /── step 16\/16: report/)
  assert.match(r.stderr, /finished in \d+\.\ds/)

  const cells = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ system: string; task: string; n: number }>(
      "SELECT system, task, count(*)::INT AS n FROM scores GROUP BY ALL ORDER BY ALL"
    )
  }))
  const systems = [...new Set(cells.map((c) => c.system))].sort()
  assert.deepEqual(systems, ["EnMed-AbsQA", "EnMed-DAPT", "EnMed-ExtQA", "EnMed-MCQA", "EnMed-Unified", "base"])
  for (const s of systems) assert.deepEqual(cells.filter((c) => c.system === s).map((c) => c.task), ["absqa", "extqa", "mcqa"], s)
  assert.ok(cells.every((c) => c.n > 0))

  const [paired, friedman, judged] = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return [
      (yield* w.query<{ n: number }>("SELECT count(*)::INT AS n FROM paired_tests"))[0]!.n,
      (yield* w.query<{ n: number }>("SELECT count(*)::INT AS n FROM friedman"))[0]!.n,
      (yield* w.query<{ n: number }>("SELECT count(*)::INT AS n FROM judgements WHERE judge LIKE 'offline-reference/%'"))[0]!.n
    ] as const
  }))
  assert.ok(paired > 0, "paired_tests is empty")
  assert.ok(friedman > 0, "friedman is empty")
  assert.ok(judged > 0, "no AbsQA judgement by the offline reference judge")

  assert.ok(existsSync(join(out, "report.html")))
  assert.ok(existsSync(join(out, "report.md")))
  assert.ok(readdirSync(join(out, "figures")).some((f) => f.endsWith(".svg")))
  const html = readFileSync(join(out, "report.html"), "utf8")
  assert.match(html, /EnMed-Unified/)
  assert.match(html, /offline reference judge \(offline-reference\//)
  const md = readFileSync(join(out, "report.md"), "utf8")
  assert.match(md, /^# .*\n\n> Produced by `fleuve demo`/)
  // The opening: the sample as the study describes it, then what the paired t-tests against base found, from paired_tests.
  const [{ tests, significant }] = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ tests: number; significant: number }>("SELECT count(*)::INT AS tests, count(*) FILTER (WHERE p_bh < 0.05 AND mean_diff <> 0)::INT AS significant FROM paired_tests WHERE test = 't'")
  })) as [{ tests: number; significant: number }]
  assert.match(md, new RegExp(`\n\nfleuve's demo sample \\(.*\\) learnt by .*: 5 systems compared with base in 6 cells .*, ${tests} paired differences in all\\. ` +
    (significant === 0 ? "No difference against base is significant" : `${significant} of the ${tests} paired differences against base are significant`)))
  // Every system's loss on the held-out corpus text, in the warehouse and in the report.
  const losses = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ system: string; tokens: number; mean_nll: number; texts_source: string }>("SELECT system, tokens, mean_nll, texts_source FROM heldout_loss ORDER BY system")
  }))
  assert.deepEqual(losses.map((l) => l.system), ["EnMed-AbsQA", "EnMed-DAPT", "EnMed-ExtQA", "EnMed-MCQA", "EnMed-Unified", "base"])
  assert.ok(losses.every((l) => l.tokens > 1000 && Number.isFinite(l.mean_nll) && l.texts_source === "../data/corpus/demo-heldout.jsonl"))
  assert.match(md, /### Table 5\. Loss on held-out corpus text/)
  assert.match(html, /<table id="table-heldout-loss">/)
  // Every model is a reloadable Hugging Face folder; every adapter a PEFT folder (found by name under models/).
  for (const m of ["base", "dapt"]) assert.ok(existsSync(join(out, "models", m, "model.safetensors")), m)
  for (const a of ["unified", "mcqa", "extqa", "absqa"]) assert.ok(existsSync(join(out, "models", a, "adapter_model.safetensors")), a)

  // The demo records its items as `fleuve reeval` does. Its data, as a manifest: the bundled sample
  // cut to the 3 test items per task that --quick evaluates, under the same dataset name.
  const sample = resolve(repoRoot, "data/qa")
  const manifest = (drop: ReadonlyArray<string>) => {
    const data = join(dir, `data-${drop.length}`)
    const tasks: Record<string, unknown> = {}
    for (const [task, format] of [["mcqa", "frenchmedmcqa"], ["extqa", "squad"], ["absqa", "mediqal-oeq"]] as const) {
      mkdirSync(join(data, task), { recursive: true })
      const lines = readFileSync(join(sample, task, "test.jsonl"), "utf8").split("\n").filter((l) => l.trim() !== "").slice(0, 3)
      writeFileSync(join(data, task, "test.jsonl"), lines.filter((l) => !drop.includes(JSON.parse(l).id)).join("\n") + "\n")
      tasks[task] = { format, test: `${task}/test.jsonl`, train: join(sample, task, "train.jsonl") }
    }
    writeFileSync(join(data, "manifest.json"), JSON.stringify({ name: "enmed-sample", tasks }))
    return join(data, "manifest.json")
  }
  const reeval = (m: string) => runCli(["reeval", "--manifest", m, "--systems", "", "--shots", "0,3", "--warehouse", db])

  // Nothing changed: every item is known and current, nothing is scored or retired.
  const same = reeval(manifest([]))
  assert.equal(same.code, 0, same.stderr)
  for (const task of ["mcqa", "extqa", "absqa"]) assert.match(same.stderr, new RegExp(`enmed-sample/${task}: 3 items — 0 new, 0 changed, 0 removed, 3 unchanged`), same.stderr)
  assert.match(same.stdout, /nothing request\(s\) scored .* 0 score\(s\) retired/)

  // An item removed from the data: its scores, every demo system's, are retired.
  const removedId = JSON.parse(readFileSync(join(sample, "mcqa", "test.jsonl"), "utf8").split("\n")[0]!).id as string
  const [{ n: itsScores }] = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ n: number }>("SELECT count(*)::INT AS n FROM scores WHERE dataset_version = 'enmed-sample/mcqa' AND item_id = $1", [removedId])
  })) as [{ n: number }]
  assert.ok(itsScores >= 6 * 2, `${removedId} has ${itsScores} score rows, expected one per system and shot count at least`)
  const dropped = reeval(manifest([removedId]))
  assert.equal(dropped.code, 0, dropped.stderr)
  assert.match(dropped.stderr, /enmed-sample\/mcqa: 2 items — 0 new, 0 changed, 1 removed, 2 unchanged/)
  assert.match(dropped.stdout, new RegExp(`nothing request\\(s\\) scored .* ${itsScores} score\\(s\\) retired`))
})
