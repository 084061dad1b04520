// `fleuve study` end to end on CPU with a small study: the real CLI, real training, a real DuckDB
// file. A rerun does nothing; one changed hyperparameter reruns exactly its steps; changed items
// are the only requests answered again; a SIGKILL during training resumes to the same adapter.
import assert from "node:assert/strict"
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { Effect } from "effect"
import { Warehouse } from "../../../warehouse/warehouse.ts"
import { repoRoot } from "../../helpers/paths.ts"
import { runCli, runCliAsync, runWithWarehouse, tempDir } from "../../helpers/warehouse.ts"
import { serveOpenAiCompatible } from "../../helpers/openai-compatible-server.ts"
import { offlineReferenceScore } from "../../../operators/qa/judge/offline-reference.ts"

const data = (p: string) => join(repoRoot, "data", p)

interface Knobs {
  readonly lr?: string
  readonly adapterSteps?: number
  /** A `judges:` section. */
  readonly judges?: string
  /** Adds a DAPT by LoRA merged into the base, and its system. */
  readonly merged?: boolean
}

/** A small study over the bundled sample: its test items copied (so a test can edit them), 4 per task, 0 shots. */
const writeStudy = (dir: string, k: Knobs = {}) => {
  const qa = join(dir, "qa")
  for (const task of ["mcqa", "extqa", "absqa"]) {
    mkdirSync(join(qa, task), { recursive: true })
    if (!existsSync(join(qa, task, "test.jsonl"))) {
      const lines = readFileSync(data(`qa/${task}/test.jsonl`), "utf8").split("\n").filter((l) => l.trim() !== "").slice(0, 4)
      writeFileSync(join(qa, task, "test.jsonl"), `${lines.join("\n")}\n`)
    }
  }
  const file = join(dir, "small.yaml")
  writeFileSync(file, `version: 1
name: small
corpus: { input: ${data("corpus/demo.jsonl")}, sequenceLength: 32 }
base:
  scratch:
    tokenizer: ${data("demo-tokenizer")}
    seed: 7
    shape: { hiddenSize: 32, intermediateSize: 64, layers: 1, heads: 2, kvHeads: 1, headDim: 16, contextWindow: 96 }
    pretrain: { data: ${data("general-fr/prose.txt")}, steps: 2, effectiveBatch: 2, maxTokens: 32, learningRate: 3.0e-3, warmupRatio: 0 }
training:
  dapt: { from: base, data: corpus, steps: 2, effectiveBatch: 2, learningRate: 3.0e-3, warmupRatio: 0 }
  mcqa: { from: dapt, data: { tasks: [mcqa] }, lora: { r: 4, alpha: 8 }, steps: ${k.adapterSteps ?? 2}, effectiveBatch: 2, maxTokens: 96, learningRate: ${k.lr ?? "1.0e-3"}, warmupRatio: 0, checkpointEvery: 4 }
  absqa: { from: dapt, data: { tasks: [absqa] }, lora: { r: 4, alpha: 8 }, steps: 2, effectiveBatch: 2, maxTokens: 96, learningRate: 1.0e-3, warmupRatio: 0 }
${k.merged ? "  dapt-lora: { from: base, data: corpus, lora: { r: 4, alpha: 8 }, merge: true, steps: 2, effectiveBatch: 2, learningRate: 3.0e-3, warmupRatio: 0 }\n  after-merge: { from: dapt-lora, data: { tasks: [mcqa] }, lora: { r: 4, alpha: 8 }, steps: 1, effectiveBatch: 2, maxTokens: 96 }\n" : ""}systems:
  - { name: base, model: base }
  - { name: DAPT, model: dapt }
  - { name: MCQA, adapter: mcqa }
  - { name: AbsQA, adapter: absqa }
  - { name: char-3gram, baseline: char-3gram }
${k.merged ? "  - { name: DAPT-LoRA, model: dapt-lora }\n  - { name: After-merge, adapter: after-merge }\n" : ""}datasets:
  name: small-sample
  tasks:
    mcqa: { format: frenchmedmcqa, test: qa/mcqa/test.jsonl, train: ${data("qa/mcqa/train.jsonl")} }
    extqa: { format: squad, test: qa/extqa/test.jsonl, train: ${data("qa/extqa/train.jsonl")} }
    absqa: { format: mediqal-oeq, test: qa/absqa/test.jsonl, train: ${data("qa/absqa/train.jsonl")} }
shots: [0]
decoding: { maxNewTokens: 4 }
analysis: { reference: base, tests: [mcnemar] }
${k.judges ?? ""}`)
  return file
}

const ran = (stderr: string) => [...stderr.matchAll(/^ {2}(\S+) +ran\b/gm)].map((m) => m[1]).sort()

