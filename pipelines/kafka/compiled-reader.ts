/**
 * A fast path for reading every consumed record's JSON (record-decoder.ts: `JSON.parse` of the
 * value's UTF-8 text, then the compiled validator, compiled-validator.ts). From a Schema's AST it
 * builds a plain function that reads a record's JSON bytes straight into the value `JSON.parse`
 * would make, checking it against the Schema as it goes, and that answers "don't know" for
 * anything else: the caller then runs `JSON.parse` and the validator as before, which give the
 * verdict and the error text. So it can only agree with them, never replace their judgement:
 *
 * - it accepts only text that is valid JSON (its own strict reading of the grammar: whitespace
 *   where JSON allows it, numbers as JSON writes them, no trailing bytes) and reads each token to
 *   the value `JSON.parse` gives it: strings of printable ASCII are taken as they are, any other
 *   string token (escapes, non-ASCII, controls) is read by `JSON.parse` itself, numbers are read
 *   by `Number` from their text (the same correctly rounded double) or, up to 15 digits with no
 *   fraction, added up digit by digit (exact);
 * - it accepts exactly what the compiled validator accepts: a struct whose keys are the fields, in
 *   declaration order (absent optional ones skipped), each value of its field's type, every
 *   Filter's own `run` passing; a duplicated key, an unknown one or one out of order is "don't
 *   know", as there;
 * - the value it returns is built in the text's order, as `JSON.parse` builds it (a plain object
 *   with its keys in that order, plain arrays), so the stage sees the same value and may forward
 *   its fetched bytes (`verbatim`, forward.ts);
 * - a Schema node it does not compile (transformations, index signatures, tuples, classes,
 *   declarations, a field named `__proto__` or like an array index) makes `compileJsonReader`
 *   return undefined: every record goes through `JSON.parse`.
 *
 * Why: `JSON.parse` of the record's text (made from its bytes first) and the validator's walk over
 * the parsed object were a third of a mapping stage's CPU a record (BENCHMARKS.md, sessions 11
 * and 12). The reader still makes the record's text, but as Latin-1 (a copy, cheaper than
 * decoding UTF-8), and skips the generic parser's work and the second walk: ~0.2 µs of ~1.1 µs
 * a record in a microbenchmark (session 12). Session 15 (Node 20.20.2, bench/kafka/decode.ts):
 * 0.91 µs against 0.89 for `JSON.parse` then the compiled validator, no longer ahead; a faster
 * path for compact ASCII records (one regular-expression check, strings ended by indexOf) was
 * no faster either (BENCHMARKS.md, Kafka, session 15). Most of a record's cost is its JSON text.
 */
import type { Schema } from "effect"
import { runChecks } from "./compiled-validator.ts"

/** Reads the record's JSON in buf[start, end) to its value, or undefined: "ask `JSON.parse`". */
export type JsonReader = (buf: Buffer, start: number, end: number) => unknown

/** A node's "not this": the record goes to `JSON.parse` (a JSON value is never a symbol). */
const FAIL = Symbol("fail")

/**
 * The record being read: its text as Latin-1 (one character a byte, so an index is a byte
 * offset), the bytes themselves (for tokens read by JSON.parse as UTF-8) and the position. One
 * record is read at a time on a thread, start to end, so the readers share them instead of
 * passing a context object a record.
 */
let text = ""
let bytes: Buffer = Buffer.alloc(0)
let base = 0
let pos = 0

type Read = () => unknown

const skipSpace = () => {
  let c = text.charCodeAt(pos)
  // JSON's whitespace: space, tab, line feed, carriage return.
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++pos)
}

