import { Effect, Stream } from "effect"
import type { Position } from "../../schemas/common.ts"
import type { Envelope } from "../envelope.ts"
import { OperatorFailure } from "../operator.ts"
import { givenMaxRecordBytes, maxRecordBytes, tooLongReason } from "./limits.ts"
import { firstInvalidByte, type Line, readLines } from "./lines.ts"
import { fields, type RawRecord, unreadable } from "./raw-record.ts"

/**
 * One CSV record being parsed (RFC 4180: quotes, doubled quotes, separators and newlines inside
 * quotes), fed a line at a time. The state carries over from line to line, so a record spanning
 * many lines is scanned once: re-splitting the joined text at every line made one stray quote
 * quadratic in the rows that followed it.
 */
export class CsvRecordParser {
  private out: Array<string> = []
  private field = ""
  private quoted = false
  private open = false

  constructor(private readonly separator = ",") {}

  /** Feeds one line (without its newline); true when the record is complete. */
  feed(line: string): boolean {
    if (this.open) this.field += "\n"
    this.open = true
    const sep = this.separator
    let i = 0
    let from = 0 // start of the run of plain characters not yet added to the field
    while (i < line.length) {
      const ch = line[i]!
      if (this.quoted) {
        if (ch === '"') {
          this.field += line.slice(from, i)
          if (line[i + 1] === '"') {
            this.field += '"'
            i += 2
            from = i
            continue
          }
          this.quoted = false
          from = i + 1
        }
      } else if (ch === '"' && this.field === "" && from === i) {
        this.quoted = true
        from = i + 1
      } else if (ch === sep) {
        this.out.push(this.field + line.slice(from, i))
        this.field = ""
        from = i + 1
      }
      i++
    }
    this.field += line.slice(from)
    return !this.quoted
  }

  /** The fields of the completed record; the parser is ready for the next one. */
  take(): Array<string> {
    const cells = [...this.out, this.field]
    this.reset()
    return cells
  }

  reset() {
    this.out = []
    this.field = ""
    this.quoted = false
    this.open = false
  }
}

/** Splits one complete CSV text; undefined while a quoted field is still open. */
export const splitCsv = (text: string, separator = ","): Array<string> | undefined => {
  const p = new CsvRecordParser(separator)
  return p.feed(text) ? p.take() : undefined
}

export interface CsvOptions {
  /** Maximum bytes of one record (default: the command's --max-record-bytes, else maxRecordBytes()). */
  readonly maxRecordBytes?: number
}

/** CSV with a header line (plain or .gz). Fields are strings; empty fields become undefined. */
export const readCsv = (path: string, name = "read-csv", options: CsvOptions = {}): Stream.Stream<Envelope<RawRecord>, OperatorFailure> =>
  Stream.unwrap(
    Effect.map(givenMaxRecordBytes(options.maxRecordBytes), (max) =>
      Stream.fromAsyncIterable(
        csvRecords(path, max === undefined ? options : { ...options, maxRecordBytes: max }),
        (e) => new OperatorFailure({ operator: name, message: `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}` })
      ))
  )

async function* csvRecords(path: string, options: CsvOptions): AsyncGenerator<Envelope<RawRecord>> {
  const max = options.maxRecordBytes ?? maxRecordBytes()
  const parser = new CsvRecordParser()
  let header: Array<string> | undefined
  // The lines of the record being parsed, kept so that when its quote never closes, the record's
  // first line alone becomes the dead letter and the lines after it are read again as records.
  let pending: Array<Line> = []
  let pendingBytes = 0
  // Lines to (re)process, in order; a head index keeps taking from the front O(1).
  let work: Array<Line> = []
  let head = 0
  const at = (line: number): { key: string; position: Position } => ({ key: `${path}:${line}`, position: { _tag: "File", file: path, line } })

  /** Gives up on the open record: a dead letter for its first line; the rest goes back to the front of the work. */
  const abandon = (): Envelope<RawRecord> => {
    const first = pending[0]!
    const rest = pending.slice(1)
    const reason = rest.length === 0
      ? "unterminated quoted field: the quote opened on this line is never closed"
      : `unterminated quoted field: the quote opened on this line is not closed within ${pendingBytes > max ? `the maximum record size of ${max} bytes` : "the file"}; the lines after it are read as records`
    pending = []
    pendingBytes = 0
    parser.reset()
    work = [...rest, ...work.slice(head)]
    head = 0
    return { ...at(first.line), value: unreadable(reason, first.text ?? "") }
  }

  function* step(l: Line): Generator<Envelope<RawRecord>> {
    if (l.tooLong !== undefined || l.text === undefined) {
      if (pending.length > 0) {
        yield abandon()
        work.splice(head, 0, l) // after the abandoned record's lines
        return
      }
      yield l.tooLong !== undefined
        ? { ...at(l.line), value: unreadable(tooLongReason(l.tooLong, max), l.bytes.toString("latin1")) }
        : { ...at(l.line), value: unreadable(`invalid UTF-8 at byte ${firstInvalidByte(l.bytes)}`, l.bytes.toString("latin1")) }
      return
    }
    if (pending.length === 0 && l.text.trim() === "") return
    pending.push(l)
    pendingBytes += l.bytes.length + 1
    if (!parser.feed(l.text)) {
      if (pendingBytes > max) yield abandon()
      return
    }
    const line = pending[0]!.line
    const text = pending.length === 1 ? l.text : pending.map((p) => p.text).join("\n")
    pending = []
    pendingBytes = 0
    const cells = parser.take()
    if (!header) {
      header = cells.map((c) => c.trim())
      const seen = new Map<string, number>()
      header.forEach((h, i) => {
        if (h.includes("\u0000")) throw new Error(`line ${line}: the header holds NUL bytes: not a CSV text file`)
        const earlier = seen.get(h)
        if (earlier !== undefined) throw new Error(`line ${line}: column '${h}' appears twice in the header (columns ${earlier + 1} and ${i + 1}); rename one`)
        seen.set(h, i)
      })
      return
    }
    if (cells.length !== header.length) {
      yield { ...at(line), value: unreadable(`expected ${header.length} fields (${header.join(",")}), got ${cells.length}`, text) }
      return
    }
    const row: Record<string, unknown> = {}
    header.forEach((h, i) => {
      const v = cells[i]!
      row[h] = v === "" ? undefined : v
    })
    yield { ...at(line), value: fields(row) }
  }

  function* drain(): Generator<Envelope<RawRecord>> {
    while (head < work.length) {
      const l = work[head++]!
      yield* step(l)
    }
    work = []
    head = 0
  }

  for await (const l of readLines(path, { maxLineBytes: max })) {
    work.push(l)
    yield* drain()
  }
  while (pending.length > 0) {
    yield abandon()
    yield* drain()
  }
}