const lastSummary = (db: string, step: string) =>
  runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    const rows = yield* w.query<{ summary: string }>("SELECT CAST(summary AS VARCHAR) AS summary FROM study_steps WHERE step = $1 AND status = 'succeeded' ORDER BY finished_at DESC LIMIT 1", [step])
    return JSON.parse(rows[0]!.summary) as { scored: Record<string, number>; current: number; requests: number }
  }))

test("a small study runs end to end; a rerun does nothing; one changed learning rate reruns exactly its steps; changed items are the only ones scored again", { timeout: 300_000 }, async () => {
  const dir = tempDir("fleuve-study-")
  const db = join(dir, "w.duckdb")
  const out = join(dir, "out")
  const file = writeStudy(dir)
  const first = runCli(["study", file, "--warehouse", db, "--out", out])
  assert.equal(first.code, 0, first.stderr)
  assert.equal(first.stdout.trim(), join(out, "report.html"))
  const all = ["analyze", "base", "corpus", "report", "score:AbsQA", "score:DAPT", "score:MCQA", "score:base", "score:char-3gram", "train:absqa", "train:dapt", "train:mcqa"]
  assert.deepEqual(ran(first.stderr), all)
  assert.ok(existsSync(join(out, "report.html")))
  assert.match(readFileSync(join(out, "report.md"), "utf8"), /^# Evaluation report: small\n/, "the report names its study")
  assert.ok(existsSync(join(out, "models", "mcqa", "adapter_model.safetensors")))
  // The study as it was run: its text, its plan (every step and key) and the versions of everything.
  const [recorded] = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ study: string; content: string; steps: number; node: string; fleuve: string }>(
      "SELECT study, content, json_array_length(plan)::INT AS steps, versions->>'node' AS node, versions->>'fleuve' AS fleuve FROM studies"
    )
  }))
  assert.equal(recorded!.study, "small")
  assert.equal(recorded!.content, readFileSync(file, "utf8"))
  assert.equal(recorded!.steps, 12)
  assert.equal(recorded!.node, process.version)
  assert.match(recorded!.fleuve, /^\d+\.\d+\.\d+/)
  const tests = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return (yield* w.query<{ test: string }>("SELECT DISTINCT test FROM paired_tests ORDER BY test")).map((r) => r.test)
  }))
  assert.deepEqual(tests, ["mcnemar", "t"], "analysis.tests: McNemar asked for, the t-test always")
  const grid = await lastSummary(db, "score:base")
  assert.equal(grid.requests, 5 * 3 * 4, "5 systems × 3 tasks × 4 items × 1 shot count")

  // Unchanged: nothing runs, and it says so.
  const again = runCli(["study", file, "--warehouse", db, "--out", out])
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual(ran(again.stderr), [])
  assert.match(again.stderr, /every step is done with the same inputs and settings; nothing to run/)
  const dry = runCli(["study", file, "--warehouse", db, "--out", out, "--dry-run"])
  assert.match(dry.stdout, /every step is done: a run would do nothing/)

  // One adapter's learning rate: that adapter, its system's grid rows, the analyses and the report.
  writeStudy(dir, { lr: "2.0e-3" })
  const planned = runCli(["study", file, "--warehouse", db, "--out", out, "--dry-run"])
  assert.match(planned.stdout, /train:mcqa +to run/)
  assert.match(planned.stdout, /train:absqa +done/)
  const lr = runCli(["study", file, "--warehouse", db, "--out", out])
  assert.equal(lr.code, 0, lr.stderr)
  assert.deepEqual(ran(lr.stderr), ["analyze", "report", "score:MCQA", "train:mcqa"])
  const mcqaGrid = await lastSummary(db, "score:MCQA")
  assert.equal(Object.values(mcqaGrid.scored).reduce((a, b) => a + b, 0), 3 * 4, "only the retrained system's 12 requests")

  // Two MCQA items edited: every system's score step is keyed anew, and only those items are answered.
  const mcqa = join(dir, "qa", "mcqa", "test.jsonl")
  const lines = readFileSync(mcqa, "utf8").trimEnd().split("\n").map((l, i) => {
    if (i > 1) return l
    const item = JSON.parse(l) as { question: string }
    return JSON.stringify({ ...item, question: `${item.question} (reformulée)` })
  })
  writeFileSync(mcqa, `${lines.join("\n")}\n`)
  const items = runCli(["study", file, "--warehouse", db, "--out", out])
  assert.equal(items.code, 0, items.stderr)
  assert.deepEqual(ran(items.stderr), ["analyze", "report", "score:AbsQA", "score:DAPT", "score:MCQA", "score:base", "score:char-3gram"])
  const edited = await lastSummary(db, "score:base")
  assert.deepEqual(edited.scored, { mcqa: 2 * 5 }, "2 items × 5 systems")
})

