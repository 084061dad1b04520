import assert from "node:assert/strict"
import { mkdirSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { after, before, test } from "node:test"
import { Effect } from "effect"
import type { Browser, Page } from "playwright-core"
import { runAnalyses } from "../../analysis/analyses.ts"
import { buildReport } from "../../report/report.ts"
import { Warehouse } from "../../warehouse/warehouse.ts"
import { launchChromium } from "../helpers/browser.ts"
import { runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

const artifacts = resolve(import.meta.dirname, "../../test-artifacts")
const ITEMS = 5000 // per task: 10,000 disputed items in the explorer

/**
 * A warehouse with what the explorer reads: items (MCQA payloads with options and gold letters,
 * open questions with a reference), predictions with per-option log-likelihoods, judge verdicts,
 * and scores of three systems that disagree on every item. Generated in SQL, deterministic.
 */
const buildWarehouse = async () => {
  const db = tempWarehousePath()
  await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    yield* w.exec(`
      CREATE TEMP TABLE sys AS SELECT * FROM (VALUES (0, 'Qwen3-14B'), (1, 'Mistral-7B-Instruct-v0.3'), (2, 'BioMistral-7B')) t(k, system);
      INSERT INTO items (task, item_id, dataset_version, content_hash, payload)
      SELECT 'medmcqa-fr', 'mcq-' || lpad(i::VARCHAR, 5, '0'), 'medmcqa-v2', md5(i::VARCHAR),
             json_object('task', 'mcqa', 'id', 'mcq-' || i, 'question', 'Quel examen confirme le diagnostic numéro ' || i || ' ?',
                         'options', ['Scanner', 'IRM', 'Échographie', 'Biopsie', 'ECG'], 'correct', [substr('ABCDE', 1 + i % 5, 1)])
      FROM range(${ITEMS}) r(i);
      INSERT INTO items (task, item_id, dataset_version, content_hash, payload)
      SELECT 'mediqal-oeq-fr', 'oeq-' || lpad(i::VARCHAR, 5, '0'), 'mediqal-v1', md5(i::VARCHAR),
             json_object('task', 'absqa', 'id', 'oeq-' || i, 'question', 'Quelle est la conduite à tenir dans le cas ' || i || ' ?', 'reference', 'Hospitaliser et surveiller (cas ' || i || ').')
      FROM range(${ITEMS}) r(i);
      INSERT INTO predictions (system, task, shots, item_id, dataset_version, cache_key, output, options)
      SELECT s.system, 'medmcqa-fr', 0, 'mcq-' || lpad(i::VARCHAR, 5, '0'), 'medmcqa-v2', md5(s.system || i), substr('ABCDE', 1 + (i + s.k) % 5, 1),
             to_json([{logprob: -1.5 - ((i + s.k) % 3) * 0.25, tokens: 2}, {logprob: -2.25, tokens: 1}, {logprob: -3.0, tokens: 3}, {logprob: -0.75 - s.k * 0.5, tokens: 2}, {logprob: -4.125, tokens: 1}])
      FROM range(${ITEMS}) r(i), sys s;
      INSERT INTO predictions (system, task, shots, item_id, dataset_version, cache_key, output)
      SELECT s.system, 'mediqal-oeq-fr', 0, 'oeq-' || lpad(i::VARCHAR, 5, '0'), 'mediqal-v1', md5('oeq' || s.system || i), 'Réponse de ' || s.system || ' au cas ' || i
      FROM range(${ITEMS}) r(i), sys s;
      INSERT INTO judgements (cache_key, judge, judge_kind, item_order, score, raw)
      SELECT md5('oeq' || s.system || i), 'judge-qwen3', 'local-model', o.item_order, 1 + (i + s.k) % 5, 'Note : ' || (1 + (i + s.k) % 5) || '/5 (' || o.item_order || ')'
      FROM range(${ITEMS}) r(i), sys s, (VALUES ('reference-first'), ('answer-first')) o(item_order);
      INSERT INTO scores (system, task, shots, item_id, dataset_version, metric, score)
      SELECT s.system, 'medmcqa-fr', 0, 'mcq-' || lpad(i::VARCHAR, 5, '0'), 'medmcqa-v2', 'acc', CASE WHEN (i + s.k) % 5 = i % 5 THEN 1 ELSE 0 END
      FROM range(${ITEMS}) r(i), sys s;
      INSERT INTO scores (system, task, shots, item_id, dataset_version, metric, score)
      SELECT s.system, 'mediqal-oeq-fr', 0, 'oeq-' || lpad(i::VARCHAR, 5, '0'), 'mediqal-v1', 'judge', 1 + (i + s.k) % 5
      FROM range(${ITEMS}) r(i), sys s;
    `)
    yield* runAnalyses({ reference: "Qwen3-14B", resamples: 50 })
  }))
  return db
}

