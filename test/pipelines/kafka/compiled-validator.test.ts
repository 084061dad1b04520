import assert from "node:assert/strict"
import { test } from "node:test"
import { Schema } from "effect"
import { compileValidator } from "../../../pipelines/kafka/compiled-validator.ts"
import { type RecordName, Records } from "../../../schemas/registry.ts"
import { neighbours, validRecords } from "./record-neighbours.ts"


const oddValues: ReadonlyArray<unknown> = [null, "", "x", -1, 0, 1.5, 2 ** 53, true, [], {}, [1.5], ["a"], { a: 1 }]


test("compiled validator: whatever it accepts, the Schema accepts and decodes to the very same JSON", () => {
  for (const [name, base] of Object.entries(validRecords)) {
    const schema = Records[name as RecordName].schema as unknown as Schema.Codec<unknown, unknown>
    const fast = compileValidator(schema as Schema.Top)
    assert.ok(fast, `${name}: compiles`)
    const decode = Schema.decodeUnknownExit(schema)
    let accepted = 0
    for (const u of neighbours(base!, oddValues)) {
      const r = decode(u)
      if (fast(u)) {
        accepted++
        assert.equal(r._tag, "Success", `${name}: fast path accepted what the Schema refuses: ${JSON.stringify(u)}`)
        assert.equal(JSON.stringify((r as { value: unknown }).value), JSON.stringify(u), `${name}: decoded shape differs`)
      }
    }
    // The fast path is really taken for well-formed records (else it would be pointless).
    assert.ok(fast(base), `${name}: the valid record takes the fast path`)
    assert.ok(accepted > 1, name)
  }
})

test("compiled validator: schemas with parts it does not know are left to the Schema", () => {
  // CorpusDocument has an open `meta` record (index signature), DeadLetter a union of positions.
  assert.equal(compileValidator(Records.CorpusDocument.schema as Schema.Top), undefined)
  assert.equal(compileValidator(Records.DeadLetter.schema as Schema.Top), undefined)
  assert.equal(compileValidator(Schema.NumberFromString as Schema.Top), undefined)
})
