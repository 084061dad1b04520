// `fleuve model logprobs|generate` and `fleuve train lora` end to end on the tiny fixture.
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, describe, it } from "node:test"
import { tinyDir, tinyReference } from "../helpers/model-fixture.ts"

const work = mkdtempSync(join(tmpdir(), "fleuve-cli-model-"))
after(() => rmSync(work, { recursive: true, force: true }))
const fleuve = (...args: Array<string>) => spawnSync("node", ["bin/fleuve.mjs", ...args], { encoding: "utf8", cwd: join(import.meta.dirname, "..", "..") })

describe("fleuve model / train", () => {
  it("model logprobs prints transformers' log-probs, names bad lines and the backend", () => {
    const ref = tinyReference()
    const input = join(work, "in.jsonl")
    writeFileSync(input, [...ref.scoring.slice(0, 3).map((r, i) => JSON.stringify({ id: `o${i}`, context: r.context, continuation: r.continuation })), "{oops", JSON.stringify({ id: "x", context: 3, continuation: "a" })].join("\n"))
    const r = fleuve("model", "logprobs", "--model", tinyDir, "--input", input, "--backend", "wasm")
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    assert.equal(lines.length, 3)
    lines.forEach((l, i) => {
      assert.equal(l.id, `o${i}`)
      assert.deepEqual(l.token_ids, ref.scoring[i]!.continuation_ids)
      assert.ok(Math.abs(l.logprob - ref.scoring[i]!.logprob) < 1e-3)
      assert.equal(l.greedy, ref.scoring[i]!.greedy)
    })
    assert.match(r.stderr, /backend wasm on CPU/)
    assert.match(r.stderr, /in\.jsonl:4: not JSON/)
    assert.match(r.stderr, /in\.jsonl:5: field 'context' must be a string/)
    assert.equal(r.status, 1)
  })

  it("model generate and train lora run and write what they promise", () => {
    const ref = tinyReference()
    const prompts = join(work, "p.jsonl")
    writeFileSync(prompts, JSON.stringify({ id: 1, prompt: ref.generations[2]!.prompt }))
    const g = fleuve("model", "generate", "--model", tinyDir, "--input", prompts, "--max-new-tokens", "6", "--backend", "cpu")
    assert.deepEqual(JSON.parse(g.stdout).token_ids, ref.generations[2]!.new_ids.slice(0, 6))
    const out = join(work, "adapter")
    const t = fleuve("train", "lora", "--model", tinyDir, "--data", join(tinyDir, "corpus.txt"), "--out", out, "--seq-len", "16", "--steps", "2",
      "--micro-batch", "1", "--grad-accum", "2", "--r", "2", "--alpha", "4", "--targets", "q_proj,v_proj", "--backend", "cpu")
    assert.equal(t.status, 0, t.stderr)
    assert.match(t.stderr, /step 2\/2 {2}loss [\d.]+ .* tokens\/s {2}eta/)
    assert.ok(existsSync(join(out, "final", "adapter_model.safetensors")))
    assert.equal(JSON.parse(t.stdout).steps, 2)
    // With the automatic choice on a machine without GPU, training never lands on wasm (it has no
    // gradient kernel for embeddings): it must pick a backend that can train, and succeed.
    const auto = fleuve("train", "lora", "--model", tinyDir, "--data", join(tinyDir, "corpus.txt"), "--out", join(work, "adapter-auto"), "--seq-len", "16",
      "--steps", "1", "--micro-batch", "1", "--grad-accum", "1", "--r", "2", "--alpha", "4", "--targets", "q_proj")
    assert.equal(auto.status, 0, auto.stderr)
    assert.doesNotMatch(auto.stderr, /backend wasm on/)
  })
})
