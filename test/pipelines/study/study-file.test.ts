// A study file's errors: every kind names the file, the line and the key (docs/study.md).
import assert from "node:assert/strict"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { test } from "node:test"
import { readStudyFile } from "../../../pipelines/study/study-file.ts"
import { tempDir } from "../../helpers/warehouse.ts"

const valid = `version: 1
name: small
base:
  checkpoint: ./model
training:
  dapt: { from: base, data: corpus, steps: 2 }
  unified:
    from: dapt
    data: { tasks: [mcqa] }
    lora: { r: 8 }
    steps: 3
corpus:
  input: ./corpus.jsonl
systems:
  - { name: base, model: base }
  - { name: U, adapter: unified }
datasets:
  manifest: ./manifest.json
analysis: { reference: base }
`

const errorOf = (text: string, name = "study.yaml") => {
  const file = join(tempDir("fleuve-study-file-"), name)
  writeFileSync(file, text)
  try {
    readStudyFile(file)
  } catch (e) {
    return { file, message: (e as Error).message }
  }
  return { file, message: "" }
}

test("a valid study decodes, defaults untouched, paths kept relative to the file", () => {
  const file = join(tempDir("fleuve-study-file-"), "ok.yaml")
  writeFileSync(file, valid)
  const study = readStudyFile(file)
  assert.equal(study.spec.name, "small")
  assert.equal(study.spec.training!.unified!.lora!.r, 8)
  assert.equal(study.text, valid)
})

test("each kind of error reads file:line: key: problem", () => {
  const cases: Array<[string, string, RegExp]> = [
    // a misspelled key: unknown, with the nearest valid name (line of the key)
    [valid.replace("    steps: 3", "    stesp: 3"), "unknown key", /:11: training\.unified\.stesp: unknown key \(did you mean 'steps'\?\)/],
    // a wrong type
    [valid.replace("lora: { r: 8 }", "lora: { r: eight }"), "wrong type", /:10: training\.unified\.lora\.r: Expected (an integer|a number|number)[^\n]*got "eight"/],
    // out of range
    [valid.replace("lora: { r: 8 }", "lora: { r: 0 }"), "out of range", /:10: training\.unified\.lora\.r: [^\n]*0/],
    // a missing key
    [valid.replace("analysis: { reference: base }\n", ""), "missing", /:\d+: analysis: Missing key/],
    // a reference to a stage that does not exist
    [valid.replace("adapter: unified", "adapter: unifed"), "bad reference", /:16: systems\[1\]\.adapter: no training stage named 'unifed' \(did you mean 'unified'\?\)/],
    // a reference system that is not a system
    [valid.replace("reference: base", "reference: bsae"), "bad reference system", /:19: analysis\.reference: no system named 'bsae' \(did you mean 'base'\?\)/],
    // a cycle between stages
    [valid.replace("from: base, data: corpus", "from: unified, data: corpus"), "cycle", /training\.(dapt|unified)\.from: .*(cycle|LoRA adapter)/],
    // YAML that does not parse
    [valid.replace("  - { name: U, adapter: unified }", "  - { name: U, adapter: unified"), "syntax", /:\d+: not valid YAML/],
    // an alias bomb: refused, naming the file, without expanding it
    [`version: 1\na: &a [x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 11 }, (_, i) => `b${i}: &b${i} [${Array(9).fill(i === 0 ? "*a" : `*b${i - 1}`).join(", ")}]`).join("\n")}\n`, "alias bomb", /: not usable YAML: .*alias/],
    // a version this fleuve does not read
    [valid.replace("version: 1", "version: 2"), "version", /:1: version: Expected 1, got 2/]
  ]
  for (const [text, kind, expected] of cases) {
    const { file, message } = errorOf(text)
    assert.ok(message.startsWith(file), `${kind}: ${message}`)
    assert.match(message, expected, kind)
  }
})

