import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect } from "effect"
import { loadManifest, SAMPLE_MANIFEST } from "../../operators/qa/loaders/manifest.ts"

test("bundled sample data: sizes, multi-answer items, exact extractive spans, no dead letters", async () => {
  const { tasks } = await Effect.runPromise(loadManifest(SAMPLE_MANIFEST))
  const by = Object.fromEntries(tasks.map((t) => [t.task, t]))
  for (const t of tasks) assert.deepEqual(t.deadLetters, [], `${t.task} has dead letters`)
  assert.ok(by.mcqa!.test.length >= 60 && by.extqa!.test.length >= 40 && by.absqa!.test.length >= 40)
  for (const t of tasks) assert.ok(t.train.length >= 10, `${t.task} needs a training pool`)
  const multi = by.mcqa!.test.filter((i) => i.item.task === "mcqa" && i.item.correct.length > 1)
  assert.ok(multi.length >= 10, `only ${multi.length} multi-answer items`)
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
  if (by.extqa) {
    const testContexts = new Set(by.extqa.test.map((i) => (i.item.task === "extqa" ? i.item.context : "")))
    for (const i of by.extqa.train) assert.ok(i.item.task === "extqa" && !testContexts.has(i.item.context))
  }
})
