import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect } from "effect"
import { loadManifest, SAMPLE_MANIFEST } from "../../operators/qa/loaders/manifest.ts"

// The bundled sample is generated (scripts/data/build-demo-sample.ts); test/data/demo-sample.test.ts
// checks its design (disjointness by entity and fact, facts stated in the corpus). Here: what the
// loaders see.
test("bundled sample data: sizes, exact extractive spans, no dead letters, pools disjoint from the tests", async () => {
  const { tasks } = await Effect.runPromise(loadManifest(SAMPLE_MANIFEST))
  const by = Object.fromEntries(tasks.map((t) => [t.task, t]))
  for (const t of tasks) assert.deepEqual(t.deadLetters, [], `${t.task} has dead letters`)
  assert.ok(by.mcqa!.test.length >= 200 && by.extqa!.test.length >= 100 && by.absqa!.test.length >= 100)
  for (const t of tasks) assert.ok(t.train.length >= 50, `${t.task} needs a training pool`)
  // Single-answer MCQA with five options: chance is 1/5 for every item.
  for (const { item } of [...by.mcqa!.test, ...by.mcqa!.train]) assert.ok(item.task === "mcqa" && item.options.length === 5 && item.correct.length === 1, item.id)
  for (const { item } of [...by.extqa!.test, ...by.extqa!.train]) {
    assert.equal(item.task, "extqa")
    if (item.task !== "extqa") continue
    for (const a of item.answers) assert.equal(item.context.slice(a.start, a.start + a.text.length), a.text, item.id)
  }
  // Training pools never share an item with the test sets.
  for (const t of tasks) {
    const testQuestions = new Set(t.test.map((i) => `${i.item.question}|${"context" in i.item ? i.item.context : ""}`))
    for (const i of t.train) assert.ok(!testQuestions.has(`${i.item.question}|${"context" in i.item ? i.item.context : ""}`), i.item.id)
  }
  const testContexts = new Set(by.extqa!.test.map((i) => (i.item.task === "extqa" ? i.item.context : "")))
  for (const i of by.extqa!.train) assert.ok(i.item.task === "extqa" && !testContexts.has(i.item.context))
})
