import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, describe, it } from "node:test"
import { tinyDir } from "../../../helpers/model-fixture.ts"
import { repoRoot } from "../../../helpers/paths.ts"

// `fleuve train --engine`: its help, the stderr line naming the path, and --engine wgsl refusing
// where the WGSL trainer cannot run (the tiny model on the cpu backend).
const work = mkdtempSync(join(tmpdir(), "fleuve-train-engine-cli-"))
after(() => rmSync(work, { recursive: true, force: true }))
const fleuve = (...args: Array<string>) => spawnSync("node", ["bin/fleuve.mjs", ...args], { encoding: "utf8", cwd: repoRoot })
const tinyRun = (out: string, ...more: Array<string>) =>
  fleuve("train", "lora", "--model", tinyDir, "--data", join(tinyDir, "corpus.txt"), "--out", join(work, out), "--seq-len", "16", "--steps", "1",
    "--micro-batch", "1", "--grad-accum", "1", "--r", "2", "--alpha", "4", "--targets", "q_proj", "--backend", "cpu", ...more)

describe("fleuve train --engine", () => {
  it("--help explains the choice and shows the WGSL trainer", () => {
    for (const sub of ["lora", "dapt"]) {
      const h = fleuve("train", sub, "--help")
      assert.equal(h.status, 0, h.stderr)
      assert.match(h.stdout, /--engine/)
      assert.match(h.stdout, /auto uses fleuve's WGSL trainer/)
    }
    assert.match(fleuve("train", "lora", "--help").stdout, /fleuve train lora .*--engine wgsl --micro-batch 16/)
    const dapt = fleuve("train", "dapt", "--help").stdout
    assert.match(dapt, /every weight trains, the \(tied\) embeddings and norms included/)
    assert.match(dapt, /fleuve train dapt .*--engine wgsl/)
  })

  it("prints the path and why; --engine wgsl fails saying why; a bad name is refused", () => {
    const auto = tinyRun("auto")
    assert.equal(auto.status, 0, auto.stderr)
    assert.match(auto.stderr, /fleuve: training: tfjs runtime \(the tensor backend is cpu, not webgpu\)/)
    const tfjs = tinyRun("tfjs", "--engine", "tfjs")
    assert.match(tfjs.stderr, /training: tfjs runtime \(asked for \(--engine tfjs\)\)/)
    assert.equal(tfjs.status, 0, tfjs.stderr)
    const wgsl = tinyRun("wgsl", "--engine", "wgsl")
    assert.equal(wgsl.status, 1)
    assert.match(wgsl.stderr, /the WGSL trainer was required \(--engine wgsl\) but cannot run: the tensor backend is cpu, not webgpu/)
    assert.ok(!existsSync(join(work, "wgsl", "final")))
    const badDropout = tinyRun("bad-dropout", "--dropout", "1")
    assert.equal(badDropout.status, 1)
    assert.match(badDropout.stderr, /--dropout 1: a probability in \[0, 1\)/)
    // DAPT (full-parameter) takes the same choice: the WGSL trainer is required and cannot run on cpu
    const daptRun = (out: string, ...more: Array<string>) =>
      fleuve("train", "dapt", "--model", tinyDir, "--data", join(tinyDir, "corpus.txt"), "--out", join(work, out), "--seq-len", "16", "--steps", "1",
        "--micro-batch", "1", "--grad-accum", "1", "--backend", "cpu", ...more)
    const daptWgsl = daptRun("dapt-wgsl", "--engine", "wgsl")
    assert.equal(daptWgsl.status, 1)
    assert.match(daptWgsl.stderr, /the WGSL trainer was required \(--engine wgsl\) but cannot run: the tensor backend is cpu, not webgpu/)
    assert.ok(!existsSync(join(work, "dapt-wgsl", "final")))
    const daptAuto = daptRun("dapt-auto")
    assert.equal(daptAuto.status, 0, daptAuto.stderr)
    assert.match(daptAuto.stderr, /fleuve: training: tfjs runtime \(the tensor backend is cpu, not webgpu\)/)
    assert.ok(existsSync(join(work, "dapt-auto", "final", "model.safetensors")))
    const bad = tinyRun("bad", "--engine", "cuda")
    assert.notEqual(bad.status, 0)
    assert.match(bad.stderr + bad.stdout, /engine/)
  })
})
