import assert from "node:assert/strict"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { before, describe, test } from "node:test"
import { Effect } from "effect"
import { buildReport, type ReportFile } from "../../report/report.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { buildFixtureWarehouse, LONG_NAMES, REFERENCE } from "../helpers/report.ts"
import { byClass, marksNamed, parseSvg, type SvgNode, textOf, visibleTexts, walk } from "../helpers/svg.ts"
import { runCli, runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

type Row = Record<string, unknown>
const query = (db: string, sql: string): Promise<ReadonlyArray<Row>> => runWithWarehouse(db, Effect.gen(function*() {
  const w = yield* Warehouse
  return yield* w.query(sql)
}))
const one = async (db: string, sql: string) => Number((await query(db, sql))[0]!.n)

let db: string
let files: ReadonlyArray<ReportFile>
const svg = (path: string): SvgNode => {
  const f = files.find((x) => x.path === `figures/${path}`)
  assert.ok(f, `figures/${path} missing; have ${files.map((x) => x.path).join(", ")}`)
  return parseSvg(f.content)
}
/** Y-axis labels of a Vega figure (first axis with labels that are system names). */
const axisLabels = (root: SvgNode) => byClass(root, "role-axis-label").flatMap((g) => g.children).filter((t) => t.attrs.opacity !== "0").map(textOf)

before(async () => {
  db = await buildFixtureWarehouse()
  files = await runWithWarehouse(db, buildReport({ reference: REFERENCE }))
})

describe("figures of the sample warehouse hold the expected marks", () => {
  test("every file is written: 9 charts with their specs, 3 CD diagrams, report.md, report.html", () => {
    const paths = files.map((f) => f.path).sort()
    assert.equal(paths.filter((p) => p.endsWith(".svg")).length, 12)
    assert.equal(paths.filter((p) => p.endsWith(".vl.json")).length, 9)
    assert.ok(paths.includes("report.md") && paths.includes("report.html"))
    for (const s of [0, 3, 5]) assert.ok(paths.includes(`figures/10-critical-difference-${s}shot.svg`))
    for (const f of files.filter((x) => x.path.endsWith(".svg"))) assert.doesNotThrow(() => parseSvg(f.content), f.path)
  })

  test("1 raw scores: one bar per system × cell, one dotted reference line per task", async () => {
    const root = svg("01-raw-scores.svg")
    assert.equal(marksNamed(root, "bars").length, await one(db, "SELECT count(*) AS n FROM cell_scores"))
    const rules = marksNamed(root, "reference")
    assert.equal(rules.length, 3)
    for (const r of rules) assert.equal(r.attrs["stroke-dasharray"], "2,3")
    // The legend names every system, in global-rank order.
    const ranking = (await query(db, "SELECT system FROM global_ranking ORDER BY rank, system")).map((r) => r.system)
    const legend = byClass(root, "role-legend-label").flatMap((g) => g.children).map(textOf)
    assert.deepEqual(legend, ranking)
  })

  test("2 normalised heatmap: a cell and a label per system × cell, rows in global-rank order", async () => {
    const root = svg("02-normalized-heatmap.svg")
    const n = await one(db, "SELECT count(*) AS n FROM normalized_scores")
    assert.equal(marksNamed(root, "cells").length, n)
    assert.equal(marksNamed(root, "labels").length, n)
    const ranking = (await query(db, "SELECT system FROM global_ranking ORDER BY rank, system")).map((r) => String(r.system))
    assert.deepEqual(axisLabels(root).filter((l) => ranking.includes(l)), ranking)
    // The best system of a cell reads 1.00, the worst 0.00.
    const labels = marksNamed(root, "labels").map(textOf)
    assert.equal(labels.filter((l) => l === "1.00").length, await one(db, "SELECT count(*) AS n FROM normalized_scores WHERE normalized = 1"))
  })

  test("3 delta heatmaps: one panel per task, a cell per candidate × shot count", async () => {
    const root = svg("03-delta-heatmaps.svg")
    for (const [i, task] of ["absqa", "extqa", "mcqa"].entries()) {
      const n = await one(db, `SELECT count(*) AS n FROM cell_scores WHERE task = '${task}' AND system <> '${REFERENCE}'`)
      assert.equal(marksNamed(root, `cells_${i}`).length, n, task)
      assert.equal(marksNamed(root, `labels_${i}`).length, n, task)
    }
    // Signed labels: every candidate better than the reference reads "+".
    const better = await one(db, `SELECT count(*) AS n FROM cell_scores c JOIN cell_scores r USING (task, shots) WHERE r.system = '${REFERENCE}' AND c.system <> r.system AND round(c.mean - r.mean, 3) > 0`)
    const labels = [0, 1, 2].flatMap((i) => marksNamed(root, `labels_${i}`).map(textOf))
    assert.equal(labels.filter((l) => l.startsWith("+")).length, better)
  })

  test("4 per-task means: a bar per system × task, the reference's hatched, error bars, dashed reference lines", async () => {
    const root = svg("04-task-means.svg")
    const bars = marksNamed(root, "bars")
    assert.equal(bars.length, 8 * 3)
    const hatched = bars.filter((b) => b.attrs.fill === "url(#f04-hatch)")
    assert.equal(hatched.length, 3)
    for (const b of hatched) assert.match(b.attrs["aria-label"] ?? "", new RegExp(REFERENCE))
    assert.equal([...walk(root)].filter((n) => n.name === "pattern" && n.attrs.id === "f04-hatch").length, 1)
    assert.equal(marksNamed(root, "errors").length, 24)
    const refs = marksNamed(root, "reference")
    assert.equal(refs.length, 3)
    for (const r of refs) assert.equal(r.attrs["stroke-dasharray"], "6,4")
  })

  test("5 global ranking: a bar and an error bar per system, the reference's mean dashed", async () => {
    const root = svg("05-global-ranking.svg")
    assert.equal(marksNamed(root, "bars").length, 8)
    assert.equal(marksNamed(root, "errors").length, 8)
    assert.equal(marksNamed(root, "reference").length, 1)
    const ranking = (await query(db, "SELECT system FROM global_ranking ORDER BY rank, system")).map((r) => String(r.system))
    assert.deepEqual(axisLabels(root).filter((l) => ranking.includes(l)), ranking)
  })

  test("6 paired t-tests: a point and a CI per candidate × cell; stars exactly where p < .05", async () => {
    const root = svg("06-paired-tests.svg")
    const n = await one(db, `SELECT count(*) AS n FROM paired_tests WHERE test = 't' AND reference = '${REFERENCE}'`)
    assert.equal(n, 7 * 9)
    assert.equal(marksNamed(root, "points").length, n)
    assert.equal(marksNamed(root, "intervals").length, n)
    const stars = marksNamed(root, "stars").map(textOf)
    assert.equal(stars.length, await one(db, "SELECT count(*) AS n FROM paired_tests WHERE test = 't' AND p_value < 0.05"))
    assert.equal(stars.filter((s) => s === "***").length, await one(db, "SELECT count(*) AS n FROM paired_tests WHERE test = 't' AND p_value < 0.001"))
  })

  test("7 significance heatmap: a cell per candidate × cell, 'ns' where p ≥ .05", async () => {
    const root = svg("07-significance-heatmap.svg")
    assert.equal(marksNamed(root, "cells").length, 63)
    const labels = marksNamed(root, "labels").map(textOf)
    assert.equal(labels.length, 63)
    assert.equal(labels.filter((l) => l.endsWith(" ns")).length, await one(db, "SELECT count(*) AS n FROM paired_tests WHERE test = 't' AND p_value >= 0.05"))
    assert.equal(labels.filter((l) => /\d \*\*\*$/.test(l)).length, await one(db, "SELECT count(*) AS n FROM paired_tests WHERE test = 't' AND p_value < 0.001"))
  })

  test("8 significance record: one segment per non-empty part of each record, and the majority line", async () => {
    const root = svg("08-significance-record.svg")
    const rec = await query(db, "SELECT * FROM significance_record")
    const expected = rec.reduce<number>((sum, r) => {
      const [sw, sl, nw, nl] = [r.sig_wins, r.sig_losses, r.numeric_wins, r.numeric_losses].map(Number) as [number, number, number, number]
      return sum + [sw, nw - sw, 9 - nw - nl, nl - sl, sl].filter((c) => c > 0).length
    }, 0)
    assert.equal(marksNamed(root, "segments").length, expected)
    assert.equal(marksNamed(root, "counts").length, expected)
    const majority = marksNamed(root, "majority")
    assert.equal(majority.length, 1)
    assert.equal(majority[0]!.attrs["stroke-dasharray"], "2,3")
    // The labels of each system add up to its 9 cells.
    assert.equal(marksNamed(root, "counts").map((t) => Number(textOf(t))).reduce((a, b) => a + b, 0), 9 * rec.length)
  })

  test("9 best per cell: one cell per task × shot count, labelled with the winner and its score", async () => {
    const root = svg("09-best-per-cell.svg")
    assert.equal(marksNamed(root, "cells").length, 9)
    const labels = marksNamed(root, "labels").map(textOf)
    const best = await query(db, "SELECT task, shots, system, score FROM best_per_cell ORDER BY task, shots")
    assert.equal(labels.length, 9)
    for (const b of best) assert.ok(labels.some((l) => l === `${b.system}${Number(b.score).toFixed(3)}`), `${b.task}/${b.shots}: ${labels.join(" | ")}`)
  })

  test("10 critical-difference diagrams: every system on an elbow, the CD bar, the groups within CD", async () => {
    const friedman = await query(db, "SELECT shots, cd FROM friedman ORDER BY shots")
    for (const f of friedman) {
      const root = svg(`10-critical-difference-${f.shots}shot.svg`)
      const ranks = (await query(db, `SELECT avg_rank FROM avg_ranks WHERE shots = ${f.shots} ORDER BY avg_rank`)).map((r) => Number(r.avg_rank))
      assert.equal(byClass(root, "cd-label").length, 8)
      assert.equal(byClass(root, "cd-elbows")[0]!.children.length, 8)
      // Maximal groups of consecutive systems whose ranks differ by at most CD, counted directly.
      const cd = Number(f.cd)
      const spans = ranks.map((r, i) => [i, ranks.findLastIndex((s) => s - r <= cd + 1e-12)] as const).filter(([i, j]) => j > i)
      const maximal = spans.filter(([i, j]) => !spans.some(([a, b]) => a <= i && j <= b && (a !== i || b !== j)))
      assert.equal(byClass(root, "cd-clique").length, maximal.length)
      // The CD bar is CD ranks long on the axis' scale.
      const ticks = byClass(root, "cd-axis")[0]!.children.filter((l) => l.attrs.y1 !== l.attrs.y2 && Number(l.attrs.y2) - Number(l.attrs.y1) === 6)
      const perRank = Number(ticks[1]!.attrs.x1) - Number(ticks[0]!.attrs.x1)
      const bar = byClass(root, "cd-bar")[0]!.children[0]!
      assert.ok(Math.abs(Number(bar.attrs.x2) - Number(bar.attrs.x1) - cd * perRank) < 1e-6)
      assert.match(textOf(byClass(root, "cd-bar-label")[0]!), new RegExp(`CD = ${cd.toFixed(2)}`))
    }
  })
})

describe("report.md and report.html", () => {
  test("report.md has the four tables and links every figure file", () => {
    const md = files.find((f) => f.path === "report.md")!.content
    for (const t of ["Per-task mean over shot counts", "Global ranking", "Significance record against", "Best system per cell"]) assert.match(md, new RegExp(`### Table \\d\\. ${t}`))
    for (const f of files.filter((x) => x.path.endsWith(".svg"))) assert.ok(md.includes(`](${f.path})`), f.path)
    // The ranking table lists 8 systems in rank order; the significance table marks BH-robust wins.
    const ranking = md.split("### Table 2.")[1]!.split("### Table 3.")[0]!.split("\n").filter((l) => /^\| \d+ \|/.test(l))
    assert.equal(ranking.length, 8)
    assert.match(md, /\| \d+ † \|/)
  })

  test("report.html is self-contained: every SVG inline, no external reference, unique ids", () => {
    const html = files.find((f) => f.path === "report.html")!.content
    assert.equal((html.match(/<svg[\s>]/g) ?? []).length, 12)
    assert.doesNotMatch(html, /<(link|img|iframe)\b/i)
    // The item explorer's two inline scripts (its JSON data and its code): nothing loaded from anywhere.
    assert.equal((html.match(/<script\b/gi) ?? []).length, 2)
    assert.doesNotMatch(html, /<script[^>]*\bsrc=/i)
    assert.doesNotMatch(html, /\bfetch\(|XMLHttpRequest|import\(/)
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//i)
    assert.doesNotMatch(html, /@import|url\((?!#)/)
    const ids = [...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1])
    assert.equal(new Set(ids).size, ids.length, "duplicate ids")
    for (const m of html.matchAll(/url\(#([^)]+)\)/g)) assert.ok(ids.includes(m[1]), `dangling url(#${m[1]})`)
  })
})

describe("fleuve report (CLI)", () => {
  test("writes the files; the same warehouse gives byte-identical files, run after run", async () => {
    const out = join(tempDir(), "report")
    const r = runCli(["report", "--warehouse", db, "--out", out])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /12 SVG figures/)
    const written = readdirSync(out, { recursive: true, encoding: "utf8" }).filter((p) => p.includes(".")).sort()
    assert.deepEqual(written, files.map((f) => f.path).sort())
    // A second and a third build (one in this process, one by the CLI) give the same bytes.
    const again = await runWithWarehouse(db, buildReport({ reference: REFERENCE }))
    for (const f of files) {
      assert.ok(readFileSync(join(out, f.path)).equals(Buffer.from(f.content)), `${f.path} differs between the CLI run and the first build`)
      assert.equal(again.find((g) => g.path === f.path)?.content, f.content, `${f.path} differs between two builds`)
    }
  })

  test("--sample: the report opens with what the sample is and what the paired tests found", () => {
    const out = join(tempDir(), "report")
    const r = runCli(["report", "--warehouse", db, "--out", out, "--sample", "A fixture of three tasks"])
    assert.equal(r.code, 0, r.stderr)
    const md = readFileSync(join(out, "report.md"), "utf8")
    assert.match(md, /A fixture of three tasks: \d+ systems? compared with /)
    assert.match(md, /(paired differences against .* are significant after the Benjamini–Hochberg adjustment|No difference against .* is significant after the Benjamini–Hochberg adjustment)/)
  })

  test("a warehouse without analyses fails with a clear message", async () => {
    const db = tempWarehousePath()
    await runWithWarehouse(db, Effect.void) // made and migrated: report no longer creates a missing one
    const empty = runCli(["report", "--warehouse", db, "--out", tempDir()])
    assert.equal(empty.code, 1)
    assert.match(empty.stderr, /no cell_scores, paired_tests, .* tables: run `fleuve analyze --reference SYSTEM` first/)
  })
})

describe("options", () => {
  test("an unknown --reference names the references analyze used", async () => {
    const failure = await runWithWarehouse(db, Effect.flip(buildReport({ reference: "GPT-5" })))
    assert.equal(failure._tag, "ReportError")
    assert.match(failure.message, /--reference GPT-5: paired_tests has no tests against it \(references: Qwen3-14B-vanilla\)/)
  })

  test("a config restyles every chart through the Vega-Lite config, and lands in the spec files", async () => {
    const styled = await runWithWarehouse(db, buildReport({ config: { font: "Courier New", axis: { labelColor: "#ff0000" } } }))
    const raw = styled.find((f) => f.path === "figures/05-global-ranking.svg")!.content
    assert.match(raw, /font-family="Courier New"/)
    assert.match(raw, /fill="#ff0000"/)
    const spec = JSON.parse(styled.find((f) => f.path === "figures/05-global-ranking.vl.json")!.content)
    assert.equal(spec.config.axis.labelColor, "#ff0000")
    assert.equal(spec.data.values.length, 8)
  })
})

describe("long system names", () => {
  test("appear in full, never truncated, in every figure that names systems", async () => {
    const longDb = await buildFixtureWarehouse({ rename: LONG_NAMES })
    const long = await runWithWarehouse(longDb, buildReport({}))
    const texts = (p: string) => visibleTexts(parseSvg(long.find((f) => f.path === `figures/${p}`)!.content))
    for (const f of long.filter((x) => x.path.endsWith(".svg"))) assert.ok(!visibleTexts(parseSvg(f.content)).some((t) => t.includes("…")), `${f.path} truncates a label`)
    for (const name of Object.values(LONG_NAMES)) {
      for (const p of ["01-raw-scores.svg", "02-normalized-heatmap.svg", "04-task-means.svg", "05-global-ranking.svg", "10-critical-difference-0shot.svg"]) {
        assert.ok(texts(p).some((t) => t === name || t.startsWith(`${name} (`)), `${p}: ${name}`)
      }
    }
    // The default reference is the one analyze used, long name and all.
    assert.match(long.find((f) => f.path === "report.md")!.content, /reference Qwen\/Qwen3-14B-Instruct \(vanilla baseline, no adaptation\)\./)
  })
})
