// An adapter written by `fleuve train lora`, loaded by PEFT (scripts/fixtures/qwen3_peft_check.py):
// fleuve's adapted log-probs must equal PEFT's, and the files must have the layout PEFT reads.
import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, it } from "node:test"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { loadAdapter } from "../../model/qwen3/lora.ts"
import { loadModelDir } from "../../model/qwen3/checkpoint.ts"
import { readSafetensors } from "../../model/formats/safetensors.ts"
import { scoreContinuations } from "../../model/runtime/scoring.ts"
import { groupByContext, type ScoringRef, tinyDir } from "../helpers/model-fixture.ts"

const adapterDir = join(tinyDir, "..", "qwen3-tiny-lora")

describe("PEFT-compatible LoRA adapter", () => {
  it("has the file names, keys and config PEFT loads", () => {
    const config = JSON.parse(readFileSync(join(adapterDir, "adapter_config.json"), "utf8"))
    for (const [k, v] of Object.entries({ peft_type: "LORA", task_type: "CAUSAL_LM", bias: "none", fan_in_fan_out: false, use_dora: false, use_rslora: false })) {
      assert.deepEqual(config[k], v, k)
    }
    const { tensors, metadata } = readSafetensors(join(adapterDir, "adapter_model.safetensors"))
    assert.equal(metadata.format, "pt")
    for (const key of tensors.keys()) assert.match(key, /^base_model\.model\.model\.layers\.\d+\.(self_attn|mlp)\.[a-z_]+_proj\.lora_[AB]\.weight$/)
    assert.equal(tensors.size, 2 * 2 * config.target_modules.length)
  })

  for (const backend of ["cpu", "cpu-fused"] as const) it(`scores with the adapter as PEFT does, within 1e-4, on ${backend}`, async () => {
    await selectBackend(backend)
    const ref: { scoring: Array<ScoringRef> } = JSON.parse(readFileSync(join(adapterDir, "peft_reference.json"), "utf8"))
    const { model, tokenizer } = loadModelDir(tinyDir)
    loadAdapter(model, adapterDir)
    for (const [context, rows] of groupByContext(ref.scoring)) {
      const s = await scoreContinuations(model, tokenizer, context, rows.map((r) => r.continuation))
      rows.forEach((r, i) => s.options[i]!.tokenLogprobs.forEach((lp, j) => assert.ok(Math.abs(lp - r.token_logprobs[j]!) < 1e-4, `${r.continuation}[${j}]: ${lp} vs ${r.token_logprobs[j]}`)))
    }
    model.dispose()
  })
})
