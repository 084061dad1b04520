import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { loadManifest, SAMPLE_MANIFEST } from "../../operators/qa/loaders/manifest.ts"
import { DEMO_CORPUS, DEMO_HELDOUT_CORPUS, DEMO_TOKENIZER_DIR } from "../../pipelines/demo/demo.ts"
import { buildDemoSample, DEMO_SAMPLE_SEED, ENMED_SIZES, keyOf, SAMPLE_PATHS, withA, withDe } from "../../scripts/data/demo-sample/build.ts"
import { buildCorpusRun } from "../../pipelines/corpus.ts"
import { PipelineRuntime } from "../../pipelines/runtime/runtime.ts"
import { readArrowShard } from "../../operators/writers/arrow-shards.ts"
import { runWithWarehouse, tempDir, tempWarehousePath } from "../helpers/warehouse.ts"

const root = resolve(import.meta.dirname, "../..")
const readJsonl = <A>(path: string): Array<A> => readFileSync(join(root, path), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as A)

interface FactRow {
  id: string
  entity: string
  attribute: string
  value: string
  key: string
  split: "test" | "train"
  items: Array<string>
  docs: Array<string>
  heldOutDocs: Array<string>
}
const facts = readJsonl<FactRow>(SAMPLE_PATHS.facts)
const corpus = readJsonl<{ id: string; text: string }>(SAMPLE_PATHS.corpus)
const heldOut = readJsonl<{ id: string; text: string }>(SAMPLE_PATHS.heldOut)
const { tasks } = await Effect.runPromise(loadManifest(SAMPLE_MANIFEST))
const by = Object.fromEntries(tasks.map((t) => [t.task, t]))
const entityNames = [...new Set(facts.map((f) => f.entity))]
const splitOf = new Map(facts.map((f) => [f.entity, f.split]))

/** The words of a text, lower case, punctuation off (apostrophes split words, as elision does). */
const words = (s: string) => s.toLowerCase().split(/[^\p{L}\p{N}-]+/u).filter((w) => w.length > 0)
const ngrams = (ws: ReadonlyArray<string>, n: number) => ws.slice(0, Math.max(0, ws.length - n + 1)).map((_, i) => ws.slice(i, i + n).join(" "))
const sentences = (text: string) => text.split(/(?<=[.!?])\s+|\n/)
const itemText = (i: (typeof tasks)[number]["test"][number]["item"]) =>
  [i.question, "context" in i ? i.context ?? "" : "", ...(i.task === "mcqa" ? i.options : []), ...(i.task === "absqa" ? [i.reference] : []), ...(i.task === "extqa" ? i.answers.map((a) => a.text) : [])].join(" ")
const entitiesIn = (text: string) => entityNames.filter((n) => text.toLowerCase().includes(n.toLowerCase()))

test("the generator is deterministic and the committed files are its output", () => {
  const a = buildDemoSample()
  const b = buildDemoSample()
  assert.deepEqual([...a.files.keys()].sort(), Object.values(SAMPLE_PATHS).sort())
  for (const [path, content] of a.files) {
    assert.equal(b.files.get(path), content, `${path} differs between two builds`)
    assert.equal(readFileSync(join(root, path), "utf8"), content, `${path}: the committed file is not the generator's output (run node --import tsx scripts/data/build-demo-sample.ts)`)
  }
  // Another seed draws another sample: the seed is what fixes it.
  assert.notEqual(buildDemoSample(19).files.get(SAMPLE_PATHS.mcqaTest), a.files.get(SAMPLE_PATHS.mcqaTest))
  assert.equal(DEMO_CORPUS, join(root, SAMPLE_PATHS.corpus))
  assert.equal(DEMO_HELDOUT_CORPUS, join(root, SAMPLE_PATHS.heldOut))
})

test("French contractions and article stripping", () => {
  assert.deepEqual(
    ["le diabète de type 2", "les nourrissons", "des œdèmes des chevilles", "des nausées", "une toux sèche", "l'asthme", "la migraine", "5 mg par jour"].map(withDe),
    ["du diabète de type 2", "des nourrissons", "d'œdèmes des chevilles", "de nausées", "d'une toux sèche", "de l'asthme", "de la migraine", "de 5 mg par jour"]
  )
  assert.deepEqual(["le taux de TSH", "les adolescents", "la goutte"].map(withA), ["au taux de TSH", "aux adolescents", "à la goutte"])
  assert.deepEqual(["l'épilepsie", "des vertiges", "un électromyogramme", "40 mg un jour sur deux"].map(keyOf), ["épilepsie", "vertiges", "électromyogramme", "40 mg un jour sur deux"])
})

