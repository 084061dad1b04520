import assert from "node:assert/strict"
import { test } from "node:test"
import { didYouMean, levenshtein, nearestName } from "../../lib/nearest-name.ts"

test("levenshtein distance and the nearest plausible name", () => {
  assert.equal(levenshtein("kitten", "sitting"), 3)
  assert.equal(levenshtein("", "abc"), 3)
  assert.equal(levenshtein("same", "same"), 0)
  assert.equal(nearestName("sequenceLenght", ["quality", "sequenceLength", "languages"]), "sequenceLength")
  assert.equal(nearestName("Languages", ["languages"]), "languages")
  // Nothing close: no misleading suggestion.
  assert.equal(nearestName("zzz", ["quality", "languages"]), undefined)
  assert.equal(didYouMean("minWord", ["minWords", "maxWords"]), " (did you mean 'minWords'?)")
  assert.equal(didYouMean("colour", ["font"]), "")
})