test("SIGKILL during an adapter's training: the rerun resumes from its checkpoint and ends with the adapter an uninterrupted run makes", { timeout: 300_000 }, async () => {
  const straightDir = tempDir("fleuve-study-straight-")
  const straight = runCli(["study", writeStudy(straightDir, { adapterSteps: 16 }), "--warehouse", join(straightDir, "w.duckdb"), "--out", join(straightDir, "out"), "--only", "base"])
  assert.equal(straight.code, 0, straight.stderr)
  const full = runCli(["study", join(straightDir, "small.yaml"), "--warehouse", join(straightDir, "w.duckdb"), "--out", join(straightDir, "out")])
  assert.equal(full.code, 0, full.stderr)

  const dir = tempDir("fleuve-study-killed-")
  const file = writeStudy(dir, { adapterSteps: 16 })
  const db = join(dir, "w.duckdb")
  const out = join(dir, "out")
  // Killed once the adapter has its first checkpoint (step 4 of 16).
  const killed = await new Promise<{ signal: NodeJS.Signals | null; stderr: string }>((resolveRun) => {
    const child = spawn(process.execPath, [join(repoRoot, "bin/fleuve.mjs"), "study", file, "--warehouse", db, "--out", out])
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const poll = setInterval(() => {
      const steps = join(out, "steps")
      const dirs = existsSync(steps) ? readdirSync(steps).filter((d) => d.startsWith("train-mcqa-")) : []
      if (dirs.some((d) => existsSync(join(steps, d, "checkpoint-000004")))) {
        clearInterval(poll)
        child.kill("SIGKILL")
      }
    }, 20)
    child.on("close", (_code, signal) => (clearInterval(poll), resolveRun({ signal, stderr })))
  })
  assert.equal(killed.signal, "SIGKILL", `the run ended before it could be killed:\n${killed.stderr}`)
  const resumed = runCli(["study", file, "--warehouse", db, "--out", out])
  assert.equal(resumed.code, 0, resumed.stderr)
  assert.match(resumed.stderr, /train:mcqa +ran .*resumed from .*checkpoint-0000\d\d/)
  const adapter = (o: string) => readFileSync(join(o, "models", "mcqa", "adapter_model.safetensors"))
  assert.ok(adapter(out).equals(adapter(join(straightDir, "out"))), "the resumed adapter differs from the uninterrupted one")
  // The killed run is recorded as interrupted once its process is found gone.
  const statuses = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ status: string; n: number }>("SELECT status, count(*)::INT AS n FROM runs WHERE command LIKE 'study%' GROUP BY ALL ORDER BY ALL")
  }))
  assert.ok(statuses.some((s) => s.status === "interrupted"), JSON.stringify(statuses))
})

test("a judge panel and the swapped-order check measure agreement on the reference's AbsQA answers", { timeout: 300_000 }, async () => {
  // A second judge over HTTP: the offline reference score, one point more lenient, read from the rubric prompt.
  const server = await serveOpenAiCompatible(async (messages) => {
    const user = messages.find((m) => m.role === "user")!.content
    const reference = /Réponse de référence: ([^\n]*)/.exec(user)![1]!
    const answer = /Réponse du candidat: ([^\n]*)/.exec(user)![1]!
    return `Note : ${Math.min(5, offlineReferenceScore(answer === "(réponse vide)" ? "" : answer, reference) + 1)}/5`
  })
  try {
    const dir = tempDir("fleuve-study-judges-")
    const db = join(dir, "w.duckdb")
    const file = writeStudy(dir, { judges: `judges:\n  panel:\n    - { kind: offline-reference }\n    - { kind: endpoint, url: "${server.url}", model: lenient }\n  swappedOrder: true\n  sample: 4\n` })
    const r = await runCliAsync(["study", file, "--warehouse", db, "--out", join(dir, "out")])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /judges: Krippendorff's alpha -?\d\.\d{3} over 2 judges/)
    assert.match(r.stderr, /judges: swapped order: \d of 4 scores unchanged/)
    const [row] = await runWithWarehouse(db, Effect.gen(function*() {
      const w = yield* Warehouse
      return yield* w.query<{ summary: string }>("SELECT CAST(summary AS VARCHAR) AS summary FROM study_steps WHERE step = 'judges' AND status = 'succeeded'")
    }))
    const summary = JSON.parse(row!.summary) as { items: number; agreement: { pairs: Array<{ n: number }> }; swapped: { judged: number } }
    assert.equal(summary.items, 4)
    assert.equal(summary.agreement.pairs[0]!.n, 4)
    assert.equal(summary.swapped.judged, 4)
  } finally {
    await server.close()
  }
})

