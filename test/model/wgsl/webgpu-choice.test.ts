// The scoring path on a WebGPU backend without tensor cores: SwiftShader (Vulkan on the CPU) gives
// tfjs a webgpu backend on CI, whose device lacks shader-f16 and subgroup matrices; the engine
// must then be passed over, saying why, and refused when required. Skips where a real adapter
// exists (engine-scorer.test.ts covers that) or SwiftShader is not installed.
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { openTestGpu } from "../../helpers/gpu.ts"

// openTestGpu falls back to SwiftShader (setting VK_DRIVER_FILES for the instances made after it)
// where there is no real adapter, and says why where neither opens (no Vulkan loader, no chromium)
const opened = await openTestGpu()
if ("gpu" in opened) opened.gpu.close()
const skip = "gpu" in opened ? (opened.software ? false : "a real adapter is present: engine-scorer.test.ts checks the engine on it") : opened.skip

describe("scoring path on webgpu without tensor cores (SwiftShader)", { skip }, () => {
  it("passes the engine over with the adapter's reason, and refuses it when required", async () => {
    const { selectBackend, webgpuEngineGpu, webgpuEngineUnavailable } = await import("../../../model/tfjs/backend.ts")
    const { describeScoringPath, ScoringEngineUnavailable, setScoringEngine } = await import("../../../model/runtime/scoring.ts")
    const { loadModelDir } = await import("../../../model/qwen3/checkpoint.ts")
    const { tinyDir } = await import("../../helpers/model-fixture.ts")
    const choice = await selectBackend("webgpu")
    assert.equal(choice.backend, "webgpu")
    assert.equal(webgpuEngineGpu(), undefined)
    const reason = "the adapter lacks shader-f16, chromium-experimental-subgroup-matrix (no tensor cores for the WGSL engine)"
    assert.equal(webgpuEngineUnavailable(), reason)
    const { model } = loadModelDir(tinyDir)
    assert.equal(await describeScoringPath(model), `scoring: tfjs runtime (${reason})`)
    setScoringEngine("wgsl")
    await assert.rejects(describeScoringPath(model), (e: unknown) => e instanceof ScoringEngineUnavailable && e.message.endsWith(reason))
    setScoringEngine(undefined)
    // back on the CPU, the engine's device is no longer offered
    await selectBackend("cpu")
    assert.equal(webgpuEngineUnavailable(), "the tensor backend is cpu, not webgpu")
    model.dispose()
  })
})
