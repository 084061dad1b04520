import assert from "node:assert/strict"
import { test } from "node:test"
import { Schema } from "effect"
import { compileJsonWriter, NO_ROOM, UNKNOWN } from "../../../pipelines/kafka/compiled-encoder.ts"
import { FramedArena, frameJson, type FramedRecord } from "../../../pipelines/kafka/serde.ts"
import { type RecordName, Records } from "../../../schemas/registry.ts"

// A small seeded generator (mulberry32): the same records on every run, many of them.
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

// Characters JSON.stringify copies, escapes (controls, quote, backslash, lone surrogates) or
// leaves to UTF-8 (accents, CJK, U+2028, DEL, astral pairs).
const ALPHABET = ["a", "Z", "0", " ", "~", "-", "é", "ß", "日", "\u2028", "\u007f", "\u0000", "\n", "\t", "\u001f", "\"", "\\", "/", "\ud83d\ude00", "\ud800", "\udfff"]
const NUMBERS = [0, -0, 1, 7, 9, 10, -1, 0.5, 1 - 0.7, 1e21, 1e-7, 123456789012, 2 ** 53, -(2 ** 31), 5e-324, Number.MAX_VALUE, NaN, Infinity, -Infinity]

const makeGen = (rnd: () => number) => {
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[Math.floor(rnd() * xs.length)]!
  const string = (): string => {
    if (rnd() < 0.5) return `item-${Math.floor(rnd() * 1e7)}`
    const n = Math.floor(rnd() * 12)
    let s = ""
    for (let i = 0; i < n; i++) s += rnd() < 0.7 ? pick(ALPHABET.slice(0, 5)) : pick(ALPHABET)
    return s
  }
  const number = (): number => (rnd() < 0.5 ? pick(NUMBERS) : rnd() < 0.5 ? Math.floor(rnd() * 1000) : (rnd() - 0.5) * 10 ** Math.floor(rnd() * 40 - 20))
  /** A value of the AST's type (the shapes compileJsonWriter knows). */
  const valueOf = (ast: any, depth = 0): unknown => {
    switch (ast._tag) {
      case "String":
        return string()
      case "Number":
        return number()
      case "Boolean":
        return rnd() < 0.5
      case "Null":
        return null
      case "Undefined":
        return undefined
      case "Literal":
        return ast.literal
      case "Union":
        return valueOf(pick(ast.types), depth)
      case "Arrays":
        return Array.from({ length: Math.floor(rnd() * 4) }, () => valueOf(ast.rest[0], depth + 1))
      case "Objects": {
        const o: Record<string, unknown> = {}
        for (const p of ast.propertySignatures) {
          const optional = p.type.context?.isOptional === true
          if (optional && rnd() < 0.3) continue
          o[p.name] = optional && rnd() < 0.1 ? undefined : valueOf(p.type, depth + 1)
        }
        return o
      }
      default:
        return rnd() < 0.5 ? string() : { any: number() }
    }
  }
  /** The value, or one of its neighbours that the writer must leave to JSON.stringify or write as it would. */
  const mutate = (u: unknown): unknown => {
    if (typeof u !== "object" || u === null || Array.isArray(u)) return u
    const o = u as Record<string, unknown>
    const keys = Object.keys(o)
    const k = keys.length > 0 ? pick(keys) : "x"
    switch (Math.floor(rnd() * 10)) {
      case 0:
        return { ...o, extra: 1 }
      case 1:
        return Object.fromEntries([...keys].reverse().map((key) => [key, o[key]]))
      case 2:
        return { ...o, [k]: pick<unknown>([null, "s", 3, true, [], {}, [undefined], new Date(0), () => 1, Symbol("s"), 10n, undefined]) }
      case 3:
        return Object.assign(Object.create(null), o)
      case 4:
        return { ...o, toJSON: () => "replaced" }
      case 5:
        return Object.assign(Object.create({ inherited: 1 }), o)
      case 6: {
        const { [k]: _dropped, ...rest } = o
        return rest
      }
      default:
        return u
    }
  }
  return { valueOf, mutate }
}

/** A value for a failure's message (JSON.stringify throws on a bigint). */
const show = (u: unknown): string => {
  try {
    return String(JSON.stringify(u))
  } catch {
    return String(u)
  }
}

const utf8Json = (u: unknown): Buffer | undefined => {
  const json = JSON.stringify(u)
  return json === undefined ? undefined : Buffer.from(json, "utf8")
}

test("compiled JSON writer: every record it writes is JSON.stringify's bytes (every record type, unicode, escapes, odd numbers, optional fields)", () => {
  const rnd = random(23)
  const gen = makeGen(rnd)
  const buf = Buffer.alloc(1 << 16)
  for (const [name, { schema }] of Object.entries(Records)) {
    const write = compileJsonWriter(schema as unknown as Schema.Top)
    if (!write) continue
    let fast = 0
    for (let i = 0; i < 3000; i++) {
      const u = gen.mutate(gen.valueOf((schema as unknown as Schema.Top).ast))
      const at = Math.floor(rnd() * 16)
      const end: number = write(u, buf, at, buf.length)
      assert.notEqual(end, NO_ROOM, `${name}: ${show(u)} fits 64 KiB`)
      if (end === UNKNOWN) continue
      fast++
      const expected = utf8Json(u)
      assert.ok(expected, `${name}: wrote a value JSON.stringify does not write`)
      assert.equal(buf.subarray(at, end).toString("hex"), expected.toString("hex"), `${name}: ${show(u)}`)
    }
    // Well-formed records take the fast path (else it would be pointless).
    assert.ok(fast > 1000, `${name}: ${fast} of 3000 written`)
  }
})

