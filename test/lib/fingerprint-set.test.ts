import assert from "node:assert/strict"
import { test } from "node:test"
import { FingerprintSet } from "../../lib/fingerprint-set.ts"

test("fingerprint set: answers true exactly for strings added before, across growth", () => {
  const set = new FingerprintSet()
  const ids = Array.from({ length: 50_000 }, (_, i) => `doc-${i}`)
  for (const id of ids) assert.equal(set.add(id), false, id)
  // Near neighbours of the ids, the empty string, astral characters: none was added.
  for (const s of ["", "doc-", "doc-50000", "doc-1 ", "Doc-1", "😀", "doc-😀"]) assert.equal(set.add(s), false, s)
  for (const id of ids) assert.equal(set.add(id), true, id)
  assert.equal(set.size, ids.length + 7)
})
