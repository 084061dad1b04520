/**
 * A fast path for the JSON every produced record is written as (serde.ts' encodeValue, which was
 * `JSON.stringify` of the record, then its UTF-8 written into a chunk). From a Schema's AST it
 * builds a plain function that writes the UTF-8 JSON of a value of the known shape straight into a
 * buffer, with the field names' `"name":` bytes made once, and that answers "don't know" for
 * anything else: the caller then writes `JSON.stringify`'s text. So the bytes are always those of
 * `JSON.stringify`:
 *
 * - a struct is written only when it is a plain object whose keys are the struct's fields in
 *   declaration order (absent ones skipped), so its keys come out in the order `JSON.stringify`
 *   writes them; a field holding `undefined` is left out, as `JSON.stringify` leaves it out;
 * - a number is written as `JSON.stringify` writes one (`String`, and `null` when not finite);
 * - a string's characters are copied as they are while they are printable ASCII other than `"`
 *   and `\`; a string with any other character is quoted by `JSON.stringify` (escapes, surrogates)
 *   and that text written as UTF-8;
 * - anything it does not know (a value of another type than its Schema says, an object with
 *   another prototype, a key not declared or out of order, an array with a `toJSON`) makes the whole
 *   record "don't know";
 * - a Schema node it does not compile (transformations, index signatures, tuples, classes,
 *   declarations) makes `compileJsonWriter` return undefined: `JSON.stringify` writes every record.
 *
 * Why: building the JSON as a string, however fast, still costs the string and its UTF-8 copy
 * (a concatenated string is flattened first), which is what `JSON.stringify` + the write cost
 * (BENCHMARKS.md, session 11). Like `JSON.stringify` before it, the writer does not validate:
 * what an operator returns is written as it is.
 */
import type { Schema } from "effect"

/** The value is not of the shape compiled: ask `JSON.stringify`. */
export const UNKNOWN = -1
/** The value did not fit between `at` and `end`: nothing usable was written. */
export const NO_ROOM = -2

/**
 * Writes the JSON of `u` into buf[at, end) and returns where it ends, or UNKNOWN / NO_ROOM (the
 * bytes from `at` may then have been written over).
 */
export type JsonWriter = (u: unknown, buf: Buffer, at: number, end: number) => number

const QUOTE = 0x22
const BACKSLASH = 0x5c

/** Copies ASCII text (numbers' digits, literals) as bytes. */
const writeAscii = (text: string, buf: Buffer, at: number, end: number): number => {
  const n = text.length
  if (at + n > end) return NO_ROOM
  for (let i = 0; i < n; i++) buf[at + i] = text.charCodeAt(i)
  return at + n
}

const writeBytes = (bytes: Uint8Array, buf: Buffer, at: number, end: number): number => {
  const n = bytes.length
  if (at + n > end) return NO_ROOM
  for (let i = 0; i < n; i++) buf[at + i] = bytes[i]!
  return at + n
}

/** A string as JSON.stringify quotes it, written as UTF-8 (at most 3 bytes per UTF-16 unit). */
const writeQuoted = (s: string, buf: Buffer, at: number, end: number): number => {
  const json = JSON.stringify(s)
  if (at + 3 * json.length > end) return NO_ROOM
  return at + buf.write(json, at, "utf8")
}

const writeString: JsonWriter = (u, buf, at, end) => {
  if (typeof u !== "string") return UNKNOWN
  const n = u.length
  if (at + n + 2 > end) return NO_ROOM
  const start = at
  buf[at++] = QUOTE
  for (let i = 0; i < n; i++) {
    const c = u.charCodeAt(i)
    // Printable ASCII but the quote and the backslash: JSON.stringify copies these as they are.
    if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) return writeQuoted(u, buf, start, end)
    buf[at++] = c
  }
  buf[at++] = QUOTE
  return at
}

const writeNumber: JsonWriter = (u, buf, at, end) => {
  if (typeof u !== "number") return UNKNOWN
  // One digit (scores 0 and 1, small counts) needs no string (-0 is written "0" too).
  if (u >= 0 && u <= 9 && (u | 0) === u) {
    if (at >= end) return NO_ROOM
    buf[at] = 0x30 + u
    return at + 1
  }
  return writeAscii(Number.isFinite(u) ? String(u) : "null", buf, at, end)
}

const TRUE = new Uint8Array(Buffer.from("true"))
const FALSE = new Uint8Array(Buffer.from("false"))
const NULL = new Uint8Array(Buffer.from("null"))

const writeBoolean: JsonWriter = (u, buf, at, end) => (u === true ? writeBytes(TRUE, buf, at, end) : u === false ? writeBytes(FALSE, buf, at, end) : UNKNOWN)
const writeNull: JsonWriter = (u, buf, at, end) => (u === null ? writeBytes(NULL, buf, at, end) : UNKNOWN)