test("compiled JSON writer: a record that does not fit says so and leaves what is before it intact", () => {
  const write = compileJsonWriter(Records.Score.schema as unknown as Schema.Top)!
  const record = { system: "EnMed", task: "mcqa", shots: 3, itemId: "item-1", datasetVersion: "v1", metric: "acc", score: 0.25, judge: "héllo \"judge\"" }
  const expected = utf8Json(record)!
  // A string with escapes or non-ASCII characters asks for 3 bytes a UTF-16 unit of its quoted
  // text: with less room than that the writer may say NO_ROOM though the record would have fit.
  const enough = expected.length + 3 * JSON.stringify(record.judge).length
  for (let room = 0; room <= enough; room++) {
    const buf = Buffer.alloc(3 + enough + 8, 0xaa)
    const end = write(record, buf, 3, 3 + room)
    if (room < expected.length) assert.equal(end, NO_ROOM, `room ${room}`)
    else if (room >= enough) assert.ok(end >= 0, `room ${room}`)
    if (end >= 0) {
      assert.equal(buf.subarray(3, end).toString("hex"), expected.toString("hex"), `room ${room}`)
      assert.equal(buf[end], 0xaa, "nothing written past the record")
    }
    assert.equal(buf.subarray(0, 3).toString("hex"), "aaaaaa", "nothing written before it")
  }
})

test("FramedArena.writeWith: the wire format of frameJson(JSON.stringify), across chunks; unknown values left to the caller", () => {
  const write = compileJsonWriter(Records.Score.schema as unknown as Schema.Top)!
  const arena = new FramedArena()
  const gen = makeGen(random(7))
  const written: Array<{ bytes: ReturnType<FramedArena["write"]>; expected: Buffer }> = []
  let unknown = 0
  // ~3 MB of records: a dozen 256 KiB chunks, so records meet a chunk's end.
  for (let i = 0; i < 12000; i++) {
    const u = gen.mutate(gen.valueOf((Records.Score.schema as unknown as Schema.Top).ast))
    const framed = arena.writeWith(42, write, u)
    if (framed === undefined) {
      unknown++
      continue
    }
    written.push({ bytes: framed, expected: frameJson(42, JSON.stringify(u)) })
  }
  // Checked after all were written: a later record never wrote over an earlier one.
  for (const { bytes, expected } of written) assert.equal(bytes.toBuffer().toString("hex"), expected.toString("hex"))
  assert.ok(unknown > 0 && written.length > 4000, `${written.length} written, ${unknown} left to JSON.stringify`)
})

test("FramedArena's messages: the message is its own value, written as writeWith and write write it, across chunks", () => {
  const write = compileJsonWriter(Records.Score.schema as unknown as Schema.Top)!
  const arena = new FramedArena()
  const gen = makeGen(random(11))
  const written: Array<{ message: FramedRecord; key: string; expected: Buffer }> = []
  for (let i = 0; i < 12000; i++) {
    const u = gen.mutate(gen.valueOf((Records.Score.schema as unknown as Schema.Top).ast))
    const key = `k${i}`
    let json: string
    try {
      json = JSON.stringify(u)
    } catch {
      continue // (a BigInt the generator made: no JSON at all)
    }
    // What the compiled writer does not know goes through JSON.stringify's text (serde.encodeMessage).
    const message = arena.writeMessageWith("out", key, 42, write, u) ?? arena.writeMessage("out", key, 42, json)
    written.push({ message, key, expected: frameJson(42, json) })
  }
  for (const { message, key, expected } of written) {
    assert.equal(message.topic, "out")
    assert.equal(message.key, key)
    assert.equal((message as { headers?: unknown }).headers, undefined)
    assert.equal(message.value, message)
    assert.equal(message.value.length, expected.length)
    assert.equal(message.value.toBuffer().toString("hex"), expected.toString("hex"))
    const into = Buffer.alloc(expected.length + 2, 0xaa)
    message.value.writeTo(into, 1)
    assert.equal(into.subarray(1, 1 + expected.length).toString("hex"), expected.toString("hex"))
  }
})

test("compiled JSON writer: schemas with parts it does not know are left to JSON.stringify", () => {
  // CorpusDocument has an open `meta` record (index signature); a transformation's decoded side may be anything.
  assert.equal(compileJsonWriter(Records.CorpusDocument.schema as unknown as Schema.Top), undefined)
  assert.equal(compileJsonWriter(Schema.NumberFromString as Schema.Top), undefined)
  const scoreNames: ReadonlyArray<RecordName> = ["Score", "PackedSequence", "Prediction", "RunMarker"]
  for (const name of scoreNames) assert.ok(compileJsonWriter(Records[name].schema as unknown as Schema.Top), `${name} compiles`)
})
