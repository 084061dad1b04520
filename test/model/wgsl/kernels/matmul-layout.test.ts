import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { pipeline, readBuffer, runDispatches, storageBuffer, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { tiledWgsl, type WeightFormat, type WeightLayout } from "../../../../model/wgsl/kernels/matmul.ts"
import { transpose } from "../../../helpers/kernels/general-matmul-reference.ts"
import { matmulRef } from "../../../helpers/kernels/reference.ts"
import { dequantizeNf4, nf4Absmax, quantizeNf4 } from "../../../../model/formats/nf4.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"
import { random, relErr } from "../../../helpers/numeric.ts"

// matmul.ts's kernels read A (and f16 weights) as f16, so without shader-f16 (SwiftShader) they
// cannot run as they are. The tiled kernel's indexing does not depend on the element type,
// though: the same WGSL with f16 spelt f32 runs on SwiftShader and checks the weight-layout
// loads ("kn": C = A·W with W stored [K,N], the backward dX = dY·W) against the reference.
// The real f16 kernels, tensor-core ones included, are tested in kernels.test.ts on a GPU.
const opened = await openTestGpu()

describe("matmul weight layouts (tiled kernel with f16 spelt f32)", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const gpu = opened.gpu
  const device = gpu.device
  after(() => gpu.close())
  const [M, N, K] = [128, 256, 192]
  const A = random(M * K, 1)
  const W = random(N * K, 2, 0.05) // [N,K] for "nk", [K,N] for "kn"

  const asF32 = (code: string) => {
    assert.ok(code.startsWith("enable f16;\n"))
    return code.slice("enable f16;\n".length).replaceAll("f16", "f32")
  }

  const cases: ReadonlyArray<readonly [WeightFormat, WeightLayout, boolean]> = [["f16", "nk", false], ["f16", "kn", false], ["f16", "kn", true], ["nf4", "kn", false]]
  for (const [format, layout, accumulate] of cases) {
    it(`${format} weight stored ${layout === "nk" ? "[N,K] (C = A·Wᵀ)" : "[K,N] (C = A·W)"}${accumulate ? ", accumulating onto C" : ""}`, async () => {
      const p = await pipeline(device, asF32(tiledWgsl(format, accumulate, layout)), `matmul-tiled-f32-${format}-${layout}`)
      const C0 = random(M * N, 3)
      const C = storageBuffer(device, accumulate ? C0 : M * N * 4)
      const params = uniformBuffer(device, [M, N, K, 0])
      let Wd = W
      let buffers: Array<GPUBuffer>
      if (format === "nf4") {
        const q = quantizeNf4(W, layout === "nk" ? [N, K] : [K, N])
        Wd = dequantizeNf4(q)
        buffers = [storageBuffer(device, A), storageBuffer(device, new Uint32Array(q.packed.buffer.slice(0), 0, q.packed.length / 4)), C, params, storageBuffer(device, nf4Absmax(q.stats))]
      } else buffers = [storageBuffer(device, A), storageBuffer(device, W), C, params]
      await runDispatches(device, [{ pipeline: p, buffers, groups: [N / 128, M / 128] }])
      const Wnk = layout === "nk" ? Wd : transpose(Wd, K, N)
      const want = matmulRef(A, Wnk, M, N, K).map((v, i) => v + (accumulate ? C0[i]! : 0))
      const err = relErr(new Float32Array(await readBuffer(device, C, M * N * 4)), want)
      assert.ok(err < 1e-5, `relative error ${err}`)
    })
  }
})
