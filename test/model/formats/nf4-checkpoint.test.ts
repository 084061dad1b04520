import assert from "node:assert/strict"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { after, describe, it } from "node:test"
import { dequantizeNf4, nf4Absmax } from "../../../model/formats/nf4.ts"
import { openNf4Checkpoint, quantizeCheckpoint } from "../../../model/formats/nf4-checkpoint.ts"
import { openSafetensors } from "../../../model/formats/safetensors-lazy.ts"
import { fixturesDir } from "../../helpers/paths.ts"

// tiny-checkpoint.safetensors (bf16) and bitsandbytes' own NF4 serialisation of it come from
// scripts/fixtures/nf4.py (bitsandbytes 0.50.2, QuantState.as_dict(packed=True)).
const fixtures = join(fixturesDir, "nf4") + "/"
const source = join(fixtures, "tiny-checkpoint.safetensors")
const dir = mkdtempSync(join(tmpdir(), "fleuve-nf4-"))
after(() => rmSync(dir, { recursive: true, force: true }))

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i])

describe("NF4 checkpoint files", () => {
  it("quantises a checkpoint into the same tensors bitsandbytes saves", () => {
    const out = join(dir, "plain.safetensors")
    const report = quantizeCheckpoint(source, out)
    assert.deepEqual({ quantized: report.quantized, copied: report.copied }, { quantized: 2, copied: 2 })
    const ours = openSafetensors(out)
    const theirs = openSafetensors(join(fixtures, "tiny-checkpoint.bnb-nf4.safetensors"))
    try {
      assert.deepEqual([...ours.entries.keys()].sort(), [...theirs.entries.keys()].sort())
      for (const [name, e] of theirs.entries) {
        const mine = ours.entries.get(name)!
        if (name.endsWith(".quant_state.bitsandbytes__nf4")) {
          const parse = (b: Uint8Array) => JSON.parse(Buffer.from(b).toString("utf8"))
          assert.deepEqual(parse(ours.readBytes(name)), parse(theirs.readBytes(name)), name)
          continue
        }
        assert.equal(mine.dtype, e.dtype, name)
        assert.deepEqual([...mine.shape], [...e.shape], name)
        assert.ok(equalBytes(ours.readBytes(name), theirs.readBytes(name)), `${name}: bytes differ from bitsandbytes'`)
      }
      assert.equal(ours.metadata.fleuve_quantization, "nf4")
    } finally {
      ours.close()
      theirs.close()
    }
  })

  it("loads NF4 weights packed, and double-quantised ones within the 8-bit absmax error", () => {
    const plainFile = join(dir, "plain2.safetensors")
    const nestedFile = join(dir, "nested.safetensors")
    quantizeCheckpoint(source, plainFile)
    quantizeCheckpoint(source, nestedFile, { doubleQuant: true })
    const plain = openNf4Checkpoint(plainFile)
    const nested = openNf4Checkpoint(nestedFile)
    try {
      assert.deepEqual([...plain.names].sort(), [
        "model.layers.0.input_layernorm.weight",
        "model.layers.0.mlp.down_proj.weight",
        "model.layers.0.self_attn.q_proj.weight",
        "model.norm.weight"
      ])
      assert.equal(plain.isQuantized("model.norm.weight"), false)
      assert.deepEqual([...plain.shape("model.layers.0.mlp.down_proj.weight")], [64, 192])
      const src = openSafetensors(source)
      assert.deepEqual([...plain.dense("model.norm.weight")], [...src.readF32("model.norm.weight")])
      for (const name of ["model.layers.0.mlp.down_proj.weight", "model.layers.0.self_attn.q_proj.weight"]) {
        const p = plain.nf4(name)
        const n = nested.nf4(name)
        assert.equal(n.stats._tag, "Nested")
        assert.ok(equalBytes(p.packed, n.packed), "the 4-bit indices do not depend on how absmax is stored")
        const a = nf4Absmax(p.stats)
        const b = nf4Absmax(n.stats)
        // 8-bit dynamic code: relative step below 1/64 near the top of each 256-block's range
        a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) <= 0.02 * Math.max(...a), `${name} absmax ${i}: ${v} vs ${b[i]}`))
        const w = src.readF32(name)
        const d = dequantizeNf4(n)
        let err = 0
        let norm = 0
        w.forEach((v, i) => {
          err += (v - d[i]!) ** 2
          norm += v * v
        })
        assert.ok(Math.sqrt(err / norm) < 0.15, `${name}: relative error ${Math.sqrt(err / norm)}`)
      }
      src.close()
    } finally {
      plain.close()
      nested.close()
    }
  })

  it("names the file when a checkpoint is not safetensors", () => {
    const bad = join(dir, "bad.safetensors")
    writeFileSync(bad, Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("{nope")]))
    assert.throws(() => quantizeCheckpoint(bad, join(dir, "x.safetensors")), (e: Error) => e.message.startsWith(bad) && /not JSON/.test(e.message))
  })
})
