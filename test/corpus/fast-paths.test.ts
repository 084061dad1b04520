import assert from "node:assert/strict"
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { ExactIndex } from "../../operators/corpus/exact-dedup.ts"
import { base36 } from "../../operators/corpus/ledger.ts"
import { defaultMinHashConfig, fnv1a, LshIndex, MinHasher, simplifiedWordHashes, simplify } from "../../operators/corpus/minhash.ts"
import { LanguageIdentifier, loadTraining } from "../../operators/corpus/language-id.ts"
import { signatureKernel } from "../../operators/corpus/minhash-kernel.ts"
import { normaliseText, repairMojibake } from "../../operators/corpus/normalise.ts"
import { alphabeticWordsRatio, defaultQualityThresholds, qualityCheck } from "../../operators/corpus/quality.ts"
import { shardTable } from "../../operators/writers/arrow-shards.ts"
import { BIRTH, replaceBirthDates } from "../../operators/corpus/pii.ts"
import { type CleanedDocumentLine, DocumentsWriter } from "../../operators/writers/documents-jsonl.ts"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { gzipSync } from "node:zlib"
import { tableToIPC } from "apache-arrow"
import { referenceAlphabeticWordsRatio, ReferenceLanguageIdentifier, ReferenceLshIndex, ReferenceMinHasher, referenceQualityCheck, referenceShardTable } from "../helpers/corpus-reference.ts"
import { repoRoot } from "../helpers/paths.ts"