test("sizes: ≥200 MCQA, ≥100 ExtQA, ≥100 AbsQA test items, training pools for every task, no dead letters", () => {
  for (const t of tasks) assert.deepEqual(t.deadLetters, [], `${t.task} has dead letters`)
  assert.deepEqual(tasks.map((t) => [t.task, t.test.length, t.train.length]), [["mcqa", 200, 100], ["extqa", 100, 60], ["absqa", 100, 100]])
  assert.equal(corpus.length, 300)
  assert.equal(heldOut.length, 20)
  assert.equal(facts.length, 500)
  // MCQA: five options, one gold, the gold letter evenly spread (no position to learn).
  const letters = new Map<string, number>()
  for (const { item } of by.mcqa!.test) {
    assert.ok(item.task === "mcqa" && item.options.length === 5 && item.correct.length === 1)
    if (item.task === "mcqa") letters.set(item.correct[0]!, (letters.get(item.correct[0]!) ?? 0) + 1)
  }
  assert.deepEqual([...letters.entries()].sort(), [["A", 40], ["B", 40], ["C", 40], ["D", 40], ["E", 40]])
})

test("every item's gold answer is its fact's value (MCQA option, AbsQA reference, ExtQA span of the context)", () => {
  const factOfItem = new Map(facts.flatMap((f) => f.items.map((id) => [id, f] as const)))
  for (const t of tasks) {
    for (const { item } of [...t.test, ...t.train]) {
      const f = factOfItem.get(item.id)
      assert.ok(f, `${item.id} has no fact`)
      assert.deepEqual(entitiesIn(itemText(item)), [f.entity], `${item.id} must name exactly its own entity`)
      if (item.task === "mcqa") assert.equal(item.options["ABCDE".indexOf(item.correct[0]!)], f.value, item.id)
      if (item.task === "absqa") assert.equal(item.reference, f.value, item.id)
      if (item.task === "extqa") {
        for (const a of item.answers) assert.equal(item.context.slice(a.start, a.start + a.text.length), a.text, item.id)
        assert.equal(item.answers[0]!.text.toLowerCase(), f.key.toLowerCase(), item.id)
      }
    }
  }
})

test("test items are disjoint from both training pools: no shared entity, fact, question or context", () => {
  const testFacts = new Set<string>()
  const trainFacts = new Set<string>()
  const factOfItem = new Map(facts.flatMap((f) => f.items.map((id) => [id, f.id] as const)))
  const trainEntities = new Set<string>()
  const trainTexts = new Set<string>()
  for (const t of tasks) {
    for (const { item } of t.train) {
      for (const e of entitiesIn(itemText(item))) trainEntities.add(e)
      trainFacts.add(factOfItem.get(item.id)!)
      trainTexts.add(item.question)
      if ("context" in item && item.context) trainTexts.add(item.context)
    }
  }
  for (const t of tasks) {
    for (const { item } of t.test) {
      const named = entitiesIn(itemText(item))
      assert.ok(named.length > 0, `${item.id} names no entity`)
      for (const e of named) {
        assert.ok(!trainEntities.has(e), `${item.id} asks about ${e}, which a training item also mentions`)
        assert.equal(splitOf.get(e), "test", item.id)
      }
      // ExtQA questions are about "the patient" and repeat across vignettes: the context is what differs.
      if (item.task !== "extqa") assert.ok(!trainTexts.has(item.question), `${item.id}: question also in a training pool`)
      if ("context" in item && item.context) assert.ok(!trainTexts.has(item.context), `${item.id}: context also in a training pool`)
      testFacts.add(factOfItem.get(item.id)!)
    }
  }
  assert.deepEqual([...testFacts].filter((f) => trainFacts.has(f)), [])
  // MCQA and AbsQA test items: one fact each, never the same fact twice (300 distinct facts).
  const asked = [...by.mcqa!.test, ...by.absqa!.test].map(({ item }) => factOfItem.get(item.id))
  assert.equal(new Set(asked).size, 300)
})

