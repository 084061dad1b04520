import assert from "node:assert/strict"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { scrubPii } from "../../operators/corpus/pii.ts"
import { alphabeticWordsRatio, qualityProblem } from "../../operators/corpus/quality.ts"
import { tempDir, tempWarehousePath } from "../helpers/warehouse.ts"
import { clinicalLetters } from "./clinical-letters.ts"
import { runCorpus } from "./helpers.ts"

test("clinical letters with contact details and lab values: false-drop rate of the quality filters is 0 of 30, before or after PII scrubbing", () => {
  const letters = clinicalLetters(30)
  const dropped = (texts: ReadonlyArray<string>) => texts.map((t) => qualityProblem(t)).filter((p) => p !== undefined)
  // The rule alone (numbers in groups are one word, punctuation is no word) keeps them all…
  assert.deepEqual(dropped(letters.map((l) => l.text)), [])
  // …and so does the pipeline's order (PII scrubbed first).
  assert.deepEqual(dropped(letters.map((l) => scrubPii(l.text).text)), [])
  // Gopher's rule as written (every whitespace token a word) would drop them: measured, not assumed.
  const gopher = (t: string) => {
    const words = t.split(/\s+/).filter((w) => w.length > 0)
    return words.filter((w) => /\p{L}/u.test(w)).length / words.length
  }
  const naive = letters.filter((l) => gopher(l.text) < 0.8).length
  assert.ok(naive >= 15, `Gopher's literal rule drops ${naive} of 30`)
})

test("alphabetic-word ratio: digit groups of one number count once, symbols not at all, prose unchanged", () => {
  assert.equal(alphabeticWordsRatio("Tél. : 04 72 11 22 33 — Fax".split(" ")), 2 / 3)
  assert.equal(alphabeticWordsRatio("la dose est de 1 000 mg".split(" ")), 5 / 6)
  assert.equal(alphabeticWordsRatio("12 34 56 78 90 12 34".split(" ")), 0)
  assert.equal(alphabeticWordsRatio("une phrase ordinaire".split(" ")), 1)
})

test("the corpus pipeline keeps every planted clinical letter (PII scrubbed, then quality filters)", async () => {
  const dir = tempDir()
  const input = join(dir, "letters.jsonl")
  writeFileSync(input, clinicalLetters(30).map((l) => JSON.stringify(l)).join("\n") + "\n")
  const { rows, run } = await runCorpus(tempWarehousePath(), { input })
  assert.equal(rows.length, 30)
  assert.deepEqual(rows.filter((r) => r.status !== "kept").map((r) => `${r.doc_id}: ${r.reason}`), [])
  const names = run.tallies.map((t) => t.name)
  assert.ok(names.indexOf("pii") < names.indexOf("quality"), `order: ${names.join(", ")}`)
  const pii = run.tallies.find((t) => t.name === "pii")!.snapshot()
  assert.ok((pii.counters.TELEPHONE ?? 0) >= 60 && (pii.counters.NIR ?? 0) === 30, JSON.stringify(pii.counters))
})
