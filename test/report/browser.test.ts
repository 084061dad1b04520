import assert from "node:assert/strict"
import { mkdirSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { after, before, test } from "node:test"
import type { Browser } from "playwright-core"
import { buildReport, type ReportFile } from "../../report/report.ts"
import { launchChromium } from "../helpers/browser.ts"
import { buildFixtureWarehouse, buildRealisticWarehouse, LONG_NAMES, REFERENCE } from "../helpers/report.ts"
import { runWithWarehouse, tempDir } from "../helpers/warehouse.ts"

const artifacts = resolve(import.meta.dirname, "../../test-artifacts")

const writeReport = (files: ReadonlyArray<ReportFile>) => {
  const dir = tempDir("fleuve-report-")
  for (const f of files) {
    mkdirSync(join(dir, f.path, ".."), { recursive: true })
    writeFileSync(join(dir, f.path), f.content)
  }
  return join(dir, "report.html")
}

let browser: Browser
let html: string
let longHtml: string
/** Real-looking names (medmcqa-fr, Mistral-7B-Instruct-v0.3, …) on 1 to 5 tasks, 2 or 3 shot columns, one with all systems tied. */
const REALISTIC = [
  { tasks: 1, shots: [0, 5] },
  { tasks: 2, shots: [0, 5], tiedTask: true },
  { tasks: 3, shots: [0, 5], lowScores: true },
  { tasks: 4, shots: [0, 3, 5] },
  { tasks: 3, shots: [0, 3, 5], zeroTask: true },
  { tasks: 5, shots: [0, 5] }
] as const
let realistic: Array<{ name: string; file: string }> = []

before(async () => {
  const [db, longDb] = await Promise.all([buildFixtureWarehouse(), buildFixtureWarehouse({ rename: LONG_NAMES })])
  html = writeReport(await runWithWarehouse(db, buildReport({ reference: REFERENCE })))
  longHtml = writeReport(await runWithWarehouse(longDb, buildReport({})))
  realistic = []
  for (const v of REALISTIC) {
    const db = await buildRealisticWarehouse(v)
    realistic.push({ name: `${v.tasks} task(s), shots ${v.shots.join("/")}${"tiedTask" in v ? ", a tied task" : ""}${"lowScores" in v ? ", scores in [0, 0.1]" : ""}${"zeroTask" in v ? ", a task every system scores 0" : ""}`, file: writeReport(await runWithWarehouse(db, buildReport({}))) })
  }
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
})

/** Opens a report with the network cut off, collecting console errors, page errors and requests. */
const open = async (file: string) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, offline: true })
  const page = await context.newPage()
  const errors: Array<string> = []
  const requests: Array<string> = []
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`)
  })
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`))
  page.on("request", (r) => requests.push(r.url()))
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" })
  return { context, page, errors, requests }
}

/**
 * In the real layout of the browser's fonts: pairs of visible text boxes in one figure that overlap
 * by more than a pixel each way. Texts inside one Vega text mark of several lines are one box.
 */
const overlappingTexts = (page: import("playwright-core").Page) =>
  page.evaluate(() => {
    const out: Array<string> = []
    document.querySelectorAll("figure.report-figure svg").forEach((svg, f) => {
      const boxes = Array.from(svg.querySelectorAll("text"))
        .filter((t) => t.getAttribute("opacity") !== "0" && (t.textContent ?? "").trim() !== "")
        .map((t) => ({ text: t.textContent ?? "", r: t.getBoundingClientRect() }))
      for (let i = 0; i < boxes.length; i++) {
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i]!.r
          const b = boxes[j]!.r
          const dx = Math.min(a.right, b.right) - Math.max(a.left, b.left)
          const dy = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top)
          if (dx > 1 && dy > 1) out.push(`figure ${f}: "${boxes[i]!.text}" overlaps "${boxes[j]!.text}"`)
        }
      }
    })
    return out
  })

/**
 * Heatmap-like figures print a label on every cell: each label's box must lie inside a cell of the
 * same figure (1 px tolerance), or it spills into its neighbours.
 */
const labelsOutsideCells = (page: import("playwright-core").Page) =>
  page.evaluate(() => {
    const out: Array<string> = []
    document.querySelectorAll("figure.report-figure svg").forEach((svg, f) => {
      const cells = Array.from(svg.querySelectorAll("g.role-mark[class*='cells'] > path")).map((c) => c.getBoundingClientRect())
      svg.querySelectorAll("g.role-mark[class*='labels'] > text").forEach((t) => {
        const r = t.getBoundingClientRect()
        const inside = cells.some((c) => r.left >= c.left - 1 && r.right <= c.right + 1 && r.top >= c.top - 1 && r.bottom <= c.bottom + 1)
        if (!inside) out.push(`figure ${f}: "${t.textContent}" is not inside a cell`)
      })
    })
    return out
  })

