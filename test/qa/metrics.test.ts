import assert from "node:assert/strict"
import { test } from "node:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { krippendorffAlpha, weightedKappa } from "../../operators/qa/judge/agreement.ts"
import { normalizeFrench, NORMALISATION_VERSION } from "../../operators/qa/metrics/french-normalize.ts"
import { continuationLengths, predictedSet, scoreMcqa } from "../../operators/qa/metrics/mcqa.ts"
import { exactMatch, squadScores, tokenF1 } from "../../operators/qa/metrics/squad.ts"

const fixture = <A>(name: string): A => JSON.parse(readFileSync(join(import.meta.dirname, "../fixtures/qa-metrics", name), "utf8"))
const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`)

test("French normalisation, hand-checked", () => {
  assert.equal(NORMALISATION_VERSION, "fr-squad-1")
  assert.equal(normalizeFrench("L’artère coronaire droite"), "artère coronaire droite")
  assert.equal(normalizeFrench("d'effort"), "effort")
  assert.equal(normalizeFrench("« Dyspnée » !"), "dyspnée")
  assert.equal(normalizeFrench("aujourd’hui"), "aujourdhui") // d' inside a word is not an article
  assert.equal(normalizeFrench("Les ECG de l’adulte"), "ecg adulte")
  assert.equal(normalizeFrench("la\u00a0TSH\u202fà 38 mUI/L"), "tsh à 38 muil")
  assert.equal(normalizeFrench("AUX urgences"), "urgences")
  assert.equal(normalizeFrench("délai"), "délai") // "de" only as a whole word
})

test("SQuAD F1/EM, hand-checked", () => {
  assert.equal(tokenF1("artère coronaire", "l’artère coronaire droite"), 0.8) // P=1, R=2/3
  assert.equal(tokenF1("Le diagnostic est une varicelle", "varicelle"), 0.5) // P=1/3, R=1
  assert.equal(exactMatch("L'artère coronaire droite", "l’artère coronaire droite"), 1)
  assert.equal(tokenF1("sulfate sulfate", "sulfate"), 2 / 3) // multiset: only one shared token
  assert.equal(tokenF1("", "bisoprolol"), 0)
  assert.deepEqual(squadScores("varices œsophagiennes", ["des varices œsophagiennes de grade 3", "varices œsophagiennes"]), { f1: 1, em: 1 })
})

test("SQuAD F1/EM match the official script with the French normaliser (fixture)", () => {
  for (const c of fixture<Array<{ prediction: string; golds: Array<string>; normalized: string; f1: number; em: number }>>("squad-fr.json")) {
    assert.equal(normalizeFrench(c.prediction), c.normalized, c.prediction)
    const s = squadScores(c.prediction, c.golds)
    close(s.f1, c.f1)
    assert.equal(s.em, c.em, c.prediction)
  }
})

test("MCQA acc / acc_norm / acc_bytes / Hamming / EMR, hand-checked", () => {
  const opt = (logprob: number, text: string) => ({ logprob, tokens: 1, greedy: false, ...continuationLengths(text) })
  assert.deepEqual(continuationLengths(" Nécrose tubulaire aiguë ischémique"), { chars: 35, bytes: 38 }) // é, ë, é take two bytes each
  // A -3/2 chars; B -20/35; C -2.6 over 5 chars but 9 bytes; D -1.2/3.
  const options = [opt(-3, " x"), opt(-20, " Nécrose tubulaire aiguë ischémique"), opt(-2.6, " éééé"), opt(-1.2, " ab")]
  // argmax: D; per char: D (-0.4) beats C (-0.52); per byte: C (-0.289) beats D (-0.4).
  const s = scoreMcqa(options, ["C"])
  assert.deepEqual([s.acc, s.acc_norm, s.acc_bytes], [0, 0, 1])
  assert.deepEqual(scoreMcqa(options, ["D"]).acc_norm, 1)
  // p = softmax(ll) = [.117, 0, .175, .708]: only D reaches 1/4.
  assert.deepEqual(s.predicted, ["D"])
  assert.deepEqual([s.hamming, s.emr], [0, 0])
  // Multi-answer: p ≈ [.348, .315, .006, .331, 0] ≥ 1/5 → {A, B, D}.
  const multi = [-1, -1.1, -5, -1.05, -9].map((l) => opt(l, " option"))
  assert.deepEqual(predictedSet(multi), ["A", "B", "D"])
  const m = scoreMcqa(multi, ["A", "D"])
  close(m.hamming, 2 / 3)
  assert.equal(m.emr, 0)
  assert.equal(m.acc, 1)
  assert.deepEqual([scoreMcqa(multi, ["A", "B", "D"]).hamming, scoreMcqa(multi, ["A", "B", "D"]).emr], [1, 1])
})

test("MCQA metrics match lm-evaluation-harness formulas (fixture)", () => {
  type Case = { options: Array<{ logprob: number; chars: number; bytes: number }>; continuations: Array<string>; gold: Array<string>; acc: number; acc_norm: number; acc_bytes: number; predicted: Array<string>; hamming: number; emr: number }
  for (const c of fixture<Array<Case>>("mcqa.json")) {
    c.continuations.forEach((t, i) => assert.deepEqual(continuationLengths(t), { chars: c.options[i]!.chars, bytes: c.options[i]!.bytes }))
    const s = scoreMcqa(c.options.map((o) => ({ ...o, tokens: 1, greedy: false })), c.gold)
    assert.deepEqual([s.acc, s.acc_norm, s.acc_bytes, s.emr], [c.acc, c.acc_norm, c.acc_bytes, c.emr])
    assert.deepEqual(s.predicted, c.predicted)
    close(s.hamming, c.hamming)
  }
})

test("judge agreement: weighted kappa and Krippendorff alpha match sklearn and krippendorff (fixture)", () => {
  type Case = { a: Array<number>; b: Array<number>; c: Array<number | null>; kappa_quadratic: number; kappa_linear: number; alpha_ordinal: number; alpha_interval: number }
  for (const c of fixture<Array<Case>>("agreement.json")) {
    close(weightedKappa(c.a, c.b, [1, 2, 3, 4, 5], "quadratic"), c.kappa_quadratic)
    close(weightedKappa(c.a, c.b, [1, 2, 3, 4, 5], "linear"), c.kappa_linear)
    const data = [c.a, c.b, c.c.map((x) => x ?? undefined)]
    close(krippendorffAlpha(data, "ordinal"), c.alpha_ordinal)
    close(krippendorffAlpha(data, "interval"), c.alpha_interval)
  }
  // Hand-checked: perfect agreement is 1; all-constant ratings are undefined, never a fake number.
  assert.equal(weightedKappa([1, 2, 5], [1, 2, 5], [1, 2, 3, 4, 5]), 1)
  assert.ok(Number.isNaN(krippendorffAlpha([[3, 3], [3, 3]])))
})
