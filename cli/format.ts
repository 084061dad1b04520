import type { Row } from "../pipelines/services.ts"

export type OutputFormat = "table" | "json" | "csv"

const cell = (v: unknown): string =>
  v === null || v === undefined ? "" : typeof v === "number" ? (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(10)))) : typeof v === "object" ? JSON.stringify(v) : String(v)

const csvCell = (v: unknown): string => {
  const s = v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** Renders rows for the terminal (aligned), for programs (one JSON array), or as CSV. */
export const formatRows = (rows: ReadonlyArray<Row>, format: OutputFormat, columns = rows[0] ? Object.keys(rows[0]) : []): string => {
  if (format === "json") return JSON.stringify(rows)
  if (format === "csv") return [columns.map(csvCell).join(","), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(","))].join("\n")
  if (columns.length === 0) return "(no rows)"
  const body = rows.map((r) => columns.map((c) => cell(r[c])))
  const widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...body.map((b) => b[i]!.length))))
  const line = (cells: ReadonlyArray<string>) => cells.map((c, i) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!))).join("  ").trimEnd()
  return [line(columns), widths.map((w) => "─".repeat(w)).join("  "), ...body.map(line), `(${rows.length} row${rows.length === 1 ? "" : "s"})`].join("\n")
}
