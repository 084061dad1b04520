import { Stream } from "effect"
import type { Envelope } from "../envelope.ts"
import { OperatorFailure } from "../operator.ts"
import { firstInvalidByte, readLines } from "./lines.ts"
import { fields, type RawRecord, unreadable } from "./raw-record.ts"

/**
 * Splits one CSV record (RFC 4180: quotes, doubled quotes, separators and newlines inside
 * quotes). Returns undefined while a quoted field is still open, so the caller joins the next line.
 */
export const splitCsv = (text: string, separator = ","): Array<string> | undefined => {
  const out: Array<string> = []
  let field = ""
  let quoted = false
  let i = 0
  while (i < text.length) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"'
          i += 2
          continue
        }
        quoted = false
      } else field += ch
    } else if (ch === '"' && field === "") quoted = true
    else if (ch === separator) {
      out.push(field)
      field = ""
    } else field += ch
    i++
  }
  if (quoted) return undefined
  out.push(field)
  return out
}

/** CSV with a header line (plain or .gz). Fields are strings; empty fields become undefined. */
export const readCsv = (path: string, name = "read-csv"): Stream.Stream<Envelope<RawRecord>, OperatorFailure> =>
  Stream.fromAsyncIterable(csvRecords(path), (e) => new OperatorFailure({ operator: name, message: `cannot read ${path}: ${String(e)}` }))

async function* csvRecords(path: string): AsyncGenerator<Envelope<RawRecord>> {
  let header: Array<string> | undefined
  let pending: { line: number; text: string } | undefined
  for await (const l of readLines(path)) {
    const position = { _tag: "File" as const, file: path, line: pending?.line ?? l.line }
    const key = `${path}:${position.line}`
    if (l.text === undefined) {
      pending = undefined
      yield { key, position, value: unreadable(`invalid UTF-8 at byte ${firstInvalidByte(l.bytes)}`, l.bytes.toString("latin1")) }
      continue
    }
    const text = pending ? `${pending.text}\n${l.text}` : l.text
    if (!pending && text.trim() === "") continue
    const cells = splitCsv(text)
    if (cells === undefined) {
      pending = { line: position.line, text }
      continue
    }
    pending = undefined
    if (!header) {
      header = cells.map((c) => c.trim())
      continue
    }
    if (cells.length !== header.length) {
      yield { key, position, value: unreadable(`expected ${header.length} fields (${header.join(",")}), got ${cells.length}`, text) }
      continue
    }
    const row: Record<string, unknown> = {}
    header.forEach((h, i) => {
      const v = cells[i]!
      row[h] = v === "" ? undefined : v
    })
    yield { key, position, value: fields(row) }
  }
  if (pending) {
    yield {
      key: `${path}:${pending.line}`,
      position: { _tag: "File", file: path, line: pending.line },
      value: unreadable("unterminated quoted field at end of file", pending.text)
    }
  }
}
