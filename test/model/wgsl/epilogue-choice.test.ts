// The scoring forward's choice of matmul epilogues (model/wgsl/epilogue-choice.ts): on a card with
// tensor cores, each epilogue must reproduce its separate pass there (the probe's check), and the
// probe records why it chose what it chose, with both paths' times. Card only: the epilogues exist
// only on the tensor-core tiles, and the engine needs shader-f16, which SwiftShader lacks.
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { epilogueDecisions, gateUpEpilogue, pickEpilogue, swigluEpilogue } from "../../../model/wgsl/epilogue-choice.ts"
import { fusedKernels } from "../../../model/wgsl/kernels/fused.ts"
import { matmulPlan } from "../../../model/wgsl/kernels/matmul.ts"
import { tokenKernels } from "../../../model/wgsl/token-kernels.ts"
import { needs, openTestGpu } from "../../helpers/gpu.ts"

const opened = await openTestGpu()

describe("matmul epilogue choice", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const gpu = opened.gpu
  after(() => gpu.close())
  const noTensorCores = needs(gpu, "tensor-cores")

  for (const format of ["f16", "nf4"] as const) {
    it(`${format} weights: the SwiGLU epilogue reproduces up + SwiGLU on this card, and the probe times both`, { skip: noTensorCores }, async () => {
      delete process.env.FLEUVE_SWIGLU_EPILOGUE
      const [up, fused] = await Promise.all([matmulPlan(gpu, format), fusedKernels(gpu, 128)])
      const shape = { M: 1024, N: 3072, K: 1024 }
      const chosen = await swigluEpilogue(gpu, format, up, fused, shape)
      const d = epilogueDecisions.find((e) => e.key === `swiglu|${format}|1024x3072x1024`)
      assert.ok(d, "the probe recorded its decision")
      assert.match(d.why, /^reproduces the separate pass/, d.why)
      assert.ok(d.ms && d.ms.separate > 0 && d.ms.epilogue > 0, JSON.stringify(d.ms))
      assert.equal(chosen !== undefined, d.ms.epilogue < d.ms.separate)
    })
  }

  for (const format of ["f16", "nf4"] as const) {
    it(`${format} weights: the gate-up epilogue over interleaved weights reproduces gate + up + SwiGLU on this card, and the probe times both`, { skip: noTensorCores }, async () => {
      delete process.env.FLEUVE_GATE_UP_EPILOGUE
      const [mm, fused] = await Promise.all([matmulPlan(gpu, format), fusedKernels(gpu, 128)])
      const shape = { M: 1024, N: 3072, K: 1024 }
      const chosen = await gateUpEpilogue(gpu, format, mm, fused, shape)
      const d = epilogueDecisions.find((e) => e.key === `gate-up|${format}|1024x3072x1024`)
      assert.ok(d, "the probe recorded its decision")
      assert.match(d.why, /^reproduces the separate pass/, d.why)
      assert.ok(d.ms && d.ms.separate > 0 && d.ms.epilogue > 0, JSON.stringify(d.ms))
      assert.equal(chosen !== undefined, d.ms.epilogue < d.ms.separate)
    })
  }

  it("the pick epilogue reproduces the lm_head + pick on this card, and the probe times both", { skip: noTensorCores }, async () => {
    delete process.env.FLEUVE_PICK_EPILOGUE
    const [head, tok] = await Promise.all([matmulPlan(gpu, "f16"), tokenKernels(gpu)])
    const shape = { M: 1024, N: 32768, K: 1024 }
    const chosen = await pickEpilogue(gpu, head, tok, shape)
    const d = epilogueDecisions.find((e) => e.key === "pick|1024x32768x1024")
    assert.ok(d, "the probe recorded its decision")
    assert.match(d.why, /^reproduces the separate pass/, d.why)
    assert.ok(d.ms && d.ms.separate > 0 && d.ms.epilogue > 0, JSON.stringify(d.ms))
    assert.equal(chosen !== undefined, d.ms.epilogue < d.ms.separate)
  })
})
