import assert from "node:assert/strict"
import { Effect } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { Stream } from "effect"
import { test } from "node:test"
import { normaliseText, repairMojibake } from "../../operators/corpus/normalise.ts"
import { defaultQualityThresholds, qualityProblem } from "../../operators/corpus/quality.ts"
import { LshIndex, MinHasher, simplify } from "../../operators/corpus/minhash.ts"
import { pack } from "../../operators/corpus/pack.ts"
import { readCorpus } from "../../operators/readers/corpus.ts"
import { tempDir } from "../helpers/warehouse.ts"

const FRENCH = "Le patient, âgé de 67 ans, présente une dyspnée d’effort évoluant depuis trois semaines. L’examen clinique retrouve des râles crépitants aux deux bases et des œdèmes des membres inférieurs. La biologie montre une hémoglobine à 12,4 g/dl. Une échocardiographie est réalisée et met en évidence une insuffisance cardiaque à FEVG 35 %. Un traitement diurétique est débuté avec une bonne évolution, et le patient rentre à domicile au dixième jour avec un suivi cardiologique programmé."

test("mojibake: UTF-8 read as cp1252 or Latin-1 is repaired, clean text is untouched", () => {
  const cp1252 = new TextDecoder("windows-1252").decode(Buffer.from(FRENCH, "utf8"))
  const latin1 = Buffer.from(FRENCH, "utf8").toString("latin1")
  assert.notEqual(cp1252, FRENCH)
  assert.equal(repairMojibake(cp1252).text, FRENCH)
  assert.equal(repairMojibake(latin1).text, FRENCH)
  assert.deepEqual(repairMojibake(FRENCH), { text: FRENCH, repairs: 0 })
  assert.equal(repairMojibake("Ã©tÃ© Ã  lâ€™hÃ´pital").text, "été à l’hôpital")
  // "Â" and "Ã" that are not mojibake stay.
  assert.equal(repairMojibake("São Paulo, Ãngel, Â").text, "São Paulo, Ãngel, Â")
})

test("normalisation: NFC, controls, zero-width characters, line endings and spaces", () => {
  assert.equal(normaliseText("e\u0301te\u0301").text, "été")
  assert.equal(normaliseText("a\u0000b\u200bc\ufeff").text, "abc")
  assert.equal(normaliseText("  un   deux\t\ttrois  \r\n\r\n\r\n\r\nquatre  ").text, "un deux trois\n\nquatre")
  // The French non-breaking space before ":" is kept.
  assert.equal(normaliseText("Posologie\u00a0: 1 g").text, "Posologie\u00a0: 1 g")
})

test("quality: each Gopher/C4 rule fires on its own kind of junk, and clean French passes", () => {
  assert.equal(qualityProblem(FRENCH), undefined)
  assert.equal(qualityProblem("Trop court pour être utile."), "too few words")
  assert.equal(qualityProblem(`${FRENCH} Lorem ipsum dolor sit amet.`), "lorem ipsum")
  assert.equal(qualityProblem(`${FRENCH} function f() { return 1 }`), "curly brace")
  assert.equal(qualityProblem(Array.from({ length: 30 }, (_, i) => `#santé${i} #bienêtre ...`).join(" ")), "too many symbols per word")
  assert.equal(qualityProblem(Array.from({ length: 30 }, (_, i) => `• article numéro ${i} en promotion`).join("\n")), "too many bullet lines")
  assert.equal(qualityProblem(Array.from({ length: 30 }, (_, i) => `la suite de l’article numéro ${i} sur la santé des enfants est réservée aux abonnés...`).join("\n")), "too many lines ending in ellipsis")
  assert.equal(qualityProblem(Array.from({ length: 12 }, () => "Promotion sur les compléments alimentaires pour le cœur !").join("\n")), "duplicated lines")
  assert.equal(qualityProblem(`${FRENCH} ${"insuffisance cardiaque ".repeat(30)}`), "top 2-gram too frequent")
  assert.equal(qualityProblem("1234,56 7890,12 3456,78 ".repeat(10) + FRENCH), "too few alphabetic words")
  // Thresholds are configurable.
  assert.equal(qualityProblem("Trop court pour être utile, mais accepté ici avec le seuil.", { ...defaultQualityThresholds, minWords: 5 }), undefined)
})