let browser: Browser
let html: string

before(async () => {
  const db = await buildWarehouse()
  const files = await runWithWarehouse(db, buildReport({ explorerItemsPerCell: ITEMS }))
  const dir = tempDir("fleuve-explorer-")
  for (const f of files) {
    mkdirSync(join(dir, f.path, ".."), { recursive: true })
    writeFileSync(join(dir, f.path), f.content)
  }
  html = join(dir, "report.html")
  browser = await launchChromium()
})

after(async () => {
  await browser?.close()
})

const countText = (page: Page) => page.$eval("#explorer .count", (e) => e.textContent ?? "")
const cards = (page: Page) => page.$$eval("#explorer .item", (es) => es.length)

test("item explorer in real Chromium, offline, with 10,000 disputed items: lazy pages, filters by cell, system and text, predictions with option log-likelihoods and judge verdicts", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, offline: true })
  const page = await context.newPage()
  const errors: Array<string> = []
  const requests: Array<string> = []
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(m.text())
  })
  page.on("pageerror", (e) => errors.push(e.message))
  page.on("request", (r) => requests.push(r.url()))
  try {
    const t0 = Date.now()
    await page.goto(pathToFileURL(html).href, { waitUntil: "load" })
    const loadMs = Date.now() - t0
    assert.deepEqual(errors, [])
    assert.deepEqual(requests.filter((u) => !u.startsWith("file:")), [])
    // Lazy: 10,000 items known, 50 built.
    assert.match(await countText(page), /^10000 items where systems disagree; showing 50$/)
    assert.equal(await cards(page), 50)
    await page.click("#explorer button.more")
    assert.equal(await cards(page), 100)

    // Filter to the MCQA cell and one system; open an item: its gold, its prediction, its option log-likelihoods.
    const mcqaCell = await page.$eval("#explorer select.cell", (s) => Array.from((s as HTMLSelectElement).options).find((o) => o.textContent!.startsWith("medmcqa-fr"))!.value)
    await page.selectOption("#explorer select.cell", mcqaCell)
    assert.match(await countText(page), /^5000 items/)
    const mistral = await page.$eval("#explorer select.system", (s) => Array.from((s as HTMLSelectElement).options).find((o) => o.textContent === "Mistral-7B-Instruct-v0.3")!.value)
    await page.selectOption("#explorer select.system", mistral)
    await page.fill("#explorer input.search", "mcq-00007")
    assert.match(await countText(page), /^1 item where/)
    const first = page.locator("#explorer .item").first()
    assert.equal(await first.locator("table").count(), 0, "details are built only when opened")
    await first.locator("summary").click()
    await first.locator("table tr").nth(1).waitFor() // built on the toggle event
    const body = await first.locator(".body").innerText()
    assert.match(body, /Quel examen confirme le diagnostic numéro 7 \?/)
    assert.match(body, /Gold: C\. Échographie/)
    const rows = await first.locator("table tr").allInnerTexts()
    assert.equal(rows.length, 2, "header + the selected system only")
    assert.match(rows[1]!, /Mistral-7B-Instruct-v0\.3\s+0\s+D\s+A −2\s+B −2\.25\s+C −3\s+D −1\.25\s+E −4\.125/)

    // The judged task: every system, both presentation orders of the judge.
    await page.fill("#explorer input.search", "")
    await page.selectOption("#explorer select.system", "")
    const oeqCell = await page.$eval("#explorer select.cell", (s) => Array.from((s as HTMLSelectElement).options).find((o) => o.textContent!.startsWith("mediqal-oeq-fr"))!.value)
    await page.selectOption("#explorer select.cell", oeqCell)
    await page.fill("#explorer input.search", "oeq-00003")
    const judged = page.locator("#explorer .item").first()
    await judged.locator("summary").click()
    await judged.locator("table tr").nth(3).waitFor()
    const judgedRows = await judged.locator("table tr").allInnerTexts()
    assert.equal(judgedRows.length, 4)
    assert.match(await judged.locator(".body").innerText(), /Gold: Hospitaliser et surveiller \(cas 3\)\./)
    assert.match(judgedRows.join("\n"), /judge-qwen3 \(answer-first\): \d — Note : \d\/5 \(answer-first\)/)
    assert.match(judgedRows.join("\n"), /Réponse de BioMistral-7B au cas 3/)
    assert.deepEqual(errors, [])
    // Measured, not asserted (tests never assert timings): kept beside the screenshots.
    mkdirSync(artifacts, { recursive: true })
    writeFileSync(join(artifacts, "explorer-timing.json"), `${JSON.stringify({ items: 2 * ITEMS, loadMs })}\n`)
    await page.screenshot({ path: join(artifacts, "report-explorer.png") })
  } finally {
    await context.close()
  }
})
