// `fleuve train merge`: a LoRA adapter merged into its base gives a plain checkpoint that, loaded
// without the adapter, scores as PEFT scores base + adapter (scripts/fixtures/qwen3_peft_check.py).
import assert from "node:assert/strict"
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { describe, it } from "node:test"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { loadAdapter } from "../../model/qwen3/lora.ts"
import { loadModelDir, saveMergedModelDir } from "../../model/qwen3/checkpoint.ts"
import { readSafetensors } from "../../model/formats/safetensors.ts"
import { scoreContinuations } from "../../model/runtime/scoring.ts"
import { groupByContext, type ScoringRef, tinyDir } from "../helpers/model-fixture.ts"
import { tempDir } from "../helpers/warehouse.ts"

const adapterDir = join(tinyDir, "..", "qwen3-tiny-lora")
const root = resolve(import.meta.dirname, "../..")
const ref: { scoring: Array<ScoringRef> } = JSON.parse(readFileSync(join(adapterDir, "peft_reference.json"), "utf8"))

const scoresAsPeft = async (dir: string, tolerance: number) => {
  const { model, tokenizer } = loadModelDir(dir)
  assert.equal(model.lora.size, 0)
  for (const [context, rows] of groupByContext(ref.scoring)) {
    const s = await scoreContinuations(model, tokenizer, context, rows.map((r) => r.continuation))
    rows.forEach((r, i) => s.options[i]!.tokenLogprobs.forEach((lp, j) => assert.ok(Math.abs(lp - r.token_logprobs[j]!) < tolerance, `${r.continuation}[${j}]: ${lp} vs PEFT ${r.token_logprobs[j]}`)))
  }
  model.dispose()
}

describe("merging a LoRA adapter into its base", () => {
  it("saves a checkpoint without LoRA keys that scores as PEFT's base + adapter, within 1e-4", async () => {
    await selectBackend("cpu")
    const loaded = loadModelDir(tinyDir)
    loadAdapter(loaded.model, adapterDir)
    const out = join(tempDir(), "merged")
    const { merged } = await saveMergedModelDir(loaded, out)
    const pairs = JSON.parse(readFileSync(join(adapterDir, "adapter_config.json"), "utf8")).target_modules.length * loaded.model.config.numLayers
    assert.equal(merged, pairs)
    loaded.model.dispose()
    const { tensors } = readSafetensors(join(out, "model.safetensors"))
    assert.deepEqual([...tensors.keys()].filter((k) => k.includes("lora")), [])
    for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json"]) assert.ok(existsSync(join(out, f)), f)
    // The base alone differs from PEFT's adapted scores (the merge is what makes them agree).
    await assert.rejects(scoresAsPeft(tinyDir, 1e-4))
    await scoresAsPeft(out, 1e-4)
  })

  it("fleuve train merge writes it from the command line (bf16), and names a missing adapter", async () => {
    const out = join(tempDir(), "merged-cli")
    const run = spawnSync(process.execPath, [join(root, "bin/fleuve.mjs"), "train", "merge", "--model", tinyDir, "--adapter", adapterDir, "--out", out, "--dtype", "bf16", "--backend", "cpu"], { encoding: "utf8" })
    assert.equal(run.status, 0, run.stderr)
    assert.match(run.stdout, /"kind":"merge"/)
    assert.match(readFileSync(join(out, "config.json"), "utf8"), /"dtype": "bfloat16"/)
    await selectBackend("cpu")
    await scoresAsPeft(out, 5e-2) // bf16 weights: close, not exact
    const bad = spawnSync(process.execPath, [join(root, "bin/fleuve.mjs"), "train", "merge", "--model", tinyDir, "--adapter", join(tempDir(), "nope"), "--out", join(tempDir(), "x"), "--backend", "cpu"], { encoding: "utf8" })
    assert.notEqual(bad.status, 0)
    assert.match(bad.stderr, /nope/)
  })
})
