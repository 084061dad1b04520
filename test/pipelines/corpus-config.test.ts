import assert from "node:assert/strict"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { decodeConfig } from "../../schemas/config-file.ts"
import { CorpusConfig } from "../../pipelines/corpus-config.ts"
import { runCli, tempDir } from "../helpers/warehouse.ts"

const decode = (v: unknown) => {
  try {
    return decodeConfig(CorpusConfig, v, "thresholds.json")
  } catch (e) {
    return (e as Error).message
  }
}

// Issue 20 item 2: the thresholds file was JSON.parse'd and spread into the options unchecked.
test("the corpus thresholds file: wrong types, ranges and unknown keys are errors naming the file and key", () => {
  assert.match(String(decode({ languages: "fr" })), /^thresholds\.json: languages: Expected array, got "fr"/)
  assert.match(String(decode({ languages: ["fr", "xx"] })), /languages\[1\]: Expected "fr" \| "en" .*got "xx"/)
  assert.match(String(decode({ sequenceLength: 0 })), /sequenceLength: Expected a value between 2 and 1048576, got 0/)
  assert.match(String(decode({ sequenceLength: -5 })), /sequenceLength: .*got -5/)
  assert.match(String(decode({ sequenceLength: 12.5 })), /sequenceLength: Expected an integer, got 12\.5/)
  assert.match(String(decode({ sequenceLenght: 512 })), /sequenceLenght: unknown key \(did you mean 'sequenceLength'\?\)/)
  assert.match(String(decode({ quality: { minWord: 30 } })), /quality\.minWord: unknown key \(did you mean 'minWords'\?\)/)
  assert.match(String(decode({ quality: { maxBulletLinesRatio: 1.5 } })), /quality\.maxBulletLinesRatio: .*got 1\.5/)
  assert.match(String(decode({ minLanguageScore: "0.8" })), /minLanguageScore: Expected number, got "0\.8"/)
  assert.match(String(decode([])), /\(top level\): Expected object/)
  // A valid file decodes to itself.
  const ok = { quality: { minWords: 30, maxTopNgramCharsRatio: { "2": 0.2, "3": 0.18, "4": 0.16 } }, languages: ["fr", "en"], minLanguageScore: 0.8, sequenceLength: 4096 }
  assert.deepEqual(decode(ok), ok)
})

test("fleuve corpus refuses a bad thresholds file and a bad --sequence-length before reading anything", () => {
  const dir = tempDir()
  const input = join(dir, "c.jsonl")
  writeFileSync(input, JSON.stringify({ id: "a", text: "Bonjour le monde." }) + "\n")
  const config = join(dir, "thresholds.json")
  writeFileSync(config, JSON.stringify({ languages: "fr" }))
  const r = runCli(["corpus", input, "--config", config, "--warehouse", join(dir, "w.duckdb"), "--out", join(dir, "out")])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /thresholds\.json:\d+: languages: Expected array/)
  for (const n of ["0", "-5"]) {
    const s = runCli(["corpus", input, "--sequence-length", n, "--warehouse", join(dir, "w.duckdb"), "--out", join(dir, "out")])
    assert.equal(s.code, 1, s.stderr)
    assert.match(s.stderr, new RegExp(`sequence length must be an integer from 2 to \\d+, got ${n}`))
    assert.doesNotMatch(s.stderr, /RangeError|at /)
  }
})