test("Chromium opens report.html offline: no console errors, every figure visible, screenshot saved", async () => {
  const { context, page, errors, requests } = await open(html)
  try {
    assert.deepEqual(errors, [])
    assert.deepEqual(requests.filter((u) => !u.startsWith("file:")), [], "the page fetched something")
    const figures = await page.$$("figure.report-figure")
    assert.equal(figures.length, 12)
    for (const [i, f] of figures.entries()) {
      await f.scrollIntoViewIfNeeded()
      assert.ok(await f.isVisible(), `figure ${i} hidden`)
      const svg = await f.$("svg")
      const box = await svg!.boundingBox()
      assert.ok(box && box.width > 100 && box.height > 50, `figure ${i} (${await f.getAttribute("data-file")}) is ${JSON.stringify(box)}`)
    }
    // Vega's marks rendered as shapes in the page, not just present in the source.
    const bars = await page.$$eval("#figure-01 .bars_marks path", (ps) => ps.filter((p) => p.getBoundingClientRect().height > 0).length)
    assert.equal(bars, 72)
    // Tables 1–4 and the provenance table (the explorer builds its tables only when an item is opened).
    assert.equal(await page.$$eval("table", (t) => t.length), 5)
    mkdirSync(artifacts, { recursive: true })
    await page.screenshot({ path: join(artifacts, "report.png"), fullPage: true })
  } finally {
    await context.close()
  }
})

test("no two labels overlap and every cell label fits its cell, in the browser's own text layout, with short and very long names", async () => {
  for (const file of [html, longHtml]) {
    const { context, page, errors } = await open(file)
    try {
      assert.deepEqual(errors, [])
      assert.deepEqual(await overlappingTexts(page), [])
      assert.deepEqual(await labelsOutsideCells(page), [])
      assert.ok((await page.$$("g.role-mark[class*='labels'] > text")).length >= 72 + 63 + 63 + 9, "labelled cells were found")
      if (file === longHtml) await page.screenshot({ path: join(artifacts, "report-long-names.png"), fullPage: true })
    } finally {
      await context.close()
    }
  }
})

/**
 * What issue 21 found with real names: numbers printed as "0.000000" or signed zeros ("−0.00",
 * "+0.00") on degenerate axes and legends, negative ticks on figure 5's [0, 1] scale, figure 8's
 * count labels on its majority line, and tables wider than the page.
 */
const realisticProblems = (page: import("playwright-core").Page) =>
  page.evaluate(() => {
    const out: Array<string> = []
    document.querySelectorAll("figure.report-figure svg").forEach((svg, f) => {
      for (const t of Array.from(svg.querySelectorAll("text"))) {
        const s = (t.textContent ?? "").trim()
        if (/\d\.\d{5,}/.test(s)) out.push(`figure ${f}: long decimal "${s}"`)
        if (/^[−+-]0(\.0+)?$/.test(s)) out.push(`figure ${f}: signed zero "${s}"`)
      }
    })
    const fig5 = document.querySelector("#figure-05 svg")
    fig5?.querySelectorAll("g.role-axis-label text").forEach((t) => {
      if (/^[−-]/.test(t.textContent ?? "")) out.push(`figure 5: negative tick "${t.textContent}"`)
    })
    const fig8 = document.querySelector("#figure-08 svg")
    if (fig8) {
      const line = fig8.querySelector("g.role-mark[class*='majority'] path, g.role-mark[class*='majority'] line")?.getBoundingClientRect()
      if (line) {
        fig8.querySelectorAll("g.role-mark[class*='counts'] > text").forEach((t) => {
          const r = t.getBoundingClientRect()
          if (r.left < line.right && r.right > line.left) out.push(`figure 8: count "${t.textContent}" on the majority line`)
        })
      }
    }
    const main = document.querySelector("main")!.getBoundingClientRect()
    document.querySelectorAll(".table-wrap").forEach((w, i) => {
      if (w.scrollWidth > w.clientWidth + 1 || w.getBoundingClientRect().right > main.right + 1) out.push(`table ${i + 1} is wider than the page (${w.scrollWidth} > ${w.clientWidth})`)
    })
    return out
  })

test("realistic names (medmcqa-fr, Mistral-7B-Instruct-v0.3) on 1–5 tasks and 2–3 shot columns: no overlap, no spill, no degenerate labels, tables fit", async () => {
  mkdirSync(artifacts, { recursive: true })
  const problems: Array<string> = []
  for (const { name, file } of realistic) {
    const { context, page, errors } = await open(file)
    try {
      assert.deepEqual(errors, [], name)
      for (const p of [...await overlappingTexts(page), ...await labelsOutsideCells(page), ...await realisticProblems(page)]) problems.push(`${name}: ${p}`)
      await page.screenshot({ path: join(artifacts, `report-realistic-${name.replace(/[^a-z0-9]+/gi, "-")}.png`), fullPage: true })
    } finally {
      await context.close()
    }
  }
  assert.deepEqual(problems, [])
})
