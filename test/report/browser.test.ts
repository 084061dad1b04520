import assert from "node:assert/strict"
import { mkdirSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { after, before, test } from "node:test"
import type { Browser } from "playwright-core"
import { buildReport, type ReportFile } from "../../report/report.ts"
import { launchChromium } from "../helpers/browser.ts"
import { buildFixtureWarehouse, LONG_NAMES, REFERENCE } from "../helpers/report.ts"
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

before(async () => {
  const [db, longDb] = await Promise.all([buildFixtureWarehouse(), buildFixtureWarehouse({ rename: LONG_NAMES })])
  html = writeReport(await runWithWarehouse(db, buildReport({ reference: REFERENCE })))
  longHtml = writeReport(await runWithWarehouse(longDb, buildReport({})))
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
    assert.equal(await page.$$eval("table", (t) => t.length), 4)
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
