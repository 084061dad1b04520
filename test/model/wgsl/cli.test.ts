// `fleuve model logprobs --engine`: the scoring path on stderr, and a required engine that cannot
// run (no GPU here; the tiny fixture's sizes do not fit it either) failing with its reason.
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, describe, it } from "node:test"
import { tinyDir, tinyReference } from "../../helpers/model-fixture.ts"
import { repoRoot } from "../../helpers/paths.ts"

const work = mkdtempSync(join(tmpdir(), "fleuve-cli-engine-"))
after(() => rmSync(work, { recursive: true, force: true }))
const fleuve = (env: Record<string, string>, ...args: Array<string>) =>
  spawnSync("node", ["bin/fleuve.mjs", ...args], { encoding: "utf8", cwd: repoRoot, env: { ...process.env, ...env } })

describe("fleuve model logprobs --engine", () => {
  const input = join(work, "in.jsonl")
  const ref = tinyReference().scoring.slice(0, 2)
  writeFileSync(input, ref.map((r, i) => JSON.stringify({ id: i, context: r.context, continuation: r.continuation })).join("\n"))

  it("says the tfjs runtime scores, and why", () => {
    const r = fleuve({}, "model", "logprobs", "--model", tinyDir, "--input", input, "--backend", "cpu")
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /fleuve: scoring: tfjs runtime \(the tensor backend is cpu, not webgpu\)/)
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l))
    lines.forEach((l, i) => assert.ok(Math.abs(l.logprob - ref[i]!.logprob) < 1e-3))
  })

  it("fails, saying why, when the engine is required (flag or environment), and obeys --engine tfjs over the environment", () => {
    for (const [env, args] of [[{}, ["--engine", "wgsl"]], [{ FLEUVE_SCORING_ENGINE: "wgsl" }, []]] as const) {
      const r = fleuve(env, "model", "logprobs", "--model", tinyDir, "--input", input, "--backend", "cpu", ...args)
      assert.equal(r.status, 1)
      assert.equal(r.stdout, "")
      assert.match(r.stderr, /the WGSL scoring engine was required \(--engine wgsl \/ FLEUVE_SCORING_ENGINE=wgsl\) but cannot run: the tensor backend is cpu, not webgpu/)
    }
    const r = fleuve({ FLEUVE_SCORING_ENGINE: "wgsl" }, "model", "logprobs", "--model", tinyDir, "--input", input, "--backend", "cpu", "--engine", "tfjs")
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stderr, /scoring: tfjs runtime \(asked for/)
  })
})
