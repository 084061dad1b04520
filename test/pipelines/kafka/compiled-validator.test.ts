import assert from "node:assert/strict"
import { test } from "node:test"
import { Schema } from "effect"
import { compileValidator } from "../../../pipelines/kafka/compiled-validator.ts"
import { type RecordName, Records } from "../../../schemas/registry.ts"

// Valid records of the types the fast path compiles, as a producer would write them.
const valid: Partial<Record<RecordName, Record<string, unknown>>> = {
  Score: { system: "EnMed-Unified", task: "mcqa", shots: 3, itemId: "item-1", datasetVersion: "v1", metric: "acc", score: 0.5, judge: "j" },
  PackedSequence: { seq: 0, ids: [1, 2, 3], docIds: ["a", "b"], shard: "s-00000.arrow" },
  Prediction: {
    system: "sys", modelId: "m", modelRevision: "r", adapterHash: "h", task: "mcqa", shots: 0, itemId: "i", datasetVersion: "v", promptHash: "p", decodingHash: "d", cacheKey: "k",
    options: [{ logprob: -1.5, tokens: 3, chars: 10, bytes: 10, greedy: true }]
  }
}

const oddValues: ReadonlyArray<unknown> = [null, "", "x", -1, 0, 1.5, 2 ** 53, true, [], {}, [1.5], ["a"], { a: 1 }]

/** The base record, and many neighbours of it: a field dropped, changed, added, or the keys reordered. */
const neighbours = (base: Record<string, unknown>): Array<unknown> => {
  const out: Array<unknown> = [base, null, [], "text", 3]
  const keys = Object.keys(base)
  for (const k of keys) {
    const { [k]: _dropped, ...rest } = base
    out.push(rest)
    for (const v of oddValues) out.push({ ...base, [k]: v })
  }
  out.push({ ...base, extra: 1 })
  out.push(Object.fromEntries([...keys].reverse().map((k) => [k, base[k]])))
  out.push(Object.assign(Object.create({ inherited: 1 }), base))
  return out
}

test("compiled validator: whatever it accepts, the Schema accepts and decodes to the very same JSON", () => {
  for (const [name, base] of Object.entries(valid)) {
    const schema = Records[name as RecordName].schema as unknown as Schema.Codec<unknown, unknown>
    const fast = compileValidator(schema as Schema.Top)
    assert.ok(fast, `${name}: compiles`)
    const decode = Schema.decodeUnknownExit(schema)
    let accepted = 0
    for (const u of neighbours(base!)) {
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
