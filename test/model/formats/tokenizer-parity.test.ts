import assert from "node:assert/strict"
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { test } from "node:test"
import { deferredTokenizer, loadTokenizer, tokenizerTablesFile, topLevelValue } from "../../../model/formats/tokenizer/tokenizer.ts"
import { splitQwen2 } from "../../../model/formats/tokenizer/pre-tokenize.ts"
import { ByteLevelBpe, byteLevelBpeSpecOf, compactTables, translatePattern } from "../../../model/formats/tokenizer/byte-level-bpe.ts"
import { QWEN2_SPLIT_PATTERN } from "../../../model/formats/tokenizer/pre-tokenize.ts"
import { fixturesDir, repoRoot } from "../../helpers/paths.ts"

const fixture = JSON.parse(readFileSync(join(fixturesDir, "tokenizer/qwen3.json"), "utf8")) as {
  tokenizer: string
  cases: Array<{ text: string; ids: Array<number>; decoded: string }>
}
const tokenizer = loadTokenizer(join(repoRoot, fixture.tokenizer))

test("Qwen3 ids are identical to the Python tokenizers library on French medical text", () => {
  assert.ok(fixture.cases.length >= 20)
  for (const c of fixture.cases) assert.deepEqual(tokenizer.encode(c.text), c.ids, c.text)
})

test("decode gives back what the Python library decodes", () => {
  for (const c of fixture.cases) assert.equal(tokenizer.decode(c.ids), c.decoded, c.text)
})

test("Qwen3 special tokens: EOS is known and the vocabulary covers added tokens", () => {
  assert.equal(typeof tokenizer.eosId, "number")
  assert.ok(tokenizer.vocabSize >= 151_669)
})

test("the hand-written pre-tokenizer splits exactly like the translated regex", () => {
  const re = translatePattern(QWEN2_SPLIT_PATTERN)
  const texts = [...fixture.cases.map((c) => c.text), " a  b   c\n \n  d ", "x\u2003\u2003y", "''s 'S 'LL '", "1a2b ?!\n\r\nfin  "]
  for (const t of texts) {
    const mine: Array<string> = []
    splitQwen2(t, (s, e) => mine.push(t.slice(s, e)))
    const reference = [...t.matchAll(re)].map((m) => m[0])
    assert.deepEqual(mine, reference, JSON.stringify(t))
  }
})

test("the deferred tokenizer knows the EOS id without the vocabulary, then encodes and decodes as the loaded one", () => {
  const path = join(repoRoot, fixture.tokenizer)
  const deferred = deferredTokenizer(path)
  assert.equal(deferred.eosId, tokenizer.eosId)
  assert.equal(deferred.vocabSize, tokenizer.vocabSize)
  for (const c of fixture.cases.slice(0, 5)) {
    assert.deepEqual(deferred.encode(c.text), c.ids)
    assert.equal(deferred.decode(c.ids), c.decoded)
  }
})

