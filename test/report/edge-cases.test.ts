import assert from "node:assert/strict"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { importScores } from "../../pipelines/import-scores.ts"
import { runAnalyses } from "../../analysis/analyses.ts"
import { buildReport } from "../../report/report.ts"
import { byClass, marksNamed, parseSvg, textOf } from "../helpers/svg.ts"
import { runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

/**
 * A lopsided grid: one shot count, a lower-is-better metric (loss) next to accuracy, and a system
 * missing a whole task. The report must still draw every figure, flip "better" for the loss, and
 * leave the incomplete system out of the CD diagram as analyze leaves it out of avg_ranks.
 */
test("one shot count, a lower-is-better metric, a system missing tasks, a degenerate tied cell", async () => {
  const rows: Array<Record<string, unknown>> = []
  for (let i = 0; i < 12; i++) {
    // "tuned" has a clearly lower loss than "base"; "other" has no accuracy scores at all.
    rows.push({ system: "base", task: "lm", shots: 0, item_id: `lm-${i}`, metric: "loss", score: 2 + (i % 3) * 0.1 })
    rows.push({ system: "tuned", task: "lm", shots: 0, item_id: `lm-${i}`, metric: "loss", score: 1.5 + (i % 3) * 0.1 + (i % 2) * 0.05 })
    rows.push({ system: "other", task: "lm", shots: 0, item_id: `lm-${i}`, metric: "loss", score: 2.2 + (i % 4) * 0.1 })
    rows.push({ system: "base", task: "mc", shots: 0, item_id: `mc-${i}`, metric: "acc", score: i % 2 })
    rows.push({ system: "tuned", task: "mc", shots: 0, item_id: `mc-${i}`, metric: "acc", score: i % 3 === 0 ? 0 : 1 })
    // A degenerate cell: identical scores, so every difference is zero and the winners tie.
    for (const system of ["base", "tuned"]) rows.push({ system, task: "tie", shots: 0, item_id: `tie-${i}`, metric: "acc", score: i % 2 })
  }
  const file = join(tempDir(), "scores.jsonl")
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n")
  const db = tempWarehousePath()
  const files = await runWithWarehouse(db, Effect.gen(function*() {
    yield* importScores(file, { keepGoing: false })
    yield* runAnalyses({ reference: "base", resamples: 100 })
    return yield* buildReport({})
  }))
  const svg = (p: string) => parseSvg(files.find((f) => f.path === `figures/${p}`)!.content)

  assert.equal(files.filter((f) => f.path.endsWith(".svg")).length, 10, "9 charts and one CD diagram")
  // "tuned" lowers the loss: a negative difference that counts as better.
  const sig = marksNamed(svg("07-significance-heatmap.svg"), "labels").map(textOf)
  assert.ok(sig.some((l) => /^−0\.\d{3} \*+$/.test(l)), sig.join(" | "))
  const classes = byClass(svg("07-significance-heatmap.svg"), "role-legend-label").flatMap((g) => g.children).map(textOf)
  assert.ok(classes.includes("better ***"))
  const deltaLegend = byClass(svg("03-delta-heatmaps.svg"), "role-legend-title").flatMap((g) => g.children).map(textOf)
  assert.ok(deltaLegend.includes("−Δ (lower is better)"), deltaLegend.join(" | "))
  // "other" has no mc scores: two systems take part in the Friedman test of 0 shots; the tie
  // averages ranks, (1 + 1 + 1.5) / 3 and (2 + 2 + 1.5) / 3.
  const cd = svg("10-critical-difference-0shot.svg")
  assert.deepEqual(byClass(cd, "cd-label").map(textOf).sort(), ["base (1.83)", "tuned (1.17)"])
  // The record of "tuned" adds up to its 3 cells, the tied one drawn as a tie.
  const tuned = marksNamed(svg("08-significance-record.svg"), "counts").filter((t) => t.attrs["aria-label"]?.includes("tuned"))
  assert.equal(tuned.map((t) => Number(textOf(t))).reduce((a, b) => a + b, 0), 3)
  const segments = marksNamed(svg("08-significance-record.svg"), "segments").map((b) => b.attrs["aria-label"] ?? "")
  assert.ok(segments.some((l) => l.includes("system: tuned") && l.includes("segment: ties")), segments.join(" | "))
  // The degenerate cell reads "ns"; its tied winners share one grey cell of figure 9.
  assert.ok(sig.includes("0.000 ns"), sig.join(" | "))
  const best = marksNamed(svg("09-best-per-cell.svg"), "labels").map(textOf)
  assert.ok(best.includes("base = tuned0.500"), best.join(" | "))
  assert.equal(marksNamed(svg("09-best-per-cell.svg"), "cells").filter((c) => c.attrs.fill === "#bdbdbd").length, 1)
  assert.match(files.find((f) => f.path === "report.md")!.content, /\| lm \(loss\) \| tuned \(/)
})

test("provenance: n per cell, dataset versions, the metric (an import without one is not labelled '(score)'), the analyze command, the runs that landed the scores", async () => {
  const dir = tempDir()
  const csv = join(dir, "no-metric.csv")
  const lines = ["system,task,shots,item_id,score,dataset_version"]
  for (let i = 0; i < 10; i++) {
    for (const [system, bonus] of [["ref", 0], ["cand", 0.1], ["third", 0.05]] as const) {
      lines.push(`${system},medqa-open-fr,0,q${i},${((i % 5) / 5 + bonus).toFixed(2)},medqa-2024-06`)
      if (system !== "third" || i < 8) lines.push(`${system},medmcqa-fr,3,m${i},${(i + (system === "cand" ? 1 : 0)) % 2},medmcqa-v2`)
    }
  }
  writeFileSync(csv, `${lines.join("\n")}\n`)
  const db = tempWarehousePath()
  const files = await runWithWarehouse(db, Effect.gen(function*() {
    yield* importScores(csv, { keepGoing: false })
    yield* runAnalyses({ reference: "ref", resamples: 100, seed: 3 })
    return yield* buildReport({ study: "EnMed re-evaluation, June" })
  }))
  const md = files.find((f) => f.path === "report.md")!.content
  const html = files.find((f) => f.path === "report.html")!.content
  assert.match(md, /^# Evaluation report: EnMed re-evaluation, June/)
  assert.match(md, /## Provenance/)
  assert.match(md, /Analyses: `fleuve analyze --reference ref --alpha 0\.05 --family system --seed 3` \(run \S+, finished /)
  assert.match(md, new RegExp(`Scores landed by: import-scores ${csv.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(run \\S+\\): 58 rows`))
  assert.match(md, /\| medmcqa-fr \| 3 \| score \(unnamed: imported without a metric column\) \| 3 \| 8–10 \| medmcqa-v2 \|/)
  assert.match(md, /\| medqa-open-fr \| 0 \| score \(unnamed: imported without a metric column\) \| 3 \| 10 \| medqa-2024-06 \|/)
  assert.match(html, /<section id="provenance">/)
  for (const f of files.filter((x) => x.path.endsWith(".svg") || x.path.endsWith(".vl.json") || x.path === "report.md")) {
    assert.ok(!f.content.includes("(score)"), `${f.path} labels a task "(score)"`)
  }
})