test("a first Ctrl-C checkpoints the training step under way, records it interrupted and says how to resume; the rerun resumes", { timeout: 300_000 }, async () => {
  const dir = tempDir("fleuve-study-sigint-")
  const file = writeStudy(dir, { adapterSteps: 40 })
  const db = join(dir, "w.duckdb")
  const out = join(dir, "out")
  const stopped = await new Promise<{ code: number | null; stderr: string }>((resolveRun) => {
    const child = spawn(process.execPath, [join(repoRoot, "bin/fleuve.mjs"), "study", file, "--warehouse", db, "--out", out])
    let stderr = ""
    let sent = false
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
      // Once the adapter is training (its first progress line), one Ctrl-C.
      if (!sent && /mcqa: step \d+\/40/.test(stderr)) {
        sent = true
        child.kill("SIGINT")
      }
    })
    child.on("close", (code) => resolveRun({ code, stderr }))
  })
  assert.notEqual(stopped.code, 0, stopped.stderr)
  assert.match(stopped.stderr, /stopping: the step under way is checkpointed and recorded as interrupted; run the same command again to resume/)
  const [step] = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ status: string }>("SELECT status FROM study_steps WHERE step = 'train:mcqa'")
  }))
  assert.equal(step!.status, "interrupted")
  const resumed = runCli(["study", file, "--warehouse", db, "--out", out])
  assert.equal(resumed.code, 0, resumed.stderr)
  assert.match(resumed.stderr, /train:mcqa +ran .*over 40 steps \(resumed from .*checkpoint-0000\d\d\)/)
})

test("--max-record-bytes reaches the study's readers: a longer QA line is a dead letter, the others are scored", { timeout: 120_000 }, async () => {
  const dir = tempDir("fleuve-study-limit-")
  mkdirSync(join(dir, "qa"), { recursive: true })
  const lines = readFileSync(data("qa/mcqa/test.jsonl"), "utf8").split("\n").filter((l) => l.trim() !== "").slice(0, 3)
  const long = JSON.stringify({ ...JSON.parse(lines[1]!), question: `${"Très longue question ".repeat(40)}?` })
  writeFileSync(join(dir, "qa", "test.jsonl"), `${lines[0]}\n${long}\n${lines[2]}\n`)
  const file = join(dir, "limit.yaml")
  writeFileSync(file, `version: 1
name: limit
base: { checkpoint: ${join(repoRoot, "test/fixtures/qwen3-tiny")} }
systems:
  - { name: char-3gram, baseline: char-3gram }
  - { name: char-4gram, baseline: char-4gram }
datasets:
  name: limit-sample
  tasks: { mcqa: { format: frenchmedmcqa, test: qa/test.jsonl, train: ${data("qa/mcqa/train.jsonl")} } }
shots: [0]
analysis: { reference: char-3gram }
`)
  const db = join(dir, "w.duckdb")
  const r = runCli(["study", file, "--warehouse", db, "--out", join(dir, "out"), "--max-record-bytes", "600"])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /1 malformed item\(s\) kept in dead_letters/)
  const [dead] = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ reason: string }>("SELECT reason FROM dead_letters")
  }))
  assert.match(dead!.reason, /maximum record size of 600 bytes/)
  const grid = await lastSummary(db, "score:char-3gram")
  assert.equal(grid.requests, 2 * 2, "2 systems × the 2 items within the limit")
})

test("a LoRA stage with merge: true hands on a plain checkpoint: later stages start from it, a system scores it", { timeout: 300_000 }, async () => {
  const dir = tempDir("fleuve-study-merge-")
  const db = join(dir, "w.duckdb")
  const out = join(dir, "out")
  const r = runCli(["study", writeStudy(dir, { merged: true }), "--warehouse", db, "--out", out])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /train:dapt-lora +ran .*LoRA pairs merged into base/)
  const merged = join(out, "models", "dapt-lora")
  assert.ok(existsSync(join(merged, "model.safetensors")) && existsSync(join(merged, "tokenizer.json")))
  assert.ok(!readFileSync(join(merged, "model.safetensors")).subarray(0, 20000).toString("latin1").includes("lora_"), "the merged checkpoint carries no LoRA tensors")
  const rows = await runWithWarehouse(db, Effect.gen(function*() {
    const w = yield* Warehouse
    return yield* w.query<{ system: string; n: number }>("SELECT system, count(*)::INT AS n FROM scores WHERE system IN ('DAPT-LoRA', 'After-merge') GROUP BY ALL ORDER BY ALL")
  }))
  assert.deepEqual(rows.map((x) => x.system), ["After-merge", "DAPT-LoRA"])
})
