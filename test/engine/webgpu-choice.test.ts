// The scoring path on a WebGPU backend without tensor cores: SwiftShader (Vulkan on the CPU) gives
// tfjs a webgpu backend on CI, whose device lacks shader-f16 and subgroup matrices; the engine
// must then be passed over, saying why, and refused when required. Skips where a real adapter
// exists (engine-scorer.test.ts covers that) or SwiftShader is not installed.
import assert from "node:assert/strict"
import { existsSync } from "node:fs"
import { describe, it } from "node:test"
import { openGpu } from "../../gpu/kernels/device.ts"
import { SWIFTSHADER_ICD } from "../helpers/gpu.ts"

const real = await openGpu()
if (real._tag === "Ready") real.gpu.close()
const skip = real._tag === "Ready" ? "a real adapter is present: engine-scorer.test.ts checks the engine on it" : !existsSync(SWIFTSHADER_ICD) ? `no SwiftShader (${SWIFTSHADER_ICD})` : false

describe("scoring path on webgpu without tensor cores (SwiftShader)", { skip }, () => {
  it("passes the engine over with the adapter's reason, and refuses it when required", async () => {
    process.env.VK_DRIVER_FILES = SWIFTSHADER_ICD
    process.env.XDG_RUNTIME_DIR ??= "/tmp"
    const { selectBackend, webgpuEngineGpu, webgpuEngineUnavailable } = await import("../../gpu/backend.ts")
    const { describeScoringPath, ScoringEngineUnavailable, setScoringEngine } = await import("../../gpu/scoring.ts")
    const { loadModelDir } = await import("../../gpu/qwen3/checkpoint.ts")
    const { tinyDir } = await import("../helpers/model-fixture.ts")
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
