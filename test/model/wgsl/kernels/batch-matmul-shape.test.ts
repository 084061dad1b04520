import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { batchMatmulWgsl, fitsTensorCores } from "../../../../model/wgsl/kernels/batch-matmul.ts"
import { batchMatmulShape } from "../../../../model/tfjs/webgpu-kernels.ts"

// Which tfjs matmuls the tensor-core kernel takes, and the shape it returns (no GPU needed).
describe("BatchMatMul shape handling", () => {
  it("flattens rank-2 to rank-4 operands and keeps tfjs' output shape", () => {
    assert.deepEqual(batchMatmulShape([2048, 1024], [3072, 1024], false, true), { batch: 1, M: 2048, N: 3072, K: 1024, batchA: 1, batchB: 1, outShape: [2048, 3072] })
    // attention scores: [b, kv, g·t, d] · [b, kv, total, d]ᵀ
    assert.deepEqual(batchMatmulShape([4, 8, 1024, 128], [4, 8, 512, 128], false, true)?.outShape, [4, 8, 1024, 512])
    assert.equal(batchMatmulShape([4, 8, 1024, 128], [4, 8, 512, 128], false, true)?.batch, 32)
    // a batch of 1 broadcasts; the gradient dW = dyᵀ · x
    assert.deepEqual(batchMatmulShape([1, 64, 32], [3, 32, 128], false, false)?.outShape, [3, 64, 128])
    assert.deepEqual(batchMatmulShape([512, 256], [512, 128], true, false), { batch: 1, M: 256, N: 128, K: 512, batchA: 1, batchB: 1, outShape: [256, 128] })
  })

  it("refuses what one flat batch stride cannot express, and mismatched inner dims", () => {
    assert.equal(batchMatmulShape([2, 3, 64, 64], [3, 2, 64, 64], false, false), undefined)
    assert.equal(batchMatmulShape([64, 32], [64, 64], false, false), undefined)
    assert.equal(batchMatmulShape([64], [64, 64], false, false), undefined)
  })

  it("takes only tile-aligned shapes, and generates WGSL for each transpose pair", () => {
    assert.ok(fitsTensorCores({ batch: 1, M: 128, N: 64, K: 32 }))
    assert.ok(!fitsTensorCores({ batch: 1, M: 100, N: 64, K: 32 }))
    assert.ok(!fitsTensorCores({ batch: 1, M: 128, N: 64, K: 48 }))
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]] as const) {
      const code = batchMatmulWgsl(ta, tb)
      assert.match(code, /enable chromium_experimental_subgroup_matrix;/)
      assert.equal(code.match(/subgroupMatrixStore/g)?.length, 16)
    }
  })
})
