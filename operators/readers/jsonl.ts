import { Stream } from "effect"
import type { Envelope } from "../envelope.ts"
import { OperatorFailure } from "../operator.ts"
import { firstInvalidByte, readLines } from "./lines.ts"
import { fields, type RawRecord, unreadable } from "./raw-record.ts"

/** JSON Lines (plain or .gz). Blank lines are skipped; each other line must be a JSON object. */
export const readJsonl = (path: string, name = "read-jsonl"): Stream.Stream<Envelope<RawRecord>, OperatorFailure> =>
  Stream.fromAsyncIterable(jsonlRecords(path), (e) => new OperatorFailure({ operator: name, message: `cannot read ${path}: ${String(e)}` }))

async function* jsonlRecords(path: string): AsyncGenerator<Envelope<RawRecord>> {
  for await (const l of readLines(path)) {
    const position = { _tag: "File" as const, file: path, line: l.line }
    const key = `${path}:${l.line}`
    if (l.text === undefined) {
      yield { key, position, value: unreadable(`invalid UTF-8 at byte ${firstInvalidByte(l.bytes)}`, l.bytes.toString("latin1")) }
      continue
    }
    if (l.text.trim() === "") continue
    let parsed: unknown
    try {
      parsed = JSON.parse(l.text)
    } catch (e) {
      yield { key, position, value: unreadable(`malformed JSON: ${(e as Error).message}`, l.text) }
      continue
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      yield { key, position, value: unreadable(`expected a JSON object, got ${Array.isArray(parsed) ? "an array" : parsed === null ? "null" : typeof parsed}`, l.text) }
      continue
    }
    yield { key, position, value: fields(parsed as Record<string, unknown>) }
  }
}
