import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { pipeline, readBuffer, storageBuffer, type Dispatch } from "../../../../model/wgsl/kernels/buffers.ts"
import { gpuMsEach } from "../../../../model/wgsl/kernels/profile.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"

// gpuMsEach times lists of dispatches by the GPU's timestamps (auto's choice of the forward
// attention rests on it): here on whatever adapter the machine has (SwiftShader on CI, which
// offers timestamp queries too).
const opened = await openTestGpu()

const skip = opened.skip === false ? false : `no WebGPU adapter, nor SwiftShader: ${opened.skip}`
after(() => (opened.skip === false ? opened.gpu.close() : undefined))

describe("gpuMsEach (model/wgsl/kernels/profile.ts)", { skip }, async () => {
  if (opened.skip !== false) return
  const { gpu } = opened
  // each invocation a dependent chain of multiply-adds: work that scales with the dispatches
  const busy = await pipeline(gpu.device, `@group(0) @binding(0) var<storage, read_write> x: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  var v = x[id.x];
  for (var i = 0u; i < 4096u; i++) { v = v * 0.999 + 0.001; }
  x[id.x] = v;
}`, "profile-test-busy")
  const x = storageBuffer(gpu.device, new Float32Array(64 * 64))
  const one: Dispatch = { pipeline: busy, buffers: [x], groups: [64] }

  it("gives each list its own time, in list order, from a submission that runs them all", async (t) => {
    const ms = await gpuMsEach(gpu, [[one], Array<Dispatch>(8).fill(one)], 3)
    t.diagnostic(`${gpu.adapter.description}: ${ms.map((m) => m.toFixed(3)).join(" and ")} ms`)
    assert.equal(ms.length, 2)
    for (const t of ms) assert.ok(Number.isFinite(t) && t > 0, `${t}`)
    // eight times the same work inside one pass: its timestamps must span far more than one dispatch's
    assert.ok(ms[1]! > 2 * ms[0]!, `1 dispatch ${ms[0]} ms, 8 dispatches ${ms[1]} ms`)
    // and the dispatches ran: each takes every value from v to 1 − 0.999^4096 (1 − v) (0 → 0.983), 36 of them past 0.999
    const v = new Float32Array(await readBuffer(gpu.device, x, 4 * 64 * 64))
    assert.ok(v.every((y) => y > 0.999 && y <= 1), `${v[0]}`)
  })
})
