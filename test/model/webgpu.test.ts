// The parity check on a GPU through WebGPU (Dawn over Vulkan), fp32 within 1e-3 of transformers.
// Machines without a GPU adapter skip it with the reason; bench/model/run-gpu.sh runs it on a GPU host.
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { selectBackend } from "../../model/tfjs/backend.ts"
import { loadModelDir } from "../../model/qwen3/checkpoint.ts"
import { scoreContinuations } from "../../model/runtime/scoring.ts"
import { groupByContext, tinyDir, tinyReference } from "../helpers/model-fixture.ts"

const probe = async (): Promise<string | undefined> => {
  try {
    await selectBackend("webgpu")
    return undefined
  } catch (e) {
    return `no WebGPU adapter: ${e instanceof Error ? e.message : String(e)}`
  }
}

const skip = await probe()

describe("Qwen3 parity on WebGPU", () => {
  it("scores within 1e-3 of transformers", { skip: skip ?? false }, async () => {
    const ref = tinyReference()
    const { model, tokenizer } = loadModelDir(tinyDir)
    for (const [context, rows] of groupByContext(ref.scoring)) {
      const s = await scoreContinuations(model, tokenizer, context, rows.map((r) => r.continuation))
      rows.forEach((r, i) => s.options[i]!.tokenLogprobs.forEach((lp, j) => assert.ok(Math.abs(lp - r.token_logprobs[j]!) < 1e-3)))
    }
    model.dispose()
  })
})
