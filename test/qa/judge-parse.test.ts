import assert from "node:assert/strict"
import { test } from "node:test"
import { parseVerdict } from "../../operators/qa/judge/parse-verdict.ts"

const score = (raw: string) => {
  const v = parseVerdict(raw)
  return v._tag === "Score" ? v.score : `unparseable: ${v.reason}`
}

test("verdicts in messy judge outputs", () => {
  const cases: Array<[string, number]> = [
    ["Note: 4", 4],
    ["Note : 4/5", 4],
    ["**Note finale** : **3**", 3],
    ["La réponse est partiellement correcte.\n\nScore: 2 / 5", 2],
    ['{"score": 5, "justification": "complète"}', 5],
    ['```json\n{"note": "3"}\n```', 3],
    ["<think>La référence cite 4 éléments, le candidat 2. Peut-être 2 ? Non, 3.</think>\nNote: 3", 3],
    ["Sur une échelle de 1 à 5, j'attribue 4/5.", 4],
    ["D'abord j'aurais dit Note: 2, mais en relisant la référence… Note: 4", 4],
    ["4", 4],
    ["  **5**.  ", 5],
    ["Je donne quatre sur cinq.", 4],
    ["Évaluation : 1 — réponse dangereuse (contre-indication ignorée).", 1],
    ["Verdict – 2", 2],
    ["La note est de 5 sur 5.", 5],
    ["Note: 3\n\nExplication : les 2 premiers éléments sont présents, il manque le 3e.", 3],
    ["rating=4", 4]
  ]
  for (const [raw, expected] of cases) assert.equal(score(raw), expected, raw)
})

test("outputs that must not yield a score", () => {
  for (const raw of ["", "   ", "<think>je réfléchis encore", "Note: 7", "Note : 3-4", "La réponse est correcte.", "Score: 0/5", "Note: 4.5"]) {
    const v = parseVerdict(raw)
    assert.equal(v._tag, "Unparseable", `${JSON.stringify(raw)} gave ${JSON.stringify(v)}`)
  }
})
