import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect } from "effect"
import { contentHashOf } from "../../operators/qa/loaders/index.ts"
import { loadManifest, SAMPLE_MANIFEST } from "../../operators/qa/loaders/manifest.ts"
import { selectExemplars } from "../../operators/qa/prompts/exemplars.ts"
import { fill, loadPromptSet } from "../../operators/qa/prompts/templates.ts"
import { mcqaContinuations, renderPrompt, trainingExample } from "../../operators/qa/prompts/render.ts"
import type { McqaItem } from "../../schemas/qa-item.ts"

const set = loadPromptSet()
const { tasks } = await Effect.runPromise(loadManifest(SAMPLE_MANIFEST))
const by = Object.fromEntries(tasks.map((t) => [t.task, t]))

test("0-shot MCQA prompt follows the EnMed quick start, with the task identifier", () => {
  const item: McqaItem = {
    task: "mcqa",
    id: "card-1",
    question: "Quelle est la principale cause d'insuffisance rénale aiguë en réanimation ?",
    options: ["Glomérulonéphrite aiguë", "Nécrose tubulaire aiguë ischémique", "Pyélonéphrite aiguë", "Lithiase urinaire"],
    correct: ["B"]
  }
  const { prompt } = renderPrompt(set, item, [], 0)
  assert.equal(
    prompt,
    "[Tâche: QCM]\nTu es un expert médical francophone. Réponds à la question suivante en choisissant la meilleure réponse parmi les options proposées.\n\n" +
      "Question: Quelle est la principale cause d'insuffisance rénale aiguë en réanimation ?\n" +
      "A) Glomérulonéphrite aiguë\nB) Nécrose tubulaire aiguë ischémique\nC) Pyélonéphrite aiguë\nD) Lithiase urinaire\nRéponse:"
  )
  assert.deepEqual(mcqaContinuations(set, item), [" Glomérulonéphrite aiguë", " Nécrose tubulaire aiguë ischémique", " Pyélonéphrite aiguë", " Lithiase urinaire"])
  const multi = renderPrompt(set, { ...item, correct: ["B", "C"] }, [], 0).prompt
  assert.match(multi, /la ou les bonnes réponses/)
})

test("k-shot exemplars: deterministic per item id, independent of pool order, nested in k", () => {
  const pool = by.mcqa!.train
  const shuffled = [...pool].reverse()
  for (const { item } of by.mcqa!.test.slice(0, 20)) {
    for (const k of [0, 3, 5]) {
      const a = renderPrompt(set, item, pool, k)
      const b = renderPrompt(set, item, shuffled, k)
      assert.equal(a.prompt, b.prompt)
      assert.equal(a.promptHash, b.promptHash)
      assert.equal(a.exemplarIds.length, k)
    }
    const three = selectExemplars(item.id, pool, 3).map((e) => e.item.id)
    const five = selectExemplars(item.id, pool, 5).map((e) => e.item.id)
    assert.deepEqual(five.slice(0, 3), three)
  }
  // Items differ in their exemplars (seeded by id, not one fixed set for everyone).
  const firstPicks = new Set(by.mcqa!.test.map(({ item }) => selectExemplars(item.id, pool, 3).map((e) => e.item.id).join(",")))
  assert.ok(firstPicks.size > 10, `only ${firstPicks.size} distinct exemplar sets`)
  // Any k works, up to the pool size.
  assert.equal(selectExemplars("x", pool, 7).length, 7)
  assert.equal(selectExemplars("x", pool, 1000).length, pool.length)
})

test("a dataset update changes only the prompts of the items that changed", () => {
  const pool = by.extqa!.train
  const before = by.extqa!.test
  const after = before.map((e, i) => (i % 10 === 0 && e.item.task === "extqa" ? { ...e, item: { ...e.item, question: `${e.item.question} (révisé)` } } : e))
  // One new item in the test set must not shift anyone else's exemplars either.
  const added = [...after, { ...after[1]!, item: { ...after[1]!.item, id: "extqa-new" } }]
  const hash = (items: typeof before) => new Map(items.map(({ item }) => [item.id, renderPrompt(set, item, pool, 3).promptHash]))
  const h0 = hash(before)
  const h1 = hash(added)
  const changed = [...h0.keys()].filter((id) => h0.get(id) !== h1.get(id))
  assert.deepEqual(changed, before.filter((_, i) => i % 10 === 0).map((e) => e.item.id))
  assert.notEqual(contentHashOf(before[0]!.item), contentHashOf(after[0]!.item))
})

test("a pool change moves only the items whose exemplars it touches", () => {
  const pool = by.absqa!.train
  const removed = pool[0]!.item.id
  const smaller = pool.slice(1)
  for (const { item } of by.absqa!.test) {
    const a = selectExemplars(item.id, pool, 3).map((e) => e.item.id)
    const b = selectExemplars(item.id, smaller, 3).map((e) => e.item.id)
    if (!a.includes(removed)) assert.deepEqual(a, b)
    else assert.notDeepEqual(a, b)
  }
})

test("templates: sections, unknown fields, training examples", () => {
  assert.equal(fill("{{#c}}Cas: {{c}}\n{{/c}}Q: {{q}}", { c: undefined, q: "x" }), "Q: x")
  assert.equal(fill("{{#c}}Cas: {{c}}\n{{/c}}Q: {{q}}", { c: "y", q: "x" }), "Cas: y\nQ: x")
  assert.throws(() => fill("{{nope}}", {}), /'nope' is not defined/)
  const ex = trainingExample(set, by.extqa!.train[0]!.item)
  assert.match(ex.prompt, /^\[Tâche: QA extractive\]/)
  assert.ok(ex.prompt.endsWith("Réponse:"))
  const item = by.extqa!.train[0]!.item
  assert.equal(ex.completion, ` ${item.task === "extqa" ? item.answers[0]!.text : ""}`)
})

test("LoRA training sets: one task's pool, or a deterministic multi-task mix with task identifiers", async () => {
  const { trainingExamples } = await import("../../operators/qa/prompts/training-examples.ts")
  const all = ["mcqa", "extqa", "absqa"] as const
  const unified = trainingExamples(set, tasks, all)
  const per = all.map((t) => trainingExamples(set, tasks, [t]))
  assert.equal(unified.length, per.reduce((n, p) => n + p.length, 0))
  assert.ok(per.every((p, i) => p.every((e) => e.task === all[i])))
  assert.deepEqual(trainingExamples(set, [...tasks].reverse(), all).map((e) => e.id), unified.map((e) => e.id))
  // Mixed: the first ten examples are not all of one task.
  assert.ok(new Set(unified.slice(0, 10).map((e) => e.task)).size > 1)
  for (const e of unified) assert.match(e.prompt, /^\[Tâche: (QCM|QA extractive|QA ouverte)\]/)
})
