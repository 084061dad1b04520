import assert from "node:assert/strict"
import { test } from "node:test"
import { base36, DocumentLedger, MemoryDecisions } from "../../operators/corpus/ledger.ts"

const doc = (id: string) => ({ id, contentHash: `hash-${id}`, source: `in.jsonl:${id}`, text: "", lang: "fr", langScore: 0.97 }) as never

test("ledger: a kept document's decision carries its bands (base 36) and tokens, other decisions neither key", () => {
  const l = new DocumentLedger()
  l.keep(doc("a"))
  l.noteBands("a", [0, 35, 2 ** 40 + 7])
  l.note("a", { tokens: 512 })
  l.keep(doc("b"))
  l.drop(doc("c"), "near duplicate", "a", { similarity: 0.9 })
  assert.deepEqual(l.decisionOf("a"), { docId: "a", contentHash: "hash-a", source: "in.jsonl:a", status: "kept", lang: "fr", langScore: 0.97, tokens: 512, bands: ["0", "z", base36(2 ** 40 + 7)] })
  assert.deepEqual(l.decisionOf("b"), { docId: "b", contentHash: "hash-b", source: "in.jsonl:b", status: "kept", lang: "fr", langScore: 0.97 })
  assert.deepEqual(l.decisionOf("c"), { docId: "c", contentHash: "hash-c", source: "in.jsonl:c", status: "duplicate", reason: "near duplicate", duplicateOf: "a", lang: "fr", langScore: 0.97, similarity: 0.9 })
  assert.equal(base36(2 ** 40 + 7), (2 ** 40 + 7).toString(36))
  // A document that has only one of the two facts.
  l.keep(doc("d"))
  l.note("d", { tokens: 3 })
  assert.deepEqual(l.decisionOf("d"), { docId: "d", contentHash: "hash-d", source: "in.jsonl:d", status: "kept", lang: "fr", langScore: 0.97, tokens: 3 })
  assert.deepEqual(l.all().map((d) => d.docId), ["a", "b", "c", "d"])
})

test("ledger: a journal absorbed by another ledger (a Kafka run's job) gives the same decisions", () => {
  const worker = new DocumentLedger()
  worker.startJournal()
  for (const id of ["a", "b", "c"]) {
    worker.see(id)
    worker.process(id)
  }
  worker.keep(doc("a"))
  worker.noteBands("a", [1, 2, 3])
  worker.keep(doc("b"))
  worker.drop(doc("c"), "quality: too few words")
  const first = worker.drainJournal()
  // Tokens come in a later batch, as from the tokenize stage.
  worker.note("a", { tokens: 9 })
  worker.note("b", { tokens: 4 })
  const second = worker.drainJournal()
  const job = new DocumentLedger()
  for (const e of [...first, ...second]) job.absorb(e)
  assert.deepEqual(job.all(), worker.all())
  assert.deepEqual([...job.seen], ["a", "b", "c"])
  assert.deepEqual(job.decisionOf("a"), { docId: "a", contentHash: "hash-a", source: "in.jsonl:a", status: "kept", lang: "fr", langScore: 0.97, bands: ["1", "2", "3"], tokens: 9 })
})

test("ledger: decisions leave for the sink as they are final (a kept one with its token count), and read back in first-decision order", () => {
  const put: Array<[number, string]> = []
  const memory = new MemoryDecisions()
  const l = new DocumentLedger({ put: (order, d) => (put.push([order, d.docId]), memory.put(order, d)), read: () => memory.read() })
  l.noteBands("a", [1, 2])
  l.keep(doc("a"))
  l.drop(doc("b"), "quality: too few words")
  assert.deepEqual(put, [[1, "b"]])
  l.note("a", { tokens: 5 })
  assert.deepEqual(put, [[1, "b"], [0, "a"]])
  // An id decided again after its decision left: the last decision, at the first place.
  l.keep(doc("b"))
  l.keep(doc("c"))
  assert.deepEqual(l.decisionOf("c")?.status, "kept")
  assert.deepEqual(l.all().map((d) => `${d.docId} ${d.status} ${d.tokens ?? "-"} ${d.bands?.join(",") ?? "-"}`), ["a kept 5 1,2", "b kept - -", "c kept - -"])
})

test("ledger ids: with a watch, seen and processed keep only the watched ids and count every distinct one", () => {
  const watched = new Set(["known-1", "known-2"])
  const l = new DocumentLedger(undefined, (id) => watched.has(id))
  for (const id of ["new-1", "known-1", "new-2", "new-1", "known-1", "known-2"]) l.see(id)
  for (const id of ["new-1", "known-2", "new-1"]) l.process(id)
  assert.equal(l.seen.size, 4)
  assert.deepEqual([...l.seen], ["known-1", "known-2"])
  assert.equal(l.seen.has("known-1"), true)
  assert.equal(l.seen.has("new-1"), false, "an unwatched id is not kept")
  assert.equal(l.processed.size, 2)
  assert.deepEqual([...l.processed], ["known-2"])
  // Without a watch every id is kept, as a Set.
  const all = new DocumentLedger()
  for (const id of ["a", "b", "a"]) all.see(id)
  assert.deepEqual([all.seen.size, [...all.seen]], [2, ["a", "b"]])
})