test("JSON study files report lines too, and every problem is reported", () => {
  const json = JSON.stringify({ version: 1, name: "j", base: { checkpoint: "m" }, systems: [{ name: "a", model: "base", colour: "red" }], datasets: { manifest: "x" }, analysis: { reference: "a", alpha: 2 } }, null, 2)
  const { message } = errorOf(json, "study.json")
  assert.match(message, /study\.json:\d+: systems\[0\]\.colour: unknown key/)
  assert.match(message, /study\.json:\d+: analysis\.alpha: /)
  assert.equal(message.split("\n").length, 2)
})

test("every study shipped in studies/ decodes; the demo's plans (its files are bundled)", async () => {
  const { readdirSync } = await import("node:fs")
  const { Effect } = await import("effect")
  const { planStudy } = await import("../../../pipelines/study/plan.ts")
  const { repoRoot } = await import("../../helpers/paths.ts")
  const dir = join(repoRoot, "studies")
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f))
  assert.ok(files.includes("demo.yaml") && files.includes("enmed-qwen3-14b.yaml"), files.join(", "))
  for (const f of files) assert.doesNotThrow(() => readStudyFile(join(dir, f)), f)
  const plan = await Effect.runPromise(planStudy(readStudyFile(join(dir, "demo.yaml")), tempDir("fleuve-demo-plan-")))
  assert.deepEqual(plan.steps.filter((s) => s.spec.kind === "score").map((s) => s.id), ["score:base", "score:EnMed-DAPT", "score:EnMed-Unified", "score:EnMed-MCQA", "score:EnMed-ExtQA", "score:EnMed-AbsQA"])
})

test("lora.nf4 (QLoRA) decodes, reaches the training step and moves only that stage's key; a misspelling names it", async () => {
  const { resolveTraining } = await import("../../../pipelines/study/plan.ts")
  const plain = resolveTraining({ lora: { r: 8 } }, { tasks: ["mcqa"] }, 512)
  const qlora = resolveTraining({ lora: { r: 8, nf4: true } }, { tasks: ["mcqa"] }, 512)
  assert.equal(plain.nf4, undefined)
  assert.equal(qlora.nf4, true)
  assert.equal(resolveTraining({ lora: { r: 8, nf4: false } }, { tasks: ["mcqa"] }, 512).nf4, undefined)
  const { hashValue } = await import("../../../pipelines/study/fingerprint.ts")
  assert.notEqual(hashValue(plain), hashValue(qlora))
  // false is the default: the same key as no nf4 at all (studies written before it keep their outputs)
  assert.equal(hashValue(plain), hashValue(resolveTraining({ lora: { r: 8, nf4: false } }, { tasks: ["mcqa"] }, 512)))
  const file = join(tempDir("fleuve-study-nf4-"), "study.yaml")
  writeFileSync(file, valid.replace("lora: { r: 8 }", "lora: { r: 8, nf4: true }"))
  assert.equal(readStudyFile(file).spec.training!.unified!.lora!.nf4, true)
  assert.match(errorOf(valid.replace("lora: { r: 8 }", "lora: { r: 8, nf: true }")).message, /training\.unified\.lora\.nf: unknown key \(did you mean 'nf4'\?\)/)
})

test("a study whose base checkpoint is missing: --dry-run says which study and which path, with no stack trace", async () => {
  const { runCli } = await import("../../helpers/warehouse.ts")
  const dir = tempDir("fleuve-study-missing-")
  const file = join(dir, "study.yaml")
  const { repoRoot } = await import("../../helpers/paths.ts")
  const mcqa = join(repoRoot, "data", "qa", "mcqa", "test.jsonl")
  writeFileSync(file, valid.replace("  manifest: ./manifest.json", `  name: missing-base\n  tasks: { mcqa: { format: frenchmedmcqa, test: ${mcqa} } }`))
  const r = runCli(["study", file, "--dry-run", "--warehouse", join(dir, "w.duckdb")])
  assert.notEqual(r.code, 0)
  assert.ok(r.stderr.includes(`${file}: `), r.stderr)
  assert.match(r.stderr, /model: no such file or folder/)
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace")
})
