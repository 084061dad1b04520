// probeFreeGpuMemory: how much of what is asked can be allocated now, and that it gives it back.
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { probeFreeGpuMemory } from "../../../model/wgsl/kernels/free-memory.ts"
import { openTestGpu } from "../../helpers/gpu.ts"

const t = await openTestGpu()
// SwiftShader (Vulkan on the CPU) stands in where there is no GPU; neither: skip, saying why
const skip = t.skip === false ? false : `no WebGPU adapter, nor SwiftShader: ${t.skip}`
after(() => (t.skip === false ? t.gpu.close() : undefined))

const MiB = 2 ** 20

describe("probeFreeGpuMemory", () => {
  it("holds 256 MiB in 64 MiB chunks, twice in a row (the first probe's memory came back)", { skip }, async () => {
    if (t.skip !== false) return
    const device = t.gpu.device
    assert.equal(await probeFreeGpuMemory(device, { wantedBytes: 256 * MiB, chunkBytes: 64 * MiB }), 256 * MiB)
    assert.equal(await probeFreeGpuMemory(device, { wantedBytes: 256 * MiB, chunkBytes: 64 * MiB }), 256 * MiB)
  })

  it("never more than asked: a last chunk smaller, and 0 for 0", { skip }, async () => {
    if (t.skip !== false) return
    const device = t.gpu.device
    assert.equal(await probeFreeGpuMemory(device, { wantedBytes: 100 * MiB + 3, chunkBytes: 64 * MiB }), 100 * MiB + 3)
    assert.equal(await probeFreeGpuMemory(device, { wantedBytes: 0 }), 0)
  })
})
