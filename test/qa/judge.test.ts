import assert from "node:assert/strict"
import { after, before, test } from "node:test"
import { Effect } from "effect"
import { loadRubric, rubricMessages, swappedOrderCheck } from "../../operators/qa/judge/judge.ts"
import { OFFLINE_REFERENCE_JUDGE_ID, offlineReferenceJudge, offlineReferenceScore } from "../../operators/qa/judge/offline-reference.ts"
import { openAiCompatibleJudge } from "../../operators/qa/judge/openai-compatible.ts"
import { judgePanel } from "../../operators/qa/judge/panel.ts"
import { serveOpenAiCompatible } from "../helpers/openai-compatible-server.ts"

/**
 * The HTTP judge is exercised against a real HTTP server on localhost. Until the local model
 * runtime lands, the "model" behind it reads the rubric prompt and scores with the offline
 * reference judge, wrapping the verdict in the messy text real judges write.
 */
let server: Awaited<ReturnType<typeof serveOpenAiCompatible>>
let calls = 0
const seenModels: Array<string> = []

before(async () => {
  server = await serveOpenAiCompatible(async (messages, { model }) => {
    calls++
    seenModels.push(model)
    if (model === "flaky" && calls % 2 === 1) throw new Error("transient failure")
    if (model === "mute") return "Je ne peux pas évaluer cette réponse."
    const user = messages.find((m) => m.role === "user")!.content
    const reference = /Réponse de référence: ([^\n]*)/.exec(user)![1]!
    const answer = /Réponse du candidat: ([^\n]*)/.exec(user)![1]!
    const base = offlineReferenceScore(answer === "(réponse vide)" ? "" : answer, reference)
    const score = model === "lenient" ? Math.min(5, base + 1) : base
    return `<think>Je compare la réponse à la référence, sur une échelle de 1 à 5.</think>\nLa réponse couvre une partie des éléments.\n\n**Note** : ${score}/5`
  })
})
after(() => server.close())

const requests = [
  { question: "Quel est l'antidote du paracétamol ?", reference: "La N-acétylcystéine.", answer: "La N-acétylcystéine." },
  { question: "Quel est l'antidote du paracétamol ?", reference: "La N-acétylcystéine.", answer: "La naloxone." },
  { question: "Signes de gravité d'une crise d'asthme ?", reference: "Difficulté à parler, fréquence respiratoire supérieure à 30 par minute, silence auscultatoire.", answer: "Difficulté à parler et silence auscultatoire." },
  { question: "Que faire devant un choc anaphylactique ?", reference: "Adrénaline intramusculaire immédiate.", answer: "" },
  { question: "Qu'est-ce que l'HbA1c ?", reference: "L'hémoglobine glyquée, reflet de la glycémie moyenne sur trois mois.", answer: "Hémoglobine glyquée : glycémie moyenne des trois derniers mois." }
]

test("rubric prompt: both orders carry the same content", () => {
  const rubric = loadRubric()
  const [sys, user] = rubricMessages(rubric, { ...requests[2]!, context: "Patient de 30 ans." })
  assert.equal(sys!.role, "system")
  assert.match(user!.content, /1 = fausse/)
  assert.match(user!.content, /Cas clinique: Patient de 30 ans\./)
  const swapped = rubricMessages(rubric, { ...requests[2]!, order: "answer-first" })[1]!.content
  assert.ok(swapped.indexOf("Réponse du candidat") < swapped.indexOf("Réponse de référence"))
  assert.ok(user!.content.indexOf("Réponse de référence") < user!.content.indexOf("Réponse du candidat"))
})

test("offline reference judge: deterministic 1-5 from token F1, labelled as such", async () => {
  // Hand-checked F1: identical 1 → 5; "naloxone" vs "nacétylcystéine" 0 → 1; P 5/6 R 5/12 → F1 .556 → 3;
  // empty answer → 1; P 6/7 R 6/8 → F1 .8 → 4.
  const verdicts = await Effect.runPromise(Effect.forEach(requests, offlineReferenceJudge.judge))
  assert.deepEqual(verdicts.map((v) => v.score), [5, 1, 3, 1, 4])
  assert.ok(verdicts.every((v) => v.judge === OFFLINE_REFERENCE_JUDGE_ID && v.judge.startsWith("offline-reference")))
})

test("OpenAI-compatible judge over real HTTP: verdict parsed from messy output, identity kept", async () => {
  const judge = openAiCompatibleJudge({ baseUrl: server.url, model: "juge-local" })
  const v = await Effect.runPromise(judge.judge(requests[0]!))
  assert.equal(v.score, 5)
  assert.equal(v.judge, "openai-compatible/juge-local/judge-fr-1")
  assert.match(v.raw, /<think>/)
  assert.ok(seenModels.includes("juge-local"))
})

test("HTTP judge retries transient server errors and refuses unreadable verdicts", async () => {
  calls = 0
  const flaky = openAiCompatibleJudge({ baseUrl: server.url, model: "flaky", retries: 2 })
  assert.equal((await Effect.runPromise(flaky.judge(requests[0]!))).score, 5)
  const mute = openAiCompatibleJudge({ baseUrl: server.url, model: "mute" })
  const failed = await Effect.runPromise(Effect.flip(mute.judge(requests[0]!)))
  assert.equal(failed._tag, "JudgeError")
  assert.match(failed.message, /no 1-5 verdict found.*raw output: Je ne peux pas/)
  const down = openAiCompatibleJudge({ baseUrl: "http://127.0.0.1:9", model: "x", retries: 1, timeoutMs: 2000 })
  assert.match((await Effect.runPromise(Effect.flip(down.judge(requests[0]!)))).message, /127\.0\.0\.1:9/)
})

test("panel of judges: agreement statistics and a swapped-order check", async () => {
  const strict = openAiCompatibleJudge({ baseUrl: server.url, model: "juge-local" })
  const lenient = openAiCompatibleJudge({ baseUrl: server.url, model: "lenient" })
  const panel = await Effect.runPromise(judgePanel([offlineReferenceJudge, strict, lenient], requests))
  assert.deepEqual(panel.scores.get(strict.id), [5, 1, 3, 1, 4])
  assert.deepEqual(panel.scores.get(lenient.id), [5, 2, 4, 2, 5])
  const same = panel.pairs.find((p) => p.a === offlineReferenceJudge.id && p.b === strict.id)!
  assert.equal(same.kappa, 1)
  const shifted = panel.pairs.find((p) => p.b === lenient.id && p.a === strict.id)!
  assert.ok(shifted.kappa < 1 && shifted.kappa > 0, String(shifted.kappa))
  assert.ok(panel.alpha < 1 && panel.alpha > 0)
  const swap = await Effect.runPromise(swappedOrderCheck(strict, requests[2]!))
  assert.equal(swap.consistent, true)
  assert.equal(swap.referenceFirst.order, "reference-first")
  assert.equal(swap.answerFirst.order, "answer-first")
})