test("the deferred tokenizer's EOS id where added_tokens come after the first 256 KiB, or are cut there (the whole file is read)", () => {
  const json = JSON.parse(readFileSync(join(repoRoot, fixture.tokenizer), "utf8")) as Record<string, unknown>
  const { added_tokens: added, ...rest } = json
  const dir = mkdtempSync(join(tmpdir(), "fleuve-tok-late-"))
  try {
    // Keys are written in insertion order: a 300 KB value before added_tokens, then one that starts
    // inside the prefix and ends past it.
    for (const [name, before] of [["late", { padding: "x".repeat(300_000) }], ["cut", { padding: "x".repeat(262_000) }]] as const) {
      const path = join(dir, `${name}.json`)
      writeFileSync(path, JSON.stringify({ ...before, added_tokens: added, ...rest }))
      // No tokenizer_config.json beside it: EOS is <|endoftext|>, as the full load finds it.
      const eos = deferredTokenizer(path).eosId
      assert.equal(eos, loadTokenizer(path).eosId, name)
      assert.equal(eos, 151643, name)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test("topLevelValue finds a key's value span in a JSON object without parsing the other values", () => {
  const text = '{ "a": 1, "b": "x\\"}{[", "c": [1, {"d": [2, "]"]}], "e": null, "f": {"g": {}} }'
  const parsed = JSON.parse(text) as Record<string, unknown>
  for (const key of Object.keys(parsed)) {
    const span = topLevelValue(text, key)!
    assert.deepEqual(JSON.parse(text.slice(span[0], span[1])), parsed[key], key)
  }
  assert.equal(topLevelValue(text, "d"), undefined, "only top-level keys")
  assert.equal(topLevelValue("[1, 2]", "a"), undefined)
})

test("the tokenizer's cached tables load the same tokenizer, and a changed tokenizer.json is parsed again", () => {
  const dir = mkdtempSync(join(tmpdir(), "fleuve-tok-"))
  const path = join(dir, "tokenizer.json")
  copyFileSync(join(repoRoot, fixture.tokenizer), path)
  const config = join(repoRoot, fixture.tokenizer, "..", "tokenizer_config.json")
  if (existsSync(config)) copyFileSync(config, join(dir, "tokenizer_config.json"))
  const cache = tokenizerTablesFile(path)
  rmSync(cache, { force: true })
  const check = (t: ReturnType<typeof loadTokenizer>) => {
    assert.equal(t.eosId, tokenizer.eosId)
    assert.equal(t.vocabSize, tokenizer.vocabSize)
    for (const c of fixture.cases) {
      assert.deepEqual(t.encode(c.text), c.ids, c.text)
      assert.equal(t.decode(c.ids), c.decoded)
    }
  }
  check(loadTokenizer(path))
  assert.ok(existsSync(cache), "the first load writes the tables")
  const written = readFileSync(cache, "utf8")
  check(loadTokenizer(path))
  // Another mtime: the tables are stale, the file is parsed again and the tables rewritten.
  utimesSync(path, new Date(), new Date(Date.now() - 3_600_000))
  check(loadTokenizer(path))
  assert.notEqual(readFileSync(cache, "utf8").split("\n")[0], written.split("\n")[0])
  rmSync(cache, { force: true })
  rmSync(dir, { recursive: true, force: true })
})

test("pieces looked up by their range of the text (the fast split's cache) give the ids of the regex split and Map cache, however small the cache", () => {
  // The compact tables: built in a fraction of the vocabulary maps' time.
  const spec = compactTables(byteLevelBpeSpecOf(JSON.parse(readFileSync(join(repoRoot, fixture.tokenizer), "utf8")))!)!
  assert.equal(spec.pattern, QWEN2_SPLIT_PATTERN)
  // The same pattern in a group: not the fast split's string, so encode takes the regex and the Map.
  const reference = new ByteLevelBpe({ ...spec, pattern: `(?:${spec.pattern})` })
  const pieces = ["le", " le", "Le", " patient", "é", "è", " œdème", "’", "'s", " 12", "3", "\n", "\n\n", "  ", "\t", "😀", "𝔘", "\ud800", "«", "»", "...", "…", " l'", "x", "<|endoftext|>", "ﬁ", "e\u0301", "中文", " — ", "#"]
  let s = 17
  const next = (n: number) => Math.floor(((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * n)
  const texts = [...fixture.cases.map((c) => c.text), ...Array.from({ length: 400 }, () => Array.from({ length: next(80) }, () => pieces[next(pieces.length)]!).join(""))]
  for (const capacity of [1, 7, 200_000]) {
    const fast = new ByteLevelBpe(spec, capacity)
    for (const text of [...texts, ...texts]) assert.deepEqual(fast.encode(text), reference.encode(text), `${capacity}: ${JSON.stringify(text.slice(0, 60))}`)
  }
})
