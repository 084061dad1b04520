import { Effect, Stream } from "effect"
import { open, readFile, stat } from "node:fs/promises"
import type { Envelope } from "../../envelope.ts"
import { OperatorFailure } from "../../operator.ts"
import { parseJsonObject, readJsonl } from "../../readers/jsonl.ts"
import { givenMaxRecordBytes, jsonDepthExceeds, maxRecordBytes } from "../../readers/limits.ts"
import { fields, type RawRecord, unreadable } from "../../readers/raw-record.ts"
import { flattenNestedSquad } from "./squad.ts"

/** One top-level element of a JSON array: its text and the line it starts on. */
interface Element {
  readonly line: number
  readonly text: string
}

/**
 * Splits a JSON array into its elements without parsing them, tracking strings and nesting, so
 * that one malformed element is reported with its own line and the others still load.
 */
export const splitJsonArray = (text: string): Array<Element> => {
  const out: Array<Element> = []
  let depth = 0
  let inString = false
  let escaped = false
  let line = 1
  let start = -1
  let startLine = 1
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === "\n") line++
    if (inString) {
      if (escaped) escaped = false
      else if (ch === "\\") escaped = true
      else if (ch === '"') inString = false
      continue
    }
    if (ch === '"') {
      inString = true
      if (depth === 1 && start < 0) {
        start = i
        startLine = line
      }
    } else if (ch === "[" || ch === "{") {
      if (depth === 1 && start < 0) {
        start = i
        startLine = line
      }
      depth++
    } else if (ch === "]" || ch === "}") {
      depth--
      if (depth === 0 && start >= 0) {
        out.push({ line: startLine, text: text.slice(start, i).trim() })
        start = -1
      }
    } else if (ch === "," && depth === 1) {
      if (start >= 0) out.push({ line: startLine, text: text.slice(start, i).trim() })
      start = -1
    } else if (depth === 1 && start < 0 && !/\s/.test(ch)) {
      start = i
      startLine = line
    }
  }
  if (start >= 0) out.push({ line: startLine, text: text.slice(start).trim() })
  return out
}

const lineOf = (text: string, needle: string): number => {
  const at = text.indexOf(needle)
  return at < 0 ? 1 : text.slice(0, at).split("\n").length
}

async function* jsonRecords(path: string, text: string): AsyncGenerator<Envelope<RawRecord>> {
  const at = (line: number) => ({ key: `${path}:${line}`, position: { _tag: "File" as const, file: path, line } })
  const first = text.trimStart()[0]
  if (first === "[") {
    for (const el of splitJsonArray(text)) {
      if (el.text === "") continue
      // Depth-checked before parsing (see readers/jsonl.ts): nesting 100,000 deep is one dead letter, not a stack overflow.
      const parsed = parseJsonObject(el.text)
      yield { ...at(el.line), value: typeof parsed === "string" ? unreadable(parsed, el.text) : fields(parsed) }
    }
    return
  }
  if (first === "{") {
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch {
      doc = undefined // several objects, one a line: JSON Lines
    }
    const nested = doc === undefined ? undefined : flattenNestedSquad(doc)
    if (nested) {
      for (const row of nested) yield { ...at(lineOf(text, JSON.stringify(String(row.id)))), value: fields(row) }
      return
    }
  }
}

/** Whether a `.json` file is one JSON document (array or nested SQuAD) or JSON Lines after all. */
const isSingleDocument = (text: string): boolean => {
  const first = text.trimStart()[0]
  if (first === "[") return true
  if (first !== "{") return false
  if (jsonDepthExceeds(text)) return false // read as JSON Lines: the deep line becomes a dead letter
  try {
    return flattenNestedSquad(JSON.parse(text)) !== undefined
  } catch {
    return false
  }
}

/** The first `bytes` bytes of a file, as text (a split character at the end is harmless here). */
const head = async (path: string, bytes: number): Promise<string> => {
  const handle = await open(path, "r")
  try {
    const buffer = Buffer.alloc(bytes)
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0)
    return buffer.subarray(0, bytesRead).toString("utf8")
  } finally {
    await handle.close()
  }
}

/**
 * How to read a `.json` file over the maximum record size: JSON Lines are read line by line
 * (each line bounded as usual), but a JSON array or a nested SQuAD document can only be read
 * whole, so it is refused naming the file and the limit instead of loading any size into memory.
 */
const overLimit = async (path: string, size: number, max: number): Promise<"jsonl" | string> => {
  const text = (await head(path, max)).replace(/^\uFEFF/, "")
  const start = text.trimStart()
  const first = start[0]
  const whole = `${path}: a .json file of ${size} bytes is larger than the maximum record size of ${max} bytes (--max-record-bytes, FLEUVE_MAX_RECORD_BYTES); ` +
    "a JSON array or nested document is read whole: raise the limit or convert the file to JSON Lines"
  if (first === "[") return whole
  if (first !== "{") return "jsonl"
  const newline = start.indexOf("\n")
  return newline >= 0 && typeof parseJsonObject(start.slice(0, newline)) !== "string" ? "jsonl" : whole
}

/**
 * A `.json` QA file in whichever shape the public datasets use: a JSON array of items
 * (FrenchMedMCQA raw), a nested SQuAD document ({data: [...]}) or, despite the extension,
 * JSON Lines. Positions are the line each item starts on (for nested SQuAD, the line of its id).
 * A JSON document is read whole, so the file may be at most the maximum record size.
 */
export const readQaJson = (path: string, options: { readonly maxRecordBytes?: number } = {}): Stream.Stream<Envelope<RawRecord>, OperatorFailure> =>
  Stream.unwrap(
    Effect.gen(function*() {
      const given = yield* givenMaxRecordBytes(options.maxRecordBytes)
      const failure = (e: unknown) => new OperatorFailure({ operator: "read-json", message: `cannot read ${path}: ${e instanceof Error ? e.message : String(e)}` })
      const max = yield* Effect.try({ try: () => given ?? maxRecordBytes(), catch: failure })
      const { size } = yield* Effect.tryPromise({ try: () => stat(path), catch: failure })
      if (size > max) {
        const verdict = yield* Effect.tryPromise({ try: () => overLimit(path, size, max), catch: failure })
        if (verdict !== "jsonl") return yield* Effect.fail(new OperatorFailure({ operator: "read-json", message: verdict }))
        return readJsonl(path, "read-jsonl", { maxRecordBytes: max })
      }
      const raw = yield* Effect.tryPromise({ try: () => readFile(path, "utf8"), catch: failure })
      const text = raw.replace(/^\uFEFF/, "")
      return isSingleDocument(text)
        ? Stream.fromAsyncIterable(jsonRecords(path, text), failure)
        : readJsonl(path, "read-jsonl", { maxRecordBytes: max })
    })
  )
