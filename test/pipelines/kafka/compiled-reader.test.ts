import assert from "node:assert/strict"
import { test } from "node:test"
import { Schema } from "effect"
import { compileJsonReader } from "../../../pipelines/kafka/compiled-reader.ts"
import { compileValidator } from "../../../pipelines/kafka/compiled-validator.ts"
import { makeRecordDecoder } from "../../../pipelines/kafka/record-decoder.ts"
import { type RecordName, Records } from "../../../schemas/registry.ts"
import { neighbours, validRecords } from "./record-neighbours.ts"


const oddValues: ReadonlyArray<unknown> = [null, "", "x", "é", "a\"b\\c\n", "\u2028\ud83d\ude00", "\ud800", -1, -0, 0, 1.5, 1e21, 1e-7, 2 ** 53, 12345678901234567, true, false, [], {}, [1.5], ["a"], { a: 1 }]


/** Texts JSON.stringify does not write but JSON allows or nearly allows: whitespace, number forms, escapes, duplicates, garbage. */
const variants = (json: string): Array<string> => {
  const out = [json, ` ${json} `, json.replaceAll(",", " ,\n\t"), json.replaceAll(":", " : "), json.replaceAll("{", "{ ").replaceAll("}", " }"), json.replaceAll("[", "[ ").replaceAll("]", " ]")]
  out.push(`${json}x`, `${json}}`, json.slice(0, -1), json.slice(1), `${json},`, `${json.slice(0, -1)},}`)
  // Numbers in the forms JSON allows and those it does not.
  for (const n of ["0", "-0", "1e3", "1E+3", "1e-3", "0.1", "-0.0", "123456789012345", "1234567890123456789", "01", "1.", ".5", "+1", "-", "1e", "0x10", "Infinity", "NaN", "1_0"]) {
    out.push(json.replace(/:(-?\d+(\.\d+)?)/, `:${n}`))
  }
  // Strings with escapes where they were plain, and a duplicated key.
  out.push(json.replace(/:"([a-z])/, ':"\\u0061$1'), json.replace(/:"([a-z])/, ':"\\/$1'), json.replace(/:"([a-z])/, ':"\\x$1'), json.replace(/:"([a-z])/, ':"\t$1'))
  out.push(json.replace(/^\{("[^"]+":[^,]+),/, "{$1,$1,"))
  out.push(json.replace(/"([a-zA-Z]+)":/, '"\\u0061$1":'))
  return out
}

/** A little pseudo-random generator (a fixed seed: the same cases every run). */
const random = (seed: number) => () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed / 0x80000000
}

/**
 * What the stage did before the reader: JSON.parse of the UTF-8 text, then the validator. The
 * reader may say "don't know" (undefined) for anything; what it returns must be that very value.
 */
const check = (name: string, read: (b: Buffer, s: number, e: number) => unknown, valid: (u: unknown) => boolean, bytes: Buffer): boolean => {
  // Read in place inside a larger buffer, as a fetched record is.
  const buf = Buffer.concat([Buffer.from([0x7b, 0x22]), bytes, Buffer.from([0x22, 0x7d])])
  const got = read(buf, 2, 2 + bytes.length)
  if (got === undefined) return false
  let parsed: unknown
  try {
    parsed = JSON.parse(bytes.toString("utf8"))
  } catch (e) {
    assert.fail(`${name}: the reader read what JSON.parse refuses (${String(e)}): ${bytes.toString("utf8")}`)
  }
  assert.ok(valid(parsed), `${name}: the reader accepted what the validator does not: ${bytes.toString("utf8")}`)
  assert.deepStrictEqual(got, parsed, `${name}: read differently from JSON.parse: ${bytes.toString("utf8")}`)
  assert.equal(JSON.stringify(got), JSON.stringify(parsed), `${name}: keys in another order`)
  return true
}

test("compiled reader: whatever it reads, JSON.parse reads to the very same value and the validator accepts", () => {
  for (const [name, base] of Object.entries(validRecords)) {
    const schema = Records[name as RecordName].schema as unknown as Schema.Top
    const read = compileJsonReader(schema)
    const validator = compileValidator(schema)
    assert.ok(read && validator, `${name}: compiles`)
    let accepted = 0
    let cases = 0
    for (const u of neighbours(base!, oddValues)) {
      for (const text of variants(JSON.stringify(u))) {
        cases++
        if (check(name, read, validator, Buffer.from(text, "utf8"))) accepted++
      }
    }
    // Bytes that are not UTF-8, a raw non-ASCII string and raw control characters.
    const json = JSON.stringify(base)
    for (const bad of [Buffer.from([0xff, 0xfe]), Buffer.from([0xc3]), Buffer.from("é", "utf8"), Buffer.from([0x01]), Buffer.from([0x7f])]) {
      const at = json.indexOf(':"') + 2
      if (at < 2) continue
      cases++
      if (check(name, read, validator, Buffer.concat([Buffer.from(json.slice(0, at)), bad, Buffer.from(json.slice(at))]))) accepted++
    }
    // Random byte changes of the valid record.
    const next = random(name.length)
    const bytes = Buffer.from(json)
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(bytes)
      for (let k = 1 + Math.floor(next() * 3); k > 0; k--) b[Math.floor(next() * b.length)] = Math.floor(next() * 128)
      cases++
      if (check(name, read, validator, b)) accepted++
    }
    // The fast path is really taken for well-formed records (else it would be pointless).
    assert.notEqual(read(bytes, 0, bytes.length), undefined, `${name}: the valid record is read`)
    assert.ok(accepted > 10, `${name}: ${accepted} of ${cases} read`)
  }
})

test("compiled reader: the record decoder decodes the same with it as JSON.parse and the Schema would", () => {
  const decode = makeRecordDecoder(1 << 20, new Map([[7, "fleuve.Score"]]))
  const type = { subject: "fleuve.Score", schema: Records.Score.schema as unknown as Schema.Codec<unknown, unknown> }
  const frame = (json: string) => Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), Buffer.from(json)])
  const score = validRecords.Score!
  const ok = decode(type, frame(JSON.stringify(score)), 0, 5 + Buffer.byteLength(JSON.stringify(score)))
  assert.deepStrictEqual(ok, { _tag: "Ok", value: score, schemaId: 7, verbatim: true })
  // A record the reader does not know is decoded by JSON.parse and the Schema, reasons and all.
  for (const json of ['{"system":""}', "{nope", JSON.stringify({ ...score, shots: -1 }), ` ${JSON.stringify(score).replace('"mcqa"', '"mc\\u0071a"')}`]) {
    const buf = frame(json)
    const d = decode(type, buf, 0, buf.length)
    let expected: unknown
    try {
      const parsed = JSON.parse(json)
      const r = Schema.decodeUnknownExit(type.schema)(parsed)
      expected = r._tag === "Success" ? "Ok" : "Poison"
    } catch {
      expected = "Poison"
    }
    assert.equal(d._tag, expected, json)
    if (d._tag === "Ok") assert.deepStrictEqual(d.value, JSON.parse(json))
  }
})

test("compiled reader: schemas with parts it does not know are left to JSON.parse", () => {
  assert.equal(compileJsonReader(Records.CorpusDocument.schema as Schema.Top), undefined)
  assert.equal(compileJsonReader(Records.DeadLetter.schema as Schema.Top), undefined)
  assert.equal(compileJsonReader(Schema.NumberFromString as Schema.Top), undefined)
  assert.equal(compileJsonReader(Schema.Struct({ ["__proto__"]: Schema.String }) as Schema.Top), undefined)
  assert.equal(compileJsonReader(Schema.Struct({ "0": Schema.String }) as Schema.Top), undefined)
})
