// The decoding GEMV (model/wgsl/kernels/gemv.ts), C = A·Bᵀ and C += A·Bᵀ for a few rows, against a CPU
// product: f32 storage on SwiftShader where there is no GPU, f16 where the adapter has shader-f16.
// Shapes off the 8-column workgroup (N = 203) and every row count up to GEMV_ROWS' edge.
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { GEMV_ROWS, gemvPlan } from "../../../../model/wgsl/kernels/gemv.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { random } from "../../../helpers/numeric.ts"

const t = await openTestGpu()
const skip = t.skip === false ? false : `no WebGPU adapter, nor SwiftShader: ${t.skip}`
after(() => (t.skip === false ? t.gpu.close() : undefined))

describe("decoding GEMV", { skip }, () => {
  for (const storage of ["f32", "f16"] as const) {
    for (const accumulate of [false, true]) {
      const noF16 = storage === "f16" && t.skip === false ? needs(t.gpu, "f16") : false
      it(`${accumulate ? "C += A·Bᵀ" : "C = A·Bᵀ"} for 1, 5 and ${GEMV_ROWS} rows, N = 203, K = 1040 (${storage} storage)`, { skip: noF16 }, async () => {
        if (t.skip !== false) return
        const gpu = t.gpu
        const plan = await gemvPlan(gpu, { accumulate, storage })
        const [N, K] = [203, 1040]
        const held = (x: Float32Array) => (storage === "f16" ? roundF16(x) : x)
        const upload = (x: Float32Array) => storageBuffer(gpu.device, storage === "f16" ? toF16(x) : x)
        for (const M of [1, 5, GEMV_ROWS]) {
          const A = held(random(M * K, 7 + M, 1))
          const B = held(random(N * K, 9, 0.1))
          const C0 = random(M * N, 11 + M, 1)
          const [a, b, c] = [upload(A), upload(B), storageBuffer(gpu.device, C0)]
          const params = uniformBuffer(gpu.device, [M, N, K, 0])
          await runDispatches(gpu.device, [plan.dispatch({ A: a, B: b, C: c, params }, M, N)])
          const got = new Float32Array(await readBuffer(gpu.device, c, M * N * 4))
          for (const x of [a, b, c, params]) x.destroy()
          let maxAbs = 0
          for (let r = 0; r < M; r++) {
            for (let n = 0; n < N; n++) {
              let s = accumulate ? C0[r * N + n]! : 0
              for (let k = 0; k < K; k++) s += A[r * K + k]! * B[n * K + k]!
              maxAbs = Math.max(maxAbs, Math.abs(s - got[r * N + n]!))
            }
          }
          assert.ok(maxAbs < 1e-3, `${M} rows: max |Δ| ${maxAbs}`)
        }
      })
    }
  }
  it("refuses more rows than it holds", async () => {
    if (t.skip !== false) return
    const plan = await gemvPlan(t.gpu, { storage: "f32" })
    const x = storageBuffer(t.gpu.device, 16)
    assert.throws(() => plan.dispatch({ A: x, B: x, C: x, params: x }, GEMV_ROWS + 1, 8), /at most 16/)
    x.destroy()
  })
})
