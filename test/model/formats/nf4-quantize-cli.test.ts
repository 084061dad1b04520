import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { after, describe, it } from "node:test"
import { dequantizeNf4 } from "../../../model/formats/nf4.ts"
import { openNf4Checkpoint } from "../../../model/formats/nf4-checkpoint.ts"
import { openSafetensors } from "../../../model/formats/safetensors-lazy.ts"
import { repoRoot } from "../../helpers/paths.ts"

const root = repoRoot
const dir = mkdtempSync(join(tmpdir(), "fleuve-nf4-cli-"))
after(() => rmSync(dir, { recursive: true, force: true }))
const fleuve = (...args: Array<string>) => spawnSync(process.execPath, [join(root, "bin", "fleuve.mjs"), ...args], { cwd: root, encoding: "utf8" })

describe("fleuve nf4-quantize", () => {
  it("quantises the linear layers of a checkpoint with double quantisation and reports what it did", () => {
    const out = join(dir, "tiny-nf4.safetensors")
    const r = fleuve("nf4-quantize", "test/fixtures/nf4/tiny-checkpoint.safetensors", "--out", out, "--double-quant")
    assert.equal(r.status, 0, r.stderr)
    assert.match(r.stdout, /2 tensors in NF4 \(double-quantised absmax\), 2 copied/)
    const ck = openNf4Checkpoint(out)
    const src = openSafetensors(join(root, "test/fixtures/nf4/tiny-checkpoint.safetensors"))
    try {
      const name = "model.layers.0.self_attn.q_proj.weight"
      const w = src.readF32(name)
      const d = dequantizeNf4(ck.nf4(name))
      const err = Math.sqrt(d.reduce((a, v, i) => a + (v - w[i]!) ** 2, 0) / w.reduce((a, v) => a + v * v, 0))
      assert.ok(err < 0.15, `relative error ${err}`)
    } finally {
      ck.close()
      src.close()
    }
  })

  it("fails with the file named when the checkpoint does not exist, and on a bad --include", () => {
    const missing = fleuve("nf4-quantize", join(dir, "nope.safetensors"), "--out", join(dir, "x.safetensors"))
    assert.equal(missing.status, 1)
    assert.match(missing.stderr, /nope\.safetensors: does not exist/)
    const bad = fleuve("nf4-quantize", "test/fixtures/nf4/tiny-checkpoint.safetensors", "--out", join(dir, "y.safetensors"), "--include", "(")
    assert.equal(bad.status, 1)
    assert.match(bad.stderr, /--include: not a regular expression/)
  })
})