const compileNode = (ast: any): JsonWriter | undefined => {
  // A transformation's decoded side may be anything (a Date, a bigint): JSON.stringify decides.
  if (ast.encoding !== undefined) return undefined
  switch (ast._tag) {
    case "String":
      return writeString
    case "Number":
      return writeNumber
    case "Boolean":
      return writeBoolean
    case "Null":
      return writeNull
    case "Undefined":
      // Only an optional field's `undefined`, which the struct's writer leaves out before asking.
      return () => UNKNOWN
    case "Literal": {
      const literal = ast.literal
      if (typeof literal !== "string" && typeof literal !== "number" && typeof literal !== "boolean") return undefined
      const bytes = new Uint8Array(Buffer.from(JSON.stringify(literal), "utf8"))
      return (u, buf, at, end) => (u === literal ? writeBytes(bytes, buf, at, end) : UNKNOWN)
    }
    case "Union": {
      const members: Array<JsonWriter> = []
      for (const t of ast.types) {
        const m = compileNode(t)
        if (m === undefined) return undefined
        members.push(m)
      }
      // Each member writes only values it knows, and writes them as JSON.stringify would: the
      // first that knows a value is right.
      return (u, buf, at, end) => {
        for (const m of members) {
          const next = m(u, buf, at, end)
          if (next !== UNKNOWN) return next
        }
        return UNKNOWN
      }
    }
    case "Arrays":
      return compileArray(ast)
    case "Objects":
      return compileObject(ast)
    default:
      return undefined
  }
}

const compileArray = (ast: any): JsonWriter | undefined => {
  if (ast.elements.length !== 0 || ast.rest.length !== 1) return undefined
  const item = compileNode(ast.rest[0])
  if (!item) return undefined
  return (u, buf, at, end) => {
    if (!Array.isArray(u) || Object.getPrototypeOf(u) !== Array.prototype || (u as { toJSON?: unknown }).toJSON !== undefined) return UNKNOWN
    if (at >= end) return NO_ROOM
    buf[at++] = 0x5b // [
    for (let i = 0; i < u.length; i++) {
      if (i > 0) {
        if (at >= end) return NO_ROOM
        buf[at++] = 0x2c // ,
      }
      // (A hole or an undefined element, which JSON.stringify writes as null, is not the item's type.)
      at = item(u[i], buf, at, end)
      if (at < 0) return at
    }
    if (at >= end) return NO_ROOM
    buf[at++] = 0x5d // ]
    return at
  }
}

const compileObject = (ast: any): JsonWriter | undefined => {
  if (ast.indexSignatures.length > 0) return undefined
  const names: Array<string> = []
  const writers: Array<JsonWriter> = []
  // `{"name":` for the first field written, `,"name":` for the others, as UTF-8.
  const firstPrefixes: Array<Uint8Array> = []
  const prefixes: Array<Uint8Array> = []
  for (const p of ast.propertySignatures) {
    if (typeof p.name !== "string") return undefined
    const write = compileNode(p.type)
    if (!write) return undefined
    names.push(p.name)
    writers.push(write)
    firstPrefixes.push(new Uint8Array(Buffer.from(`{${JSON.stringify(p.name)}:`, "utf8")))
    prefixes.push(new Uint8Array(Buffer.from(`,${JSON.stringify(p.name)}:`, "utf8")))
  }
  const n = names.length
  return (u, buf, at, end) => {
    if (typeof u !== "object" || u === null || Object.getPrototypeOf(u) !== Object.prototype) return UNKNOWN
    const o = u as Record<string, unknown>
    let written = false
    let f = 0
    // for…in over a plain object: its own enumerable string keys, in JSON.stringify's order
    // (Object.prototype has no enumerable ones).
    for (const key in o) {
      while (f < n && names[f] !== key) f++
      if (f === n) return UNKNOWN
      const value = o[key]
      if (value !== undefined) {
        at = writeBytes(written ? prefixes[f]! : firstPrefixes[f]!, buf, at, end)
        if (at < 0) return at
        at = writers[f]!(value, buf, at, end)
        if (at < 0) return at
        written = true
      }
      f++
    }
    if (!written) {
      if (at >= end) return NO_ROOM
      buf[at++] = 0x7b // {
    }
    if (at >= end) return NO_ROOM
    buf[at++] = 0x7d // }
    return at
  }
}

/**
 * The UTF-8 JSON writer of values of `schema` (`JSON.stringify`'s bytes, or UNKNOWN for a value
 * it does not know); undefined when the Schema has parts this compiler does not know.
 */
export const compileJsonWriter = (schema: Schema.Top): JsonWriter | undefined => compileNode(schema.ast)
