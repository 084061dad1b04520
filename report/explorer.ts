/**
 * The item explorer of report.html: per cell, the items where systems disagree most, each with its
 * prompt, gold answer, every system's score and prediction, per-option log-likelihoods and judge
 * verdicts, filterable by cell, system and text. The data is inlined as JSON and the page renders
 * it with a small inline script: nothing is fetched, and only what is on screen is built (50 items
 * at a time; an item's option table and verdicts only when it is opened), so 10,000 items stay
 * fast. Tested in real Chromium (test/report/explorer.test.ts).
 */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Warehouse } from "../warehouse/warehouse.ts"

const read = (name: string) => readFileSync(join(import.meta.dirname, `${name}.sql`), "utf8")
const ITEMS_SQL = read("explorer-items")
const SYSTEMS_SQL = read("explorer-systems")

/** Items per cell the explorer carries (the most disputed first). */
export const DEFAULT_ITEMS_PER_CELL = 1000

export interface ExplorerData {
  readonly systems: ReadonlyArray<string>
  readonly cells: ReadonlyArray<{ readonly task: string; readonly shots: number; readonly metric: string }>
  /** c: cell index; s: [system index, score, output, option log-likelihoods, verdicts]. */
  readonly items: ReadonlyArray<{
    readonly c: number
    readonly id: string
    readonly v: string
    readonly spread: number
    readonly q: string | null
    readonly ctx: string | null
    readonly gold: string | null
    readonly opts: ReadonlyArray<string>
    readonly s: ReadonlyArray<readonly [number, number, string | null, ReadonlyArray<number> | null, ReadonlyArray<{ judge: string; order: string; score: number; raw: string | null }> | null]>
  }>
}

const letters = "ABCDEFGHIJ"

/** Question, context, options and gold answer of an item payload, whatever its task's layout. */
const readPayload = (payload: string | null) => {
  if (!payload) return { q: null, ctx: null, gold: null, opts: [] as Array<string> }
  const p = JSON.parse(payload) as Record<string, unknown>
  const text = (v: unknown) => (typeof v === "string" ? v : null)
  const opts = Array.isArray(p.options) ? p.options.map(String) : []
  let gold: string | null = null
  if (Array.isArray(p.correct)) gold = p.correct.map((l) => `${l}. ${opts[letters.indexOf(String(l))] ?? ""}`.trim()).join(" + ")
  else if (Array.isArray(p.answers)) gold = p.answers.map((a) => (typeof a === "object" && a !== null ? String((a as { text?: unknown }).text ?? "") : String(a))).join(" | ")
  else gold = text(p.reference) ?? text(p.answer) ?? text(p.target) ?? null
  return { q: text(p.question) ?? text(p.prompt), ctx: text(p.context), gold, opts }
}

export const loadExplorer = (perCell = DEFAULT_ITEMS_PER_CELL) =>
  Effect.gen(function*() {
    const w = yield* Warehouse
    const limit = Math.max(1, Math.floor(perCell))
    yield* w.exec(`CREATE OR REPLACE TEMP TABLE explorer_items AS ${ITEMS_SQL.replaceAll("$per_cell", String(limit))}`)
    const items = yield* w.query<{ task: string; shots: number; item_id: string; dataset_version: string; spread: number; payload: string | null }>(
      "SELECT * FROM explorer_items ORDER BY task, shots, place"
    )
    const sides = yield* w.query<{ task: string; shots: number; item_id: string; dataset_version: string; system: string; score: number; output: string | null; options: string | null; judgements: string | null }>(SYSTEMS_SQL)
    const metrics = yield* w.query<{ task: string; metric: string }>("SELECT task, metric FROM analysis_metrics")
    yield* w.exec("DROP TABLE IF EXISTS explorer_items")

    const systems = [...new Set(sides.map((s) => s.system))].sort()
    const systemIndex = new Map(systems.map((s, i) => [s, i]))
    const cells: Array<{ task: string; shots: number; metric: string }> = []
    const cellIndex = new Map<string, number>()
    const key = (r: { task: string; shots: number; item_id: string; dataset_version: string }) => `${r.task}\u0000${r.shots}\u0000${r.item_id}\u0000${r.dataset_version}`
    const bySide = new Map<string, Array<ExplorerData["items"][number]["s"][number]>>()
    for (const s of sides) {
      const options = s.options ? (JSON.parse(s.options) as Array<{ logprob?: number }>).map((o) => (typeof o.logprob === "number" ? Math.round(o.logprob * 1000) / 1000 : Number.NaN)) : null
      const verdicts = s.judgements ? (JSON.parse(s.judgements) as Array<{ judge: string; order: string; score: number; raw: string | null }>) : null
      const list = bySide.get(key(s)) ?? []
      list.push([systemIndex.get(s.system)!, s.score, s.output, options, verdicts])
      bySide.set(key(s), list)
    }
    const data: ExplorerData = {
      systems,
      cells,
      items: items.map((i) => {
        const ck = `${i.task}\u0000${i.shots}`
        let c = cellIndex.get(ck)
        if (c === undefined) {
          c = cells.length
          cellIndex.set(ck, c)
          cells.push({ task: i.task, shots: i.shots, metric: metrics.find((m) => m.task === i.task)?.metric ?? "" })
        }
        return { c, id: i.item_id, v: i.dataset_version, spread: Math.round(i.spread * 1e4) / 1e4, ...readPayload(i.payload), s: bySide.get(key(i)) ?? [] }
      })
    }
    return data
  })

