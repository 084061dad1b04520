import assert from "node:assert/strict"
import { test } from "node:test"
import { Effect } from "effect"
import { join } from "node:path"
import { parquetWriteFile } from "hyparquet-writer"
import { contentHashOf, type FieldMapping, loadQaFile, type QaFormat } from "../../operators/qa/loaders/index.ts"
import { describeDeadLetter } from "../../operators/operator.ts"
import { tempDir } from "../helpers/warehouse.ts"

const dir = join(import.meta.dirname, "../fixtures/qa-loaders")
const load = (file: string, format: QaFormat, mapping?: FieldMapping) =>
  Effect.runPromise(loadQaFile(join(dir, file), format, { dataset: "t", ...(mapping ? { mapping } : {}) }))

const lineOf = (d: { position: { _tag: string } }) => (d.position as unknown as { line: number }).line

test("FrenchMedMCQA raw JSON: valid items load, malformed ones are dead letters with line and field", async () => {
  const { items, deadLetters } = await load("frenchmedmcqa.json", "frenchmedmcqa")
  assert.deepEqual(items.map((i) => i.item.id), ["fm-1", "fm-2"])
  const multi = items[1]!.item
  assert.equal(multi.task, "mcqa")
  if (multi.task === "mcqa") {
    assert.deepEqual(multi.correct, ["A", "C", "E"])
    assert.deepEqual(multi.options, ["Apixaban", "Warfarine", "Rivaroxaban", "Clopidogrel", "Dabigatran"])
  }
  assert.equal(deadLetters.length, 4)
  const byLine = new Map(deadLetters.map((d) => [lineOf(d), d]))
  assert.equal(byLine.get(18)?.field, "nbr_correct_answers")
  assert.match(byLine.get(18)!.reason, /declares 2 correct answer\(s\) but lists 1/)
  assert.equal(byLine.get(26)?.field, "correct_answers")
  assert.match(byLine.get(26)!.reason, /'F'/)
  assert.match(byLine.get(34)!.reason, /malformed JSON/)
  assert.equal(byLine.get(35)?.field, "question")
  assert.match(describeDeadLetter(byLine.get(35)!), /frenchmedmcqa\.json:35 field 'question': missing field 'question'/)
  // The rejected record is kept, not only its reason.
  assert.match(byLine.get(35)!.record, /fm-6/)
})

test("DrBenchmark columns answer_a..answer_e, a gap in the options, and a duplicate id", async () => {
  const { items, deadLetters } = await load("drbenchmark.jsonl", "drbenchmark")
  assert.equal(items.length, 1)
  const item = items[0]!.item
  assert.equal(item.task === "mcqa" && item.options.length, 5)
  assert.equal(deadLetters.length, 2)
  assert.equal(deadLetters[0]!.field, "answer_b")
  assert.equal(lineOf(deadLetters[0]!), 2)
  assert.match(deadLetters[1]!.reason, /duplicate id 'dr-1'/)
  assert.equal(lineOf(deadLetters[1]!), 3)
})

test("MediQAl mcqm, mcqu and oeq", async () => {
  const mcqm = await load("mediqal-mcqm.jsonl", "mediqal-mcqm")
  assert.equal(mcqm.items.length, 1)
  const m = mcqm.items[0]!.item
  assert.ok(m.task === "mcqa" && m.context?.startsWith("Une femme de 34 ans"))
  assert.deepEqual(m.task === "mcqa" && m.correct, ["A", "B"])
  assert.equal(m.meta?.medical_subject, "Urologie")
  assert.equal(mcqm.deadLetters[0]!.field, "correct_answers")

  const mcqu = await load("mediqal-mcqu.jsonl", "mediqal-mcqu")
  assert.equal(mcqu.items.length, 1)
  assert.match(mcqu.deadLetters[0]!.reason, /exactly one correct answer/)

  const oeq = await load("mediqal-oeq.jsonl", "mediqal-oeq")
  assert.equal(oeq.items.length, 1)
  assert.ok(oeq.items[0]!.item.task === "absqa" && oeq.items[0]!.item.reference === "Une varicelle.")
  assert.equal(oeq.deadLetters[0]!.field, "answer")
  assert.equal(lineOf(oeq.deadLetters[0]!), 2)
})

test("SQuAD layout: spans are checked against their offsets, never repaired", async () => {
  const { items, deadLetters } = await load("squad.jsonl", "squad")
  assert.deepEqual(items.map((i) => i.item.id), ["sq-1", "sq-2"])
  const first = items[0]!.item
  if (first.task === "extqa") assert.equal(first.context.slice(first.answers[0]!.start, first.answers[0]!.start + first.answers[0]!.text.length), "35 %")
  assert.equal(deadLetters.length, 2)
  assert.equal(deadLetters[0]!.field, "answers.answer_start")
  assert.match(deadLetters[0]!.reason, /not at offset \d+ .*occurs at \d+/)
  assert.match(deadLetters[1]!.reason, /not in the context/)

  const nested = await load("squad-nested.json", "squad")
  assert.deepEqual(nested.items.map((i) => i.item.id), ["ns-1", "ns-2"])
  assert.equal(nested.deadLetters.length, 0)
})

test("generic JSONL and Parquet through a field mapping", async () => {
  const mapping = { task: "mcqa", id: "qid", question: "prompt", options: "choices", correct: "gold" } as const
  const { items, deadLetters } = await load("generic.jsonl", "generic", mapping)
  assert.equal(items.length, 1)
  assert.deepEqual(items[0]!.item.task === "mcqa" && items[0]!.item.options, ["Foie", "Pancréas", "Rate"])
  assert.equal(deadLetters[0]!.field, "choices")

  const file = join(tempDir(), "abs.parquet")
  parquetWriteFile({
    filename: file,
    columnData: [
      { name: "uid", data: ["p-1", "p-2"], type: "STRING" },
      { name: "q", data: ["Qu'est-ce qu'une HbA1c ?", "Sans référence"], type: "STRING" },
      { name: "ref", data: ["L'hémoglobine glyquée, reflet de la glycémie moyenne sur trois mois.", null], type: "STRING" }
    ]
  })
  const parquet = await Effect.runPromise(loadQaFile(file, "generic", { dataset: "p", mapping: { task: "absqa", id: "uid", question: "q", reference: "ref" } }))
  assert.equal(parquet.items.length, 1)
  assert.equal(parquet.deadLetters.length, 1)
  assert.equal(parquet.deadLetters[0]!.field, "ref")
  assert.equal(lineOf(parquet.deadLetters[0]!), 2)
})

test("content hash: stable, ignores meta, changes with any scored field", async () => {
  const { items } = await load("frenchmedmcqa.json", "frenchmedmcqa")
  const item = items[0]!.item
  assert.equal(items[0]!.contentHash, contentHashOf(item))
  assert.match(items[0]!.contentHash, /^[0-9a-f]{64}$/)
  assert.equal(contentHashOf({ ...item, meta: { other: 1 } }), items[0]!.contentHash)
  assert.notEqual(contentHashOf({ ...item, question: `${item.question} ` }), items[0]!.contentHash)
  // Key order of the source does not matter.
  const reordered = Object.fromEntries(Object.entries(item).reverse()) as typeof item
  assert.equal(contentHashOf(reordered), items[0]!.contentHash)
})

test("generic loader refuses an incomplete mapping up front", async () => {
  await assert.rejects(
    Effect.runPromise(loadQaFile(join(dir, "generic.jsonl"), "generic", { mapping: { task: "extqa", id: "qid", question: "prompt" } })),
    /needs 'context'/
  )
})
