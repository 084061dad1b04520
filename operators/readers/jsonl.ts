import { Effect, Stream } from "effect"
import type { Envelope } from "../envelope.ts"
import { OperatorFailure } from "../operator.ts"
import { givenMaxRecordBytes, jsonDepthExceeds, MAX_JSON_DEPTH, maxRecordBytes, tooLongReason } from "./limits.ts"
import { firstInvalidByte, readLines } from "./lines.ts"
import { fields, type RawRecord, unreadable } from "./raw-record.ts"

export interface JsonlOptions {
  /** Maximum bytes of one line (default: the command's --max-record-bytes, else maxRecordBytes()). */
  readonly maxRecordBytes?: number
}

/** JSON Lines (plain or .gz). Blank lines are skipped; each other line must be a JSON object. */
export const readJsonl = (path: string, name = "read-jsonl", options: JsonlOptions = {}): Stream.Stream<Envelope<RawRecord>, OperatorFailure> =>
  Stream.unwrap(
    Effect.map(givenMaxRecordBytes(options.maxRecordBytes), (max) =>
      Stream.fromAsyncIterable(
        jsonlRecords(path, max === undefined ? options : { ...options, maxRecordBytes: max }),
        (e) => new OperatorFailure({ operator: name, message: `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}` })
      ))
  )

/** Parses one JSON document that must be an object, refusing nesting deeper than MAX_JSON_DEPTH; a string is the reason it was refused. */
export const parseJsonObject = (text: string): Record<string, unknown> | string => {
  // Checked first: JSON.parse copes with 100,000 levels, but everything recursive after it
  // (JSON.stringify of a dead letter, Kafka serde, structuredClone) overflows the stack.
  if (jsonDepthExceeds(text)) return `JSON nested deeper than ${MAX_JSON_DEPTH} levels`
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    return `malformed JSON: ${(e as Error).message}`
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return `expected a JSON object, got ${Array.isArray(parsed) ? "an array" : parsed === null ? "null" : typeof parsed}`
  }
  return parsed as Record<string, unknown>
}

async function* jsonlRecords(path: string, options: JsonlOptions): AsyncGenerator<Envelope<RawRecord>> {
  const max = options.maxRecordBytes ?? maxRecordBytes()
  for await (const l of readLines(path, { maxLineBytes: max })) {
    const position = { _tag: "File" as const, file: path, line: l.line }
    const key = `${path}:${l.line}`
    if (l.tooLong !== undefined) {
      yield { key, position, value: unreadable(tooLongReason(l.tooLong, max), l.bytes.toString("latin1")) }
      continue
    }
    if (l.text === undefined) {
      yield { key, position, value: unreadable(`invalid UTF-8 at byte ${firstInvalidByte(l.bytes)}`, l.bytes.toString("latin1")) }
      continue
    }
    if (l.text.trim() === "") continue
    const parsed = parseJsonObject(l.text)
    yield { key, position, value: typeof parsed === "string" ? unreadable(parsed, l.text) : fields(parsed) }
  }
}