// Texts that stress the fast paths: astral characters, lone surrogates, combining marks before
// and after their base, Greek final sigma, ligatures, non-ASCII digits and spaces, controls.
const TRICKY = [
  "",
  "   ",
  " a  b ",
  "ΣΑΣ Σ «bonjour» le la ΟΔΟΣ." + " mot".repeat(60),
  "😀😀 x𝔘 le la ".repeat(80),
  "İstanbul ǅ ß ﬁ ① ² ١٢ \u0301e e\u0301 \u00a0x\u2028y\u200bz \ud800 \udc00 a\u0000b le la de " + "x y ".repeat(40),
  "« l’hôpital » — c’est-à-dire, (voir §3) ; 12,5 % ! ¿qué? #santé… " .repeat(20),
  "le la " + "a b ".repeat(100)
]
const sample = readFileSync(join(repoRoot, "data/corpus/sample.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).text as string)

test("quality: the one-pass rules give the reference implementation's verdict and measures on every text", () => {
  for (const text of [...TRICKY, ...sample]) assert.deepEqual(qualityCheck(text), referenceQualityCheck(text), text.slice(0, 60))
})

test("quality: repetition rules counting only candidate n-grams give the reference's verdicts on texts that repeat at every length", () => {
  // Few distinct words, runs copied from earlier in the text: n-grams repeat for every n from 2
  // to 10 and beyond, so every pass has candidates, and some texts break each rule.
  let s = 12345
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32
  const texts: Array<string> = []
  for (let k = 0; k < 400; k++) {
    const vocabulary = ["le", "la", "de", "patient", "dose", "mg", "12", "—", "Tension", "tension.", "soins", "(voir", "x"].slice(0, 3 + Math.floor(next() * 10))
    const words: Array<string> = []
    const length = 40 + Math.floor(next() * 300)
    while (words.length < length) {
      if (words.length > 12 && next() < 0.3) {
        const from = Math.floor(next() * (words.length - 10))
        words.push(...words.slice(from, from + 2 + Math.floor(next() * 12)))
      } else words.push(vocabulary[Math.floor(next() * vocabulary.length)]!)
    }
    texts.push(words.join(next() < 0.2 ? "\n" : " "))
  }
  const verdicts = new Set<string>()
  for (const text of texts) {
    const fast = qualityCheck(text)
    assert.deepEqual(fast, referenceQualityCheck(text), text.slice(0, 60))
    verdicts.add(fast.problem ?? "kept")
  }
  // The texts reach the repetition rules, and break them in more than one way.
  assert.ok([...verdicts].filter((v) => /gram|duplicated/.test(v)).length >= 3, [...verdicts].join(", "))
})

test("quality: the ASCII word path (ends cut unit by unit, packed stop-word look-up) gives the reference's measures", () => {
  // Every printable ASCII punctuation and symbol unit at a word's ends, capitals on stop words,
  // words of nothing but punctuation, and non-ASCII neighbours that take the regular expressions.
  const ends = [..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"]
  const cores = ["le", "LA", "De", "des", "À", "à", "Est", "qui", "patient", "Tension", "ordonnance", "12", "", "é", "son", "l'homme", "c'est", "médecin", "SOINS"]
  let s = 7
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32
  const pick = <A>(xs: ReadonlyArray<A>) => xs[Math.floor(next() * xs.length)]!
  const verdicts = new Set<string>()
  for (let k = 0; k < 300; k++) {
    const words = Array.from({ length: 50 + Math.floor(next() * 80) }, () => {
      const core = pick(cores)
      const r = next()
      return r < 0.4 ? core : r < 0.6 ? pick(ends) + core : r < 0.8 ? core + pick(ends) + (next() < 0.3 ? pick(ends) : "") : pick(ends) + core + pick(ends)
    }).filter((w) => w.length > 0)
    const text = words.join(" ")
    // Without braces, so the texts reach the stop-word and repetition rules.
    const plain = text.replace(/[{}]/g, "x")
    for (const t of [text, plain]) {
      const fast = qualityCheck(t)
      assert.deepEqual(fast, referenceQualityCheck(t), t.slice(0, 60))
      verdicts.add(fast.problem ?? "kept")
    }
  }
  // Some texts pass every rule, so their measures (stop words included) were compared.
  assert.ok(verdicts.has("kept") && verdicts.size >= 3, [...verdicts].join(", "))
})

test("quality: the unit-flag word and line passes give the reference's verdicts and measures on random Unicode texts", () => {
  // Words of letters, capitals that lower-case to other lengths (İ, ẞ) or by context (Σ),
  // combining marks, digits of several scripts, punctuation and symbols at either end, astral
  // letters and punctuation, lone surrogates, controls; separated by every kind of white space.
  const pieces = ["le", "La", "DES", "À", "é", "patient", "Œdème", "İ", "ẞ", "ΣΑΣ", "ς", "e\u0301", "ﬁ", "12", "١٢", "②", "1234", "12345", "#", "...", "…", "«", "»", "—", "-", "•", "*", "·", "l’", "'", "(", ")", ".", ",", "€", "%", "𝔘", "😀", "\ud800\udd00", "\ud800", "\udc00", "\u0000", "\u0007", "x", "qui", "est", "son"]
  const spaces = [" ", " ", " ", "  ", "\n", "\n", "\t", "\r\n", "\u00a0", "\u2028", "\u3000", "\ufeff", " \n ", "\n\n", "\u0085"]
  let s = 4242
  const next = (n: number) => Math.floor(((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * n)
  const loose = { ...defaultQualityThresholds, minWords: 1, minMeanWordLength: 0, maxMeanWordLength: 1000, maxSymbolWordRatio: 1000, maxBulletLinesRatio: 2, maxEllipsisLinesRatio: 2, minAlphaWordsRatio: 0, minStopWords: 0, c4BadContent: false }
  const verdicts = new Set<string>()
  for (let k = 0; k < 1500; k++) {
    // Few distinct words in some texts, so that lines and n-grams repeat.
    const vocabulary = Array.from({ length: 2 + next(30) }, () => Array.from({ length: 1 + next(3) }, () => pieces[next(pieces.length)]!).join(""))
    let text = next(4) === 0 ? spaces[next(spaces.length)]! : ""
    for (let w = next(120); w > 0; w--) text += vocabulary[next(vocabulary.length)]! + spaces[next(spaces.length)]!
    if (next(2) === 0) text = text.trimEnd()
    for (const t of [defaultQualityThresholds, loose]) {
      const fast = qualityCheck(text, t)
      assert.deepEqual(fast, referenceQualityCheck(text, t), JSON.stringify(text.slice(0, 80)))
      verdicts.add(fast.problem ?? "kept")
    }
  }
  assert.ok(verdicts.has("kept") && verdicts.size >= 8, [...verdicts].join(", "))
})

test("normalisation: the guarded replaces (one scan for spaces and controls) and the space-run regex give the plain chain's text", () => {
  // The chain as written before: every replace on every text, a callback per space run.
  const reference = (input: string) =>
    repairMojibake(input).text
      .normalize("NFC")
      .replace(/\r\n?/g, "\n")
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B\u200C\u200D\u2060\uFEFF]/g, "")
      .replace(/[ \t\u00A0\u2000-\u200A\u3000]*\n/g, "\n")
      .replace(/[ \t\u2000-\u200A\u3000]+/g, (m) => (m.includes("\t") || m.length > 1 ? " " : m))
      .replace(/\n{3,}/g, "\n\n")
      .trim()
  const pieces = [" ", "  ", "\t", " \t", "\t ", "\u2003", "\u2003\u2003", "\u00a0", "\u3000", "\n", "\n\n", "\n\n\n\n", "\r\n", "\r", "\r\r\n", "mot", "é", "e\u0301", "\u200b", "\u0007", "Ã©", "Ã  ", "x", "\u0085", "\ufeff", "\u2060", "\u009f", "\u007f", "\u2009", "\u200a", "\u200c\n", " \u0001 ", "\u00a0\n", "’"]
  let s = 11
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32
  for (let k = 0; k < 10000; k++) {
    let text = ""
    for (let n = Math.floor(next() * 14); n > 0; n--) text += pieces[Math.floor(next() * pieces.length)]!
    assert.equal(normaliseText(text).text, reference(text), JSON.stringify(text))
  }
  for (const text of [...TRICKY, ...sample]) assert.equal(normaliseText(text).text, reference(text), text.slice(0, 60))
})

test("quality: the alphabetic-words ratio's ASCII path equals the regular expressions on every kind of word", () => {
  const words = ["", "a", "Z9", "123", "1234", "12345", "#", "—", "--", "12,5", "1.000", "é", "x²", "①", "١٢", "\u0000", "a\u0001", "~", "+33", "42%", "€", "l’", "A-1", "ⓐ"]
  let s = 99
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32
  for (let k = 0; k < 2000; k++) {
    const text = Array.from({ length: 1 + Math.floor(next() * 20) }, () => words[Math.floor(next() * words.length)]!)
    assert.equal(alphabeticWordsRatio(text), referenceAlphabeticWordsRatio(text), JSON.stringify(text))
  }
})

test("MinHash: word hashes without building words equal fnv1a of simplify's words", () => {
  for (const text of [...TRICKY, ...sample]) assert.deepEqual([...simplifiedWordHashes(text)], simplify(text).map((w) => fnv1a(w)), text.slice(0, 60))
})

test("MinHash: the sorted, register-held signature equals the reference signature", () => {
  const fast = new MinHasher(defaultMinHashConfig)
  const reference = new ReferenceMinHasher(defaultMinHashConfig)
  for (const text of [...TRICKY, ...sample]) assert.deepEqual(fast.signature(text), reference.signature(text), text.slice(0, 60))
})

/** Random texts over French letters, other scripts, astral characters, apostrophes and breaks (seeded). */
const randomTexts = (count: number, seed: number): Array<string> => {
  const pool = [..."abcdefghijklmnopqrstuvwxyzéèêàâçôûîïëüœæ'’ ÉÀÇ\n.,;:-ßñäöåøαβγжщ漢字😀𝔘\u0301ﬁİ0123456789"]
  let s = seed >>> 0
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32
  return Array.from({ length: count }, () => Array.from({ length: Math.floor(next() * 1500) }, () => (next() < 0.2 ? " " : pool[Math.floor(next() * pool.length)]!)).join(""))
}

test("language id: the packed-integer n-gram table gives the string identifier's scores, bit for bit", () => {
  const training = loadTraining()
  const fast = new LanguageIdentifier(training)
  const reference = new ReferenceLanguageIdentifier(training)
  for (const text of [...TRICKY, ...sample, ...randomTexts(300, 7)]) assert.deepEqual(fast.identify(text), reference.identify(text), text.slice(0, 60))
})

test("language id: the per-word rows, kept across texts and refilled when full, give the string identifier's scores, bit for bit", () => {
  const training = loadTraining()
  const reference = new ReferenceLanguageIdentifier(training)
  // Texts drawn from a few hundred words (repeats within and across texts), some of them long;
  // a cache of 50 words starts over many times, one of 4096 never.
  const words = randomTexts(40, 11).flatMap((t) => t.split(" ")).filter((w) => w.length > 0).slice(0, 400)
  words.push("a".repeat(3000), "é".repeat(700))
  let s = 99
  const next = (n: number) => Math.floor(((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * n)
  const texts = Array.from({ length: 300 }, () => Array.from({ length: next(200) }, () => words[next(words.length)]!).join(next(3) === 0 ? "\n" : " "))
  for (const capacity of [1, 50, 4096]) {
    const fast = new LanguageIdentifier(training, capacity)
    for (const text of [...texts, ...sample, ...texts]) assert.deepEqual(fast.identify(text), reference.identify(text), `${capacity}: ${text.slice(0, 60)}`)
  }
})

test("language id: identifyFor's per-word sums decide as identify does (language, rounded score, side of each threshold), and fall back to it near a flip", () => {
  const training = loadTraining()
  const exact = new LanguageIdentifier(training)
  const fast = new LanguageIdentifier(training, 64)
  const always = new LanguageIdentifier(training)
  // A bound made huge: every text is "close", so identifyFor must give identify's own answer.
  always.slack = 1e30
  const words = ["le", "la", "patient", "the", "de", "el", "der", "und", "il", "paziente", "présente", "toux", "sèche", "l’homme", "x", "ñ", "ß", "ÿ"]
  let s = 5
  const next = (n: number) => Math.floor(((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * n)
  // Mixed-language texts give scores all over (0, 1], some near the thresholds.
  const mixed = Array.from({ length: 1500 }, () => Array.from({ length: 1 + next(40) }, () => words[next(words.length)]!).join(" "))
  const thresholds = [0.65, 0.5, 0.9]
  let scores = 0
  for (const text of [...TRICKY, ...sample, ...randomTexts(300, 3), ...mixed]) {
    const e = exact.identify(text)
    const f = fast.identifyFor(text, thresholds)
    assert.deepEqual(always.identifyFor(text, thresholds), e, text.slice(0, 60))
    if (e === undefined) {
      assert.equal(f, undefined)
      continue
    }
    assert.equal(f?.lang, e.lang, text.slice(0, 60))
    assert.equal(Math.round(f!.score * 1e4), Math.round(e.score * 1e4), text.slice(0, 60))
    for (const t of thresholds) assert.equal(f!.score < t, e.score < t, `${t}: ${text.slice(0, 60)}`)
    if (e.score < 0.99) scores++
  }
  assert.ok(scores > 500, `${scores} texts with a score below 0.99`)
})

test("MinHash: the WebAssembly SIMD kernel gives the JavaScript loop's signatures, on the sample and on random texts", () => {
  const hasher = new MinHasher(defaultMinHashConfig)
  const kernel = signatureKernel()
  assert.ok(kernel, "WebAssembly SIMD is available on Node 20")
  const odd = new MinHasher({ ngram: 3, bands: 5, rows: 3, seed: 9 })
  for (const text of [...TRICKY, ...sample, ...randomTexts(300, 11), "le ".repeat(20000)]) {
    const words = simplifiedWordHashes(text)
    assert.deepEqual(hasher.signature(text), hasher.signatureOf(words), text.slice(0, 60))
    // 15 functions: the kernel's 4-wide and scalar tails, and another shingle length.
    assert.deepEqual(odd.signature(text), odd.signatureOf(words), text.slice(0, 60))
  }
})

test("LSH index: the open-addressing tables answer find/add/forget exactly as one Map per band", () => {
  let s = 12345
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32
  for (const space of [40, 5000, 2 ** 52]) {
    const bands = 4
    const fast = new LshIndex(bands)
    const reference = new ReferenceLshIndex(bands)
    const docs = Array.from({ length: 300 }, (_, i) => `d${i % 250}`)
    const keysOf = new Map<string, Array<number>>()
    for (let step = 0; step < 20000; step++) {
      const doc = docs[Math.floor(next() * docs.length)]!
      // Small key spaces force shared keys, long probe runs, tombstones and rehashes.
      const keys = keysOf.get(doc) ?? Array.from({ length: bands }, () => Math.floor(next() * space))
      keysOf.set(doc, keys)
      const r = next()
      if (r < 0.5) {
        const found = fast.find(keys)
        assert.equal(found, reference.find(keys))
        fast.add(keys, found ?? doc)
        reference.add(keys, found ?? doc)
      } else if (r < 0.8) {
        fast.forget(keys, doc)
        reference.forget(keys, doc)
        keysOf.delete(doc)
      } else assert.equal(fast.find(keys), reference.find(keys))
    }
  }
})

test("band keys: base36 equals Number.prototype.toString(36) on non-negative safe integers", () => {
  let s = 99
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0)
  const values = [0, 1, 35, 36, 2 ** 31, 2 ** 32 - 1, 2 ** 52 - 1, 2 ** 53 - 1]
  for (let i = 0; i < 5000; i++) values.push(next() * 0x100000 + (next() & 0xfffff))
  for (const v of values) assert.equal(base36(v), v.toString(36), String(v))
})

test("exact index: the typed table answers add/ownerOf/forget exactly as one Map, sha256 hashes and other strings alike", () => {
  let s = 777
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32
  const hex = (n: number) => createHash("sha256").update(String(n)).digest("hex")
  // Hashes sharing their first word (the slot) force long probe runs; odd strings take the Map.
  const sameSlot = (n: number) => `00000000${hex(n).slice(8)}`
  const hashes = [...Array.from({ length: 1500 }, (_, i) => hex(i)), ...Array.from({ length: 50 }, (_, i) => sameSlot(i)), "h1", "ABCDEF".repeat(10) + "ABCD", hex(1).slice(1)]
  const fast = new ExactIndex()
  const reference = new Map<string, string>()
  for (let step = 0; step < 30000; step++) {
    const hash = hashes[Math.floor(next() * hashes.length)]!
    const doc = `d${Math.floor(next() * 600)}`
    const r = next()
    if (r < 0.5) {
      fast.add(hash, doc)
      if (!reference.has(hash)) reference.set(hash, doc)
    } else if (r < 0.7) {
      fast.forget(doc, hash)
      if (reference.get(hash) === doc) reference.delete(hash)
    } else if (r < 0.75) {
      const owner = reference.get(hash)
      if (owner !== undefined) {
        fast.forget(owner, hash)
        reference.delete(hash)
      }
    }
    assert.equal(fast.ownerOf(hash), reference.get(hash))
    assert.equal(fast.size, reference.size)
  }
  for (const h of hashes) assert.equal(fast.ownerOf(h), reference.get(h))
})

test("released indexes answer as empty ones and take documents again; the bytes they held are counted", () => {
  const lsh = new LshIndex(3)
  const exact = new ExactIndex()
  const hash = createHash("sha256").update("x").digest("hex")
  for (let i = 0; i < 100; i++) lsh.add([i, i + 1000, i + 2000], `d${i}`, true)
  exact.add(hash, "d0")
  exact.add("not-a-sha256", "d1")
  assert.ok(lsh.release() >= 3 * 64 * 12 + 4096 * 3 * 8)
  assert.ok(exact.release() >= 1024 * 36)
  assert.equal(lsh.find([5, 1005, 2005]), undefined)
  assert.equal(exact.ownerOf(hash), undefined)
  assert.equal(exact.ownerOf("not-a-sha256"), undefined)
  assert.equal(exact.size, 0)
  lsh.add([5, 1005, 2005], "again", true)
  exact.add(hash, "again")
  assert.equal(lsh.find([7, 1005, 7]), "again")
  assert.deepEqual([...lsh.foundBands()!], [5, 1005, 2005])
  assert.equal(exact.ownerOf(hash), "again")
})

test("arrow shards: the directly filled columns give the builders' IPC file, byte for byte", () => {
  let s = 987654
  const next = (n: number) => Math.floor(((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * n)
  const pieces = ["doc", "é", "😀", "\ud800", "-", "x", "", "本"]
  for (const size of [1, 2, 7, 300]) {
    const rows = Array.from({ length: size }, (_, i) => ({
      seq: i * 3 + next(3),
      // Empty sequences and ids up to Qwen3's vocabulary; document ids of every width, lone surrogates included.
      ids: Array.from({ length: next(5) === 0 ? 0 : 1 + next(600) }, () => next(151_669)),
      docIds: Array.from({ length: next(4) }, () => Array.from({ length: next(6) }, () => pieces[next(pieces.length)]!).join(""))
    }))
    assert.deepEqual(Buffer.from(tableToIPC(shardTable(rows), "file")), Buffer.from(tableToIPC(referenceShardTable(rows), "file")), `${size} rows`)
  }
})

test("documents file: lines written as UTF-8 into a kept buffer give the joined string's gzip members, byte for byte", () => {
  let s = 31
  const next = (n: number) => Math.floor(((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * n)
  const pieces = ["mot ", "é", "’", "😀", "\ud800", "\udc00x", "\n", "\"", "\\", "\u0000", "中文", "ﬁ"]
  const line = (i: number): CleanedDocumentLine => ({
    id: `doc-${i}`,
    text: Array.from({ length: next(400) }, () => pieces[next(pieces.length)]!).join(""),
    lang: next(2) ? "fr" : null,
    lang_score: next(2) ? next(10_000) / 10_000 : null,
    source: "test",
    content_hash: "h".repeat(64),
    pii: next(2) ? { email: next(3) } : {},
    quality: next(2) ? { words: next(900), mean_word_length: 4.5 } : null
  })
  // Batches of one line, of a few, and one that outgrows the buffer's first 1 MiB.
  const batches = [[line(0)], Array.from({ length: 20 }, (_, i) => line(i + 1)), Array.from({ length: 5000 }, (_, i) => line(i + 100)), [line(99_999)]]
  assert.ok(Buffer.byteLength(batches[2]!.map((l) => JSON.stringify(l)).join("\n")) > 1 << 20)
  const dir = mkdtempSync(join(tmpdir(), "fleuve-docs-"))
  try {
    const writer = new DocumentsWriter(dir, "run")
    for (const b of batches) writer.addLines(b)
    const written = readFileSync(writer.close()!)
    const expected = Buffer.concat(batches.map((b) => gzipSync(b.map((l) => JSON.stringify(l)).join("\n") + "\n")))
    assert.deepEqual(written, expected)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test("PII: birth dates replaced where the cue finds a start give replace()'s text and count over the whole text", () => {
  // "né" inside words ("année", "donné"), at a word start, with (e), in capitals; "date de
  // naissance" with and without a colon and "le"; dates in both forms, good and broken; ſ and the
  // Kelvin sign, which the i and u flags fold.
  const pieces = ["né le ", "née le ", "nés le ", "né(e) le ", "NÉ LE ", "Née Le ", "date de naissance : ", "Date de naissance le ", "DATE DE NAISSANCE:", "12/03/1954", "1er janvier 1960", "3 août 1971", "31.12.99", "année ", "donné le ", "xné le ", "_né le ", "3né le ", "né  le  ", "né\nle ", "ſ", "\u212a", "é", " ", "le ", "date ", "de ", "naissance ", "né", "dat", "e"]
  let s = 77
  const next = (n: number) => Math.floor(((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * n)
  let found = 0
  for (let k = 0; k < 4000; k++) {
    const text = Array.from({ length: next(16) }, () => pieces[next(pieces.length)]!).join("")
    const fast = { EMAIL: 0, TELEPHONE: 0, NIR: 0, IBAN: 0, DATE_NAISSANCE: 0 }
    let plain = 0
    const expected = text.replace(BIRTH, (_m: string, lead: string) => (plain++, `${lead}[DATE_NAISSANCE]`))
    assert.equal(replaceBirthDates(text, fast), expected, JSON.stringify(text))
    assert.equal(fast.DATE_NAISSANCE, plain, JSON.stringify(text))
    found += plain
  }
  assert.ok(found > 200, `${found} dates replaced`)
})
