import type { Figure, FigureContext } from "./figures/common.ts"
import { taskLabel } from "./figures/common.ts"
import { type ReportTable, escapeHtml, tableToHtml, tableToMarkdown } from "./tables.ts"
import { EXPLORER_STYLE, type ExplorerData } from "./explorer.ts"
import { type Provenance, provenanceLines } from "./provenance.ts"
import { FONT_FAMILY } from "./text-metrics.ts"

/** A figure as drawn: one SVG, or one per part (the CD diagram has one per shot count). */
export interface RenderedFigure {
  readonly figure: Figure
  readonly parts: ReadonlyArray<{ readonly file: string; readonly label: string | null; readonly svg: string }>
}

const summary = (ctx: FigureContext) =>
  `${ctx.systems.length} systems, ${ctx.tasks.length} tasks (${ctx.tasks.map((t) => taskLabel(ctx, t.task)).join(", ")}), ` +
  `shot counts ${ctx.shots.join(", ")}; reference ${ctx.reference}.`

const INTRO = "Drawn by `fleuve report` from the analysis tables that `fleuve analyze` writes into the warehouse. " +
  "Each chart's Vega-Lite spec, data inline, sits next to its SVG (figures/*.vl.json) for restyling."

/** report.md: the tables, then every figure as an image link with its caption; pastes into a model card. */
export const renderMarkdown = (
  ctx: FigureContext,
  tables: ReadonlyArray<ReportTable>,
  figures: ReadonlyArray<RenderedFigure>,
  caveats: ReadonlyArray<string> = [],
  provenance?: Provenance,
  explorer?: ExplorerData,
  /** The report's opening sentences (report/opening.ts), first of all. */
  opening: ReadonlyArray<string> = []
): string => {
  const out: Array<string> = [`# Evaluation report${provenance?.study ? `: ${provenance.study}` : ""}`, "", ...(opening.length > 0 ? [opening.join(" "), ""] : []), summary(ctx), "", INTRO, ""]
  if (caveats.length > 0) out.push("## Caveats", "", ...caveats.map((c) => `- **Warning:** ${c}`), "")
  out.push("## Tables", "")
  tables.forEach((t, i) => out.push(`### Table ${i + 1}. ${t.title}`, "", t.caption, "", tableToMarkdown(t), ""))
  out.push("## Figures", "")
  for (const { figure, parts } of figures) {
    out.push(`### Figure ${Number(figure.id)}. ${figure.title}`, "", figure.caption, "")
    for (const p of parts) out.push(`![${figure.title}${p.label ? `, ${p.label}` : ""}](${p.file})`, "")
  }
  if (explorer) {
    out.push("## Item explorer", "", `report.html holds an item explorer: the ${explorer.items.length} items where systems disagree most over ${explorer.cells.length} cells, with prompts, gold answers, every system's prediction, option log-likelihoods and judge verdicts.`, "")
  }
  if (provenance) {
    out.push("## Provenance", "", ...provenanceLines(provenance).flatMap((l) => [l, ""]))
    out.push(`### ${provenance.cells.title}`, "", provenance.cells.caption, "", tableToMarkdown(provenance.cells), "")
  }
  return `${out.join("\n").trimEnd()}\n`
}

const STYLE = `
body { font-family: ${FONT_FAMILY}; color: #1a1a1a; background: #ffffff; margin: 0; line-height: 1.45; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 26px; margin: 0 0 6px; }
p.opening { font-size: 16px; margin: 8px 0 12px; max-width: 860px; }
h2 { font-size: 20px; margin: 36px 0 10px; border-bottom: 1px solid #dddddd; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 24px 0 6px; }
p.caption { margin: 0 0 10px; color: #444444; font-size: 14px; max-width: 860px; }
nav ul { columns: 2; font-size: 14px; padding-left: 0; list-style: none; }
nav li { margin: 2px 0; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid #e3e3e3; padding: 4px 10px; text-align: left; white-space: nowrap; }
th { border-bottom: 2px solid #888888; background: #f6f6f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.table-wrap, .figure-wrap { overflow-x: auto; }
figure { margin: 8px 0 20px; }
figure svg { display: block; max-width: none; height: auto; }
#table-best-per-cell td, #table-best-per-cell th { white-space: normal; min-width: 8em; }
${EXPLORER_STYLE}
.caveats { background: #fff8e1; border-left: 4px solid #e0a800; padding: 4px 16px; margin: 16px 0; font-size: 14px; }
`.trim()

/** report.html: one self-contained page, SVGs inline, no script and nothing fetched from the network. */
export const renderHtml = (
  ctx: FigureContext,
  tables: ReadonlyArray<ReportTable>,
  figures: ReadonlyArray<RenderedFigure>,
  caveats: ReadonlyArray<string> = [],
  provenance?: Provenance,
  explorer = "",
  opening: ReadonlyArray<string> = []
): string => {
  const toc = [
    ...tables.map((t, i) => `<li><a href="#table-${t.id}">Table ${i + 1}. ${escapeHtml(t.title)}</a></li>`),
    ...figures.map(({ figure }) => `<li><a href="#figure-${figure.id}">Figure ${Number(figure.id)}. ${escapeHtml(figure.title)}</a></li>`)
  ].join("")
  const tableHtml = tables.map((t, i) =>
    `<section><h3>Table ${i + 1}. ${escapeHtml(t.title)}</h3><p class="caption">${escapeHtml(t.caption)}</p><div class="table-wrap">${tableToHtml(t)}</div></section>`
  ).join("\n")
  const figureHtml = figures.map(({ figure, parts }) =>
    `<section id="figure-${figure.id}"><h3>Figure ${Number(figure.id)}. ${escapeHtml(figure.title)}</h3><p class="caption">${escapeHtml(figure.caption)}</p>` +
    parts.map((p) =>
      `<figure class="report-figure" data-file="${escapeHtml(p.file)}"><div class="figure-wrap">${p.svg}</div></figure>`
    ).join("") +
    `</section>`
  ).join("\n")
  return [
    "<!DOCTYPE html>",
    `<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>Evaluation report${provenance?.study ? `: ${escapeHtml(provenance.study)}` : ""}</title><style>${STYLE}</style></head>`,
    `<body><main>`,
    `<h1>Evaluation report${provenance?.study ? `: ${escapeHtml(provenance.study)}` : ""}</h1>${opening.length > 0 ? `<p class="opening">${escapeHtml(opening.join(" "))}</p>` : ""}<p class="caption">${escapeHtml(summary(ctx))}</p><p class="caption">${escapeHtml(INTRO.replace(/`/g, ""))}</p>`,
    `<nav><ul>${toc}</ul></nav>`,
    caveats.length > 0 ? `<section id="caveats" class="caveats"><h2>Caveats</h2><ul>${caveats.map((c) => `<li><strong>Warning:</strong> ${escapeHtml(c)}</li>`).join("")}</ul></section>` : "",
    `<h2>Tables</h2>`,
    tableHtml,
    `<h2>Figures</h2>`,
    figureHtml,
    explorer,
    provenance
      ? `<section id="provenance"><h2>Provenance</h2>${provenanceLines(provenance).map((l) => `<p class="caption">${escapeHtml(l.replace(/`/g, ""))}</p>`).join("")}` +
        `<h3>${escapeHtml(provenance.cells.title)}</h3><p class="caption">${escapeHtml(provenance.cells.caption)}</p><div class="table-wrap">${tableToHtml(provenance.cells)}</div></section>`
      : "",
    `</main></body></html>`,
    ""
  ].join("\n")
}
