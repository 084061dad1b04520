import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { loadTokenizer } from "../../../model/formats/tokenizer/tokenizer.ts"
import { splitQwen2 } from "../../../model/formats/tokenizer/pre-tokenize.ts"
import { translatePattern } from "../../../model/formats/tokenizer/byte-level-bpe.ts"
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