/** JSON that can sit inside a <script> element: "</" and U+2028/9 escaped. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029")

export const EXPLORER_STYLE = `
#explorer .controls { display: flex; gap: 12px; flex-wrap: wrap; align-items: center; margin: 8px 0 12px; font-size: 14px; }
#explorer select, #explorer input { font: inherit; padding: 3px 6px; }
#explorer .item { border: 1px solid #dddddd; border-radius: 4px; margin: 8px 0; padding: 0; }
#explorer .item > summary { cursor: pointer; padding: 6px 10px; font-size: 14px; list-style-position: inside; }
#explorer .item .body { padding: 4px 12px 10px; font-size: 13px; }
#explorer .q { white-space: pre-wrap; margin: 4px 0; }
#explorer .ctx { white-space: pre-wrap; color: #555555; max-height: 12em; overflow: auto; margin: 4px 0; }
#explorer .gold { margin: 4px 0; }
#explorer td.pred, #explorer td.verdicts { white-space: pre-wrap; min-width: 12em; max-width: 420px; }
#explorer td.options { white-space: normal; min-width: 10em; }
#explorer .count { color: #444444; }
`.trim()

/**
 * The browser side, as a string: builds the filter controls and renders items lazily. Plain
 * ES2017, no library; every text goes in through textContent (never innerHTML), so item text
 * cannot inject markup.
 */
