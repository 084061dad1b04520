import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { test } from "node:test"
import { LanguageIdentifier } from "../../operators/corpus/language-id.ts"
import { sampleManifest, samplePath } from "./helpers.ts"

const identifier = new LanguageIdentifier()

/** Labelled sample: the sample corpus's French documents and its English/Spanish/Italian/German ones (not training text). */
const labelled = async () => {
  const manifest = await sampleManifest()
  return readFileSync(samplePath, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as { id: string; text: string })
    .map((d) => ({ ...d, entry: manifest.get(d.id)! }))
    .filter((d) => d.entry.kind !== "junk" && !d.entry.mojibake)
}

test("language id: document-level accuracy on French vs English/Spanish/Italian/German medical text", async () => {
  const docs = await labelled()
  const langs = new Set(docs.map((d) => d.entry.lang))
  assert.deepEqual([...langs].sort(), ["de", "en", "es", "fr", "it"])
  const right = docs.filter((d) => identifier.identify(d.text)?.lang === d.entry.lang).length
  const accuracy = right / docs.length
  console.log(`language id: ${right}/${docs.length} documents right (accuracy ${accuracy.toFixed(4)})`)
  assert.ok(accuracy >= 0.99, `accuracy ${accuracy}`)
})

test("language id: sentence-level accuracy (harder: short inputs)", async () => {
  const docs = await labelled()
  const sentences = docs.flatMap((d) => d.text.split(/(?<=[.!?])\s+/).filter((s) => s.split(/\s+/).length >= 6).map((s) => ({ s, lang: d.entry.lang })))
  const byLang = new Map<string, [number, number]>()
  for (const { s, lang } of sentences) {
    const r = byLang.get(lang) ?? [0, 0]
    r[1]++
    if (identifier.identify(s)?.lang === lang) r[0]++
    byLang.set(lang, r)
  }
  const right = [...byLang.values()].reduce((a, [r]) => a + r, 0)
  const accuracy = right / sentences.length
  console.log(`language id: ${right}/${sentences.length} sentences right (accuracy ${accuracy.toFixed(4)}); per language ${JSON.stringify(Object.fromEntries([...byLang].map(([l, [r, n]]) => [l, `${r}/${n}`])))}`)
  assert.ok(accuracy >= 0.95, `accuracy ${accuracy}`)
})

test("language id: confidence is low on text without a clear language, and absent without letters", () => {
  assert.equal(identifier.identify("12 34 56 !!! 78"), undefined)
  const mixed = identifier.identify("Le patient the patient el paciente il paziente der Patient")!
  assert.ok(mixed.score < 0.99)
  const french = identifier.identify("La patiente présente une toux sèche depuis deux semaines, sans fièvre ni perte de poids.")!
  assert.equal(french.lang, "fr")
  assert.ok(french.score > 0.99)
})