const readString: Read = () => {
  if (text.charCodeAt(pos) !== 0x22) return FAIL
  const start = pos + 1
  let i = start
  let plain = true
  for (;;) {
    const c = text.charCodeAt(i)
    // (NaN past the end: not a quote, and the bound check below ends the loop.)
    if (c === 0x22) break
    if (i >= text.length) return FAIL
    if (c === 0x5c) {
      plain = false
      i += 2
      continue
    }
    if (c < 0x20 || c > 0x7e) plain = false
    i++
  }
  pos = i + 1
  if (plain) return text.slice(start, i)
  // Escapes, non-ASCII or controls: JSON.parse reads the token from its UTF-8 text, as it reads
  // it within the whole record's (a quote byte is never inside a UTF-8 sequence).
  try {
    return JSON.parse(bytes.toString("utf8", base + start - 1, base + i + 1)) as string
  } catch {
    return FAIL
  }
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39

const readNumber: Read = () => {
  const start = pos
  let i = pos
  let negative = false
  if (text.charCodeAt(i) === 0x2d) {
    negative = true
    i++
  }
  let c = text.charCodeAt(i)
  if (!isDigit(c)) return FAIL
  let n = 0
  if (c === 0x30) {
    c = text.charCodeAt(++i)
  } else {
    while (isDigit(c)) {
      n = n * 10 + (c - 0x30)
      c = text.charCodeAt(++i)
    }
  }
  const digits = i - start - (negative ? 1 : 0)
  let simple = true
  if (c === 0x2e) {
    simple = false
    c = text.charCodeAt(++i)
    if (!isDigit(c)) return FAIL
    while (isDigit(c)) c = text.charCodeAt(++i)
  }
  if (c === 0x65 || c === 0x45) {
    simple = false
    c = text.charCodeAt(++i)
    if (c === 0x2b || c === 0x2d) c = text.charCodeAt(++i)
    if (!isDigit(c)) return FAIL
    while (isDigit(c)) c = text.charCodeAt(++i)
  }
  pos = i
  // Up to 15 digits an integer is exact in a double, summed digit by digit (-0 stays -0).
  if (simple && digits <= 15) return negative ? -n : n
  return Number(text.slice(start, i))
}

const readWord = (word: string, value: unknown): Read => () => {
  if (!text.startsWith(word, pos)) return FAIL
  pos += word.length
  return value
}
const readTrue = readWord("true", true)
const readFalse = readWord("false", false)
const readNull = readWord("null", null)

/** Any scalar token (for literals and unions), by its first character. */
const readScalar: Read = () => {
  const c = text.charCodeAt(pos)
  if (c === 0x22) return readString()
  if (c === 0x2d || isDigit(c)) return readNumber()
  if (c === 0x74) return readTrue()
  if (c === 0x66) return readFalse()
  if (c === 0x6e) return readNull()
  return FAIL
}

const withChecks = (ast: any, read: Read): Read | undefined => {
  const checks = runChecks(ast.checks, ast)
  if (!checks) return undefined
  if (ast.checks === undefined || ast.checks.length === 0) return read
  return () => {
    const v = read()
    return v !== FAIL && checks(v) ? v : FAIL
  }
}

const compileNode = (ast: any): Read | undefined => {
  if (ast.encoding !== undefined) return undefined
  switch (ast._tag) {
    case "String":
      return withChecks(ast, readString)
    case "Number":
      return withChecks(ast, readNumber)
    case "Boolean":
      return withChecks(ast, () => (text.charCodeAt(pos) === 0x74 ? readTrue() : readFalse()))
    case "Null":
      return withChecks(ast, readNull)
    case "Undefined":
      // Only an optional field's `T | undefined`: JSON has no undefined.
      return withChecks(ast, () => FAIL)
    case "Literal": {
      const literal = ast.literal
      return withChecks(ast, () => (readScalar() === literal ? literal : FAIL))
    }
    case "Union": {
      // As the validator: scalar members and at most one struct or array.
      const scalar = new Set(["String", "Number", "Boolean", "Literal", "Undefined", "Null"])
      if (ast.types.filter((t: any) => !scalar.has(t._tag)).length > 1) return undefined
      const members: Array<Read> = []
      for (const t of ast.types) {
        const m = compileNode(t)
        if (!m) return undefined
        members.push(m)
      }
      // The first member that reads the value takes it (a member that fails has read nothing
      // that stays: the position goes back).
      return withChecks(ast, () => {
        const at = pos
        for (const m of members) {
          const v = m()
          if (v !== FAIL) return v
          pos = at
        }
        return FAIL
      })
    }
    case "Arrays":
      return compileArray(ast)
    case "Objects":
      return compileObject(ast)
    default:
      return undefined
  }
}

const compileArray = (ast: any): Read | undefined => {
  if (ast.elements.length !== 0 || ast.rest.length !== 1) return undefined
  const item = compileNode(ast.rest[0])
  if (!item) return undefined
  return withChecks(ast, () => {
    if (text.charCodeAt(pos) !== 0x5b) return FAIL
    pos++
    skipSpace()
    const out: Array<unknown> = []
    if (text.charCodeAt(pos) === 0x5d) {
      pos++
      return out
    }
    for (;;) {
      const v = item()
      if (v === FAIL) return FAIL
      out.push(v)
      skipSpace()
      const c = text.charCodeAt(pos)
      if (c === 0x5d) {
        pos++
        return out
      }
      if (c !== 0x2c) return FAIL
      pos++
      skipSpace()
    }
  })
}

/** Whether `key` is in `t` at `p` (a loop the compiler inlines: `startsWith` was a call a field). */
const keyAt = (t: string, p: number, key: string): boolean => {
  const n = key.length
  if (p + n > t.length) return false
  for (let i = 0; i < n; i++) if (t.charCodeAt(p + i) !== key.charCodeAt(i)) return false
  return true
}

const INDEX = /^(0|[1-9][0-9]*)$/
/** Above this many optional fields a struct is built key by key instead of by a made constructor. */
const MAX_OPTIONAL = 8

/** How a field's value is read inside the struct's loop: the common kinds without a call. */
const STRING = 0
const NUMBER = 1
const OTHER = 2

const compileObject = (ast: any): Read | undefined => {
  if (ast.indexSignatures.length > 0 || (ast.encodingChecks ?? []).length > 0) return undefined
  const names: Array<string> = []
  const keys: Array<string> = []
  const readers: Array<Read> = []
  const kinds: Array<number> = []
  const checks: Array<((u: unknown) => boolean) | undefined> = []
  const optionalBit: Array<number> = []
  let optionals = 0
  for (const p of ast.propertySignatures) {
    // JSON.parse makes `__proto__` an own key and puts array-index keys first: declined.
    if (typeof p.name !== "string" || p.name === "__proto__" || INDEX.test(p.name)) return undefined
    const read = compileNode(p.type)
    if (!read) return undefined
    const t = p.type
    const check = runChecks(t.checks, t)
    if (!check) return undefined
    const plain = t.encoding === undefined && (t._tag === "String" || t._tag === "Number")
    names.push(p.name)
    // The key as JSON writes it: a field named with escapes or non-ASCII is matched only so.
    keys.push(`${JSON.stringify(p.name)}:`)
    readers.push(read)
    kinds.push(plain ? (t._tag === "String" ? STRING : NUMBER) : OTHER)
    checks.push(plain && t.checks !== undefined && t.checks.length > 0 ? check : undefined)
    optionalBit.push(p.type.context?.isOptional === true ? 1 << optionals++ : 0)
  }
  const n = names.length
  // The value built at once by a constructor of the fields present, in order (one per set of
  // absent optional fields, made on first use): a key-by-key build was most of the reading's time
  // (a keyed store whose key changes every field). A constructor whose prototype is
  // Object.prototype makes plain objects, as JSON.parse does; an object literal would too, but
  // V8 then pretenures them (a literal's allocation site whose objects survived a scavenge, as
  // a slice's records do, is moved to the old generation) and every record's value was promoted.
  const builders = new Map<number, (v: Array<unknown>) => Record<string, unknown>>()
  const builderOf = (absent: number) => {
    const fields: Array<string> = []
    let k = 0
    for (let f = 0; f < n; f++) if ((optionalBit[f]! & absent) === 0) fields.push(`this[${JSON.stringify(names[f]!)}] = v[${k++}]`)
    // The names are JSON string literals, so the code only stores the values under them.
    const Plain = new Function("v", fields.join("; ")) as unknown as new (v: Array<unknown>) => Record<string, unknown>
    Plain.prototype = Object.prototype
    const make = (v: Array<unknown>) => new Plain(v)
    builders.set(absent, make)
    return make
  }
  // The last record's set of fields and its constructor (records of a topic nearly all have the same).
  let lastAbsent = -1
  let lastBuilder: (v: Array<unknown>) => Record<string, unknown> = () => ({})
  const values: Array<unknown> = []
  return withChecks(ast, () => {
    const t = text
    let p = pos
    if (t.charCodeAt(p) !== 0x7b) return FAIL
    p++
    if (t.charCodeAt(p) <= 0x20) {
      pos = p
      skipSpace()
      p = pos
    }
    let f = 0
    let absent = 0
    let k = 0
    if (t.charCodeAt(p) === 0x7d) p++
    else {
      for (;;) {
        // The next key is this field's or a later one's, past absent optional fields only.
        while (f < n && !keyAt(t, p, keys[f]!)) {
          if (optionalBit[f] === 0) return FAIL
          absent |= optionalBit[f]!
          f++
        }
        if (f === n) return FAIL
        p += keys[f]!.length
        if (t.charCodeAt(p) <= 0x20) {
          pos = p
          skipSpace()
          p = pos
        }
        let v: unknown
        const kind = kinds[f]
        if (kind === STRING && t.charCodeAt(p) === 0x22) {
          // A string of printable ASCII, read here; any other goes to readString.
          const s = p + 1
          let i = s
          let c = t.charCodeAt(i)
          while (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) c = t.charCodeAt(++i)
          if (c === 0x22) {
            v = t.slice(s, i)
            p = i + 1
          } else {
            pos = p
            v = readString()
            p = pos
          }
          const check = checks[f]
          if (check !== undefined && v !== FAIL && !check(v)) return FAIL
        } else if (kind === NUMBER) {
          pos = p
          v = readNumber()
          p = pos
          const check = checks[f]
          if (check !== undefined && v !== FAIL && !check(v)) return FAIL
        } else {
          pos = p
          v = readers[f]!()
          p = pos
        }
        if (v === FAIL) return FAIL
        values[k++] = v
        f++
        let c = t.charCodeAt(p++)
        if (c <= 0x20) {
          pos = p - 1
          skipSpace()
          p = pos
          c = t.charCodeAt(p++)
        }
        if (c === 0x7d) break
        if (c !== 0x2c) return FAIL
        if (t.charCodeAt(p) <= 0x20) {
          pos = p
          skipSpace()
          p = pos
        }
      }
    }
    for (; f < n; f++) {
      if (optionalBit[f] === 0) return FAIL
      absent |= optionalBit[f]!
    }
    pos = p
    if (optionals > MAX_OPTIONAL) {
      const o: Record<string, unknown> = {}
      for (let g = 0, j = 0; g < n; g++) if ((optionalBit[g]! & absent) === 0) o[names[g]!] = values[j++]
      return o
    }
    // (The last record's values stay in `values` until the next: one record's, never more.)
    if (absent !== lastAbsent) {
      lastBuilder = builders.get(absent) ?? builderOf(absent)
      lastAbsent = absent
    }
    return lastBuilder(values)
  })
}

/**
 * The reader of `schema`'s records (undefined from the reader: "ask `JSON.parse` and the
 * validator"); undefined when the Schema has parts this compiler does not know.
 */
export const compileJsonReader = (schema: Schema.Top): JsonReader | undefined => {
  const root = compileNode(schema.ast)
  if (!root) return undefined
  return (buf, start, end) => {
    text = (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end)
    bytes = buf
    base = start
    pos = 0
    try {
      skipSpace()
      const v = root()
      if (v === FAIL) return undefined
      skipSpace()
      return pos === text.length ? v : undefined
    } finally {
      // The record's text and bytes are not held past its reading.
      text = ""
      bytes = EMPTY
    }
  }
}

const EMPTY = Buffer.alloc(0)