test("every test fact is stated in the corpus, in ≥3 documents with 3 different wordings, none worded like its question", () => {
  const docs = new Map(corpus.map((d) => [d.id, d.text]))
  const corpusNgrams = new Set(corpus.flatMap((d) => ngrams(words(d.text), 6)))
  const questionOf = new Map(tasks.flatMap((t) => t.test.map(({ item }) => [item.id, item.question] as const)))
  let checked = 0
  for (const f of facts.filter((x) => x.split === "test")) {
    // Found in the text itself, not only in the generator's bookkeeping: a sentence naming the
    // entity and holding the value (without its article, since "de" may have contracted it).
    const stating = corpus.flatMap((d) => sentences(d.text).filter((s) => s.includes(f.entity) && s.toLowerCase().includes(f.key.toLowerCase())).map((s) => ({ doc: d.id, s })))
    const inDocs = new Set(stating.map((x) => x.doc))
    assert.ok(inDocs.size >= 3, `${f.id} (${f.entity}: ${f.value}) is stated in ${inDocs.size} document(s)`)
    assert.ok(new Set(stating.map((x) => x.s.replace(f.entity, "E"))).size >= 3, `${f.id} is not paraphrased`)
    for (const id of f.docs) assert.ok(docs.get(id)?.includes(f.entity), `${f.id}: ${id}`)
    for (const id of f.items) {
      const q = questionOf.get(id)
      if (q === undefined || id.startsWith("extqa")) continue
      const shared = ngrams(words(q), 6).filter((g) => corpusNgrams.has(g))
      assert.deepEqual(shared, [], `${id}: question shares wording with the corpus`)
      checked++
    }
  }
  assert.equal(checked, 300)
  // The held-out text restates facts with wordings the corpus never uses.
  for (const d of heldOut) for (const s of sentences(d.text).slice(2, -1)) assert.ok(!corpus.some((c) => c.text.includes(s)), `${d.id}: "${s}" is in the corpus`)
})

test("the corpus pipeline keeps every demo document (DAPT sees every fact)", async () => {
  // As the demo runs it (pipelines/demo/demo.ts dapt): the demo's tokenizer, not incremental.
  const { decisions, report, packed } = await runWithWarehouse(tempWarehousePath(), Effect.gen(function*() {
    const run = yield* buildCorpusRun({ input: DEMO_CORPUS, outDir: join(tempDir(), "shards"), tokenizer: join(DEMO_TOKENIZER_DIR, "tokenizer.json"), sequenceLength: 64, incremental: false })
    const report = yield* (yield* PipelineRuntime).run(run.pipeline, { partitions: 1 })
    return { report, decisions: run.ledger.all(), packed: new Set(run.writer.written.flatMap((f) => readArrowShard(f)).flatMap((s) => s.docIds)) }
  }))
  assert.equal(report.deadLetters.length, 0)
  assert.deepEqual(decisions.filter((d) => d.status !== "kept").map((d) => `${d.docId}: ${d.status} ${d.reason}`), [])
  assert.equal(decisions.length, corpus.length)
  assert.equal(packed.size, corpus.length)
})

test("--sizes enmed writes the EnMed card's test sizes (622/207/248) with training pools and a manifest, test entities apart from training ones", async () => {
  const out = join(tempDir(), "enmed-sized")
  const run = spawnSync(process.execPath, ["--import", "tsx", join(root, "scripts/data/build-demo-sample.ts"), "--sizes", "enmed", "--out", out], { encoding: "utf8" })
  assert.equal(run.status, 0, run.stderr)
  const { tasks: sized } = await Effect.runPromise(loadManifest(join(out, "qa", "manifest.json")))
  assert.deepEqual(sized.map((t) => [t.task, t.test.length, t.train.length, t.deadLetters.length]), [["mcqa", 622, 625, 0], ["extqa", 207, 208, 0], ["absqa", 248, 250, 0]])
  const sizedFacts = readFileSync(join(out, "qa", "facts.jsonl"), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as FactRow)
  assert.equal(sizedFacts.length, 1750)
  // Every item listed on its fact, and only the items kept (the cut ones are nowhere).
  const listed = new Set(sizedFacts.flatMap((f) => f.items))
  const items = sized.flatMap((t) => [...t.test, ...t.train].map(({ item }) => item.id))
  assert.deepEqual([...listed].sort(), [...items].sort())
  const splitOfFact = new Map(sizedFacts.flatMap((f) => f.items.map((id) => [id, f.split] as const)))
  for (const t of sized) {
    for (const { item } of t.test) assert.equal(splitOfFact.get(item.id), "test", item.id)
    for (const { item } of t.train) assert.equal(splitOfFact.get(item.id), "train", item.id)
  }
  assert.equal(readFileSync(join(out, "corpus", "demo.jsonl"), "utf8").trimEnd().split("\n").length, 1050)
  // The same seed writes the same bytes.
  assert.equal(buildDemoSample(DEMO_SAMPLE_SEED, ENMED_SIZES).files.get(SAMPLE_PATHS.mcqaTest), readFileSync(join(out, "qa", "mcqa", "test.jsonl"), "utf8"))
})