test("MinHash LSH: near copies collide, unrelated texts do not", () => {
  const hasher = new MinHasher()
  const index = new LshIndex(14)
  const words = FRENCH.split(" ")
  const near = [...words.slice(0, 40), "également", ...words.slice(41)].join(" ")
  const other = "La notice précise que ce médicament contient du paracétamol et qu’il ne faut pas dépasser la dose de quatre grammes par jour chez l’adulte, ni l’associer à d’autres médicaments contenant la même substance, sous peine de toxicité hépatique grave nécessitant une hospitalisation."
  index.add(hasher.bandKeys(hasher.signature(FRENCH)), "a")
  assert.equal(index.find(hasher.bandKeys(hasher.signature(near))), "a")
  assert.equal(index.find(hasher.bandKeys(hasher.signature(other))), undefined)
  // Simplification: case, accents, punctuation and digits do not matter.
  assert.deepEqual(simplify("L’Hôpital, 35 %!"), ["l", "hopital", "00"])
  assert.equal(index.find(hasher.bandKeys(hasher.signature(FRENCH.toUpperCase().replace(/,/g, "")))), "a")
})

test("pack: fixed-length sequences, EOS after each document, documents span sequences", async () => {
  const packer = pack({ sequenceLength: 8, eosId: 0 })
  const docs = [{ id: "a", ids: [1, 2, 3] }, { id: "b", ids: [4, 5, 6, 7, 8, 9] }, { id: "c", ids: [10] }]
  const outcomes = await Effect.runPromise(packer.process(docs.map((value, i) => ({ key: value.id, value, position: { _tag: "Generated" as const, generator: "t", seq: i } }))))
  const emitted = outcomes.flatMap((o) => (o._tag === "Emit" ? o.values.map((v) => v.value) : []))
  const rest = await Effect.runPromise(packer.flush!())
  const all = [...emitted, ...rest.map((e) => e.value)]
  assert.deepEqual(all.map((s) => s.ids), [[1, 2, 3, 0, 4, 5, 6, 7], [8, 9, 0, 10, 0]])
  assert.deepEqual(all.map((s) => s.docIds), [["a", "b"], ["b", "c"]])
  assert.deepEqual(all.map((s) => s.seq), [0, 1])
})

const collect = (path: string) =>
  Effect.runPromise(Stream.runCollect(readCorpus(path))).then((c) => [...c])

test("corpus reader: JSONL (plain and gzip), CSV and folders of .txt files, with source and hash", async () => {
  const dir = tempDir()
  const rows = [{ id: "d1", text: "Premier document." }, { id: "d2", text: "Deuxième document.", source_url: "https://exemple.fr" }]
  writeFileSync(join(dir, "a.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"))
  writeFileSync(join(dir, "b.jsonl.gz"), gzipSync(rows.map((r) => JSON.stringify(r)).join("\n")))
  writeFileSync(join(dir, "c.csv"), 'id,text\nc1,"Un texte, avec une virgule\net une ligne"\n')
  mkdirSync(join(dir, "notes"))
  writeFileSync(join(dir, "notes", "cours-1.txt"), "Cours de cardiologie.\nDeuxième ligne.")
  writeFileSync(join(dir, "notes", "bad.txt"), Buffer.from([0x43, 0x61, 0xff, 0x66]))
  const plain = await collect(join(dir, "a.jsonl"))
  assert.equal(plain.length, 2)
  const first = plain[0]!.value
  assert.equal(first._tag, "Document")
  if (first._tag === "Document") {
    assert.equal(first.document.id, "d1")
    assert.equal(first.document.source, `${join(dir, "a.jsonl")}:1`)
    assert.match(first.document.contentHash, /^[0-9a-f]{64}$/)
  }
  const second = plain[1]!.value
  if (second._tag === "Document") assert.deepEqual(second.document.meta, { source_url: "https://exemple.fr" })
  assert.equal((await collect(join(dir, "b.jsonl.gz"))).length, 2)
  const folder = await collect(dir)
  const tags = folder.map((e) => (e.value._tag === "Document" ? e.value.document.id : `unreadable:${e.value.reason}`))
  assert.deepEqual(tags, ["a.jsonl:d1", "a.jsonl:d2", "b.jsonl.gz:d1", "b.jsonl.gz:d2", "c.csv:c1", "unreadable:invalid UTF-8", "notes/cours-1.txt"])
})
