// The report's opening (report/opening.ts) and its held-out loss table (report/heldout-loss.ts).
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type { FigureContext } from "../../report/figures/common.ts"
import { heldoutLossTable } from "../../report/heldout-loss.ts"
import { type OpeningTest, openingSentences } from "../../report/opening.ts"

const ctx: FigureContext = {
  reference: "base",
  systems: ["base", "A", "B"],
  colors: [],
  tasks: [{ task: "mcqa", metric: "acc", higherIsBetter: true }, { task: "absqa", metric: "judge", higherIsBetter: true }, { task: "ppl", metric: "ppl", higherIsBetter: false }],
  shots: [0, 3]
}
const t = (system: string, task: string, shots: number, meanDiff: number, statistic: number | null, pBh: number | null, n = 100): OpeningTest => ({ task, shots, system, n, meanDiff, statistic, pBh })

describe("openingSentences", () => {
  it("says what was compared and that nothing is significant", () => {
    const [first, second] = openingSentences({ sample: "The demo sample", reference: "base", alpha: 0.05, tests: [t("A", "mcqa", 0, 0.02, 0.5, 0.6), t("B", "mcqa", 0, 0, null, null)] }, ctx)
    assert.equal(first, "The demo sample: 2 systems compared with base in 1 cell (mcqa (acc), absqa (judge), ppl (ppl) × 0/3 shots, 100 items per cell), 2 paired differences in all.")
    assert.equal(second, "No difference against base is significant after the Benjamini–Hochberg adjustment (paired t-tests, α = 0.05).")
  })
  it("counts the significant differences, better and worse by the metric's direction, and names the strongest by standardised effect", () => {
    const tests = [
      t("A", "mcqa", 0, 0.05, 2.0, 0.04, 200), // d = 0.14
      t("A", "absqa", 3, 0.9, 6.0, 1e-6, 100), // d = 0.6: the strongest, though not the largest |t|·√n
      t("B", "absqa", 0, 0.3, 7.0, 1e-7, 400), // d = 0.35
      t("B", "ppl", 3, 0.4, 3.0, 0.01, 100), // a higher perplexity is worse
      t("B", "mcqa", 3, -0.1, -1.5, 0.2, 200) // not significant
    ]
    const [first, second] = openingSentences({ sample: "S.", reference: "base", alpha: 0.05, tests }, ctx)
    assert.equal(first, "S: 2 systems compared with base in 5 cells (mcqa (acc), absqa (judge), ppl (ppl) × 0/3 shots, 100–400 items per cell), 5 paired differences in all.")
    assert.equal(second, "4 of the 5 paired differences against base are significant after the Benjamini–Hochberg adjustment (paired t-tests, α = 0.05; 3 better, 1 worse); the strongest is A on absqa 3-shot, +0.900 judge (adjusted p = 1.0e-6).")
  })
  it("follows the α it is given", () => {
    const [, second] = openingSentences({ sample: "S", reference: "base", alpha: 0.01, tests: [t("A", "mcqa", 0, 0.05, 2.5, 0.03)] }, ctx)
    assert.match(second, /^No difference .* α = 0\.01\)\.$/)
  })
})

describe("heldoutLossTable", () => {
  const row = (system: string, meanNll: number, textsHash = "h1") => ({
    system, modelId: system, modelRevision: "r", adapterHash: "none", textsHash, textsSource: "heldout.jsonl", seqLen: 64, texts: 20, sequences: 92, tokens: 5796, meanNll, perplexity: Math.exp(meanNll)
  })
  it("lists the systems lowest loss first, with the difference from the reference", () => {
    const table = heldoutLossTable([row("base", 6.5), row("EnMed-DAPT", 1.25)], "base")!
    assert.deepEqual(table.header, ["System", "Loss", "Perplexity", "Δ vs base", "Tokens"])
    assert.deepEqual(table.rows, [["EnMed-DAPT", "1.250", "3.49", "−5.250", "5796"], ["base (reference)", "6.500", "665.14", "0.000", "5796"]])
  })
  it("names the texts when several were measured, and is absent when nothing was", () => {
    const table = heldoutLossTable([row("base", 2, "h1"), row("base", 3, "h2"), row("A", 1, "h2")], "base")!
    assert.equal(table.header.at(-1), "Texts")
    assert.deepEqual(table.rows.map((r) => [r[0], r[3]]), [["base (reference)", "0.000"], ["A", "−2.000"], ["base (reference)", "0.000"]])
    assert.equal(heldoutLossTable([], "base"), undefined)
  })
})