const SCRIPT = String.raw`
(function () {
  var data = JSON.parse(document.getElementById("explorer-data").textContent);
  var root = document.getElementById("explorer");
  var list = root.querySelector(".list"), count = root.querySelector(".count"), more = root.querySelector("button.more");
  var cellSel = root.querySelector("select.cell"), sysSel = root.querySelector("select.system"), search = root.querySelector("input.search");
  var LETTERS = "ABCDEFGHIJ", PAGE = 50, shown = 0, matches = [];
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined && text !== null) e.textContent = String(text); return e; }
  function opt(value, label) { var o = el("option", null, label); o.value = value; return o; }
  cellSel.appendChild(opt("", "all cells (" + data.cells.length + ")"));
  data.cells.forEach(function (c, i) { cellSel.appendChild(opt(String(i), c.task + " · " + c.shots + "-shot (" + c.metric + ")")); });
  sysSel.appendChild(opt("", "all systems (" + data.systems.length + ")"));
  data.systems.forEach(function (s, i) { sysSel.appendChild(opt(String(i), s)); });
  function fmt(x) { return typeof x === "number" && isFinite(x) ? (Math.round(x * 1000) / 1000).toString().replace("-", "\u2212") : "\u2013"; }
  function filter() {
    var c = cellSel.value === "" ? -1 : Number(cellSel.value), s = sysSel.value === "" ? -1 : Number(sysSel.value), q = search.value.trim().toLowerCase();
    matches = [];
    for (var i = 0; i < data.items.length; i++) {
      var it = data.items[i];
      if (c >= 0 && it.c !== c) continue;
      if (s >= 0 && !it.s.some(function (x) { return x[0] === s; })) continue;
      if (q && (it.id + " " + (it.q || "") + " " + (it.gold || "")).toLowerCase().indexOf(q) < 0) continue;
      matches.push(it);
    }
    list.textContent = ""; shown = 0; page();
  }
  function details(it, body) {
    var s = sysSel.value === "" ? -1 : Number(sysSel.value);
    if (it.ctx) body.appendChild(el("div", "ctx", it.ctx));
    var t = el("table"), head = el("tr");
    ["System", "Score", "Prediction", "Option log-likelihoods", "Judge verdicts"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    t.appendChild(head);
    it.s.forEach(function (x) {
      if (s >= 0 && x[0] !== s) return;
      var tr = el("tr");
      tr.appendChild(el("td", "system", data.systems[x[0]]));
      tr.appendChild(el("td", "num", fmt(x[1])));
      tr.appendChild(el("td", "pred", x[2] === null ? "\u2013" : x[2]));
      tr.appendChild(el("td", "options", x[3] ? x[3].map(function (lp, k) { return LETTERS[k] + " " + fmt(lp); }).join("  ") : "\u2013"));
      tr.appendChild(el("td", "verdicts", x[4] ? x[4].map(function (v) { return v.judge + " (" + v.order + "): " + v.score + (v.raw ? " \u2014 " + v.raw : ""); }).join("\n") : "\u2013"));
      t.appendChild(tr);
    });
    body.appendChild(t);
  }
  function card(it) {
    var cell = data.cells[it.c], d = el("details", "item"), sum = el("summary");
    sum.textContent = cell.task + " \u00b7 " + cell.shots + "-shot \u00b7 " + it.id + " \u00b7 spread " + fmt(it.spread) + " \u00b7 " + (it.q ? it.q.slice(0, 120) : "(item text not in the warehouse)");
    d.appendChild(sum);
    var body = el("div", "body");
    if (it.q) body.appendChild(el("div", "q", it.q));
    if (it.opts.length) body.appendChild(el("div", "opts", it.opts.map(function (o, k) { return LETTERS[k] + ". " + o; }).join("   ")));
    body.appendChild(el("div", "gold", "Gold: " + (it.gold === null ? "\u2013" : it.gold)));
    d.appendChild(body);
    var built = false;
    d.addEventListener("toggle", function () { if (d.open && !built) { built = true; details(it, body); } });
    return d;
  }
  function page() {
    var end = Math.min(matches.length, shown + PAGE), frag = document.createDocumentFragment();
    for (var i = shown; i < end; i++) frag.appendChild(card(matches[i]));
    list.appendChild(frag); shown = end;
    count.textContent = matches.length + " item" + (matches.length === 1 ? "" : "s") + " where systems disagree; showing " + shown;
    more.hidden = shown >= matches.length;
  }
  cellSel.addEventListener("change", filter); sysSel.addEventListener("change", filter); search.addEventListener("input", filter);
  more.addEventListener("click", page);
  filter();
})();
`

/** The explorer's section of report.html. */
export const explorerHtml = (data: ExplorerData, perCell = DEFAULT_ITEMS_PER_CELL): string =>
  `<section id="explorer"><h2>Item explorer</h2>` +
  `<p class="caption">Per cell, the items where the systems' scores on the analysed metric disagree most (population standard deviation across systems; unanimous items left out; at most ${perCell} per cell). Open an item for every system's prediction, per-option log-likelihoods and judge verdicts. Filter by cell, system or text.</p>` +
  `<div class="controls"><label>Cell <select class="cell"></select></label><label>System <select class="system"></select></label>` +
  `<label>Search <input class="search" type="search" placeholder="item id, question, gold"></label><span class="count"></span></div>` +
  `<div class="list"></div><button type="button" class="more">Show 50 more</button>` +
  `<script type="application/json" id="explorer-data">${scriptJson(data)}</script>` +
  `<script>${SCRIPT}</script></section>`
