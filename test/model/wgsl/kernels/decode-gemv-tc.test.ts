import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { decodeGemvTcWgsl } from "../../../../model/wgsl/kernels/decode-gemv-tc.ts"
import { decodeGemvParams } from "../../../../model/wgsl/kernels/decode-layer.ts"
import { pipeline, readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { pickMatrixConfig } from "../../../../model/wgsl/kernels/device.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"
import { random } from "../../../helpers/numeric.ts"
import { matmulRef, rmsnormRef } from "../../../helpers/kernels/reference.ts"
import { emulateSubgroupMatrices } from "../../../helpers/kernels/subgroup-matrix-emulation.ts"

// The tensor-core decoding GEMVs' f16 form (model/wgsl/kernels/decode-gemv-tc.ts: weights and A read
// as packed 16-byte units of 8 f16, split into the tiles in pairs) on adapters without tensor cores:
// the fragments emulated in f32 (test/helpers/kernels/subgroup-matrix-emulation.ts), the f16 words
// unpacked, tiles unpadded to fit SwiftShader's 32 KB. decode-layer.test.ts runs the kernels through
// decodeLayerKernels: on a card in f16, emulated in f32 storage (4 values a load) elsewhere; this
// checks the 8-value unit layout where no card is. Gate-up (an f16 output) is left to the card.
const t = await openTestGpu()
const real = t.skip === false && pickMatrixConfig(t.gpu)?.M === 16
const skip = t.skip !== false ? t.skip : real ? "a card with tensor cores runs the f16 form itself (decode-layer.test.ts)" : false
after(() => (t.skip === false ? t.gpu.close() : undefined))

describe("tensor-core decoding GEMVs, f16 form, fragments emulated", { skip }, () => {
  // prefetch: the loads a step ahead (DecodeGemvTcSpec.prefetch), over three steps a warp; meet 4:
  // the 8 warps' result fragments meet in two rounds of 4, as 16 warps' do in two of 8 on a card
  // (SwiftShader's workgroups stop at 256 threads)
  for (const [kind, prefetch, meet] of [["accumulate", false, 8], ["head", false, 8], ["qkv", false, 8], ["accumulate", true, 8], ["qkv", true, 8], ["accumulate", true, 4], ["qkv", false, 4]] as const) {
    it(`${kind}: 5 and 16 rows against the CPU${prefetch ? ", loads a step ahead" : ""}${meet < 8 ? `, fragments meeting ${meet} at a time` : ""}`, async () => {
      if (t.skip !== false) return
      const dev = t.gpu.device
      const norm = kind !== "accumulate"
      const U = 1
      const K = 8 * 16 * U * (prefetch ? 3 : 2) // two (three) steps a warp
      const N = 48
      const code = emulateSubgroupMatrices(decodeGemvTcWgsl({ storage: "f16", unroll: U, pad: 0, norm, weights: kind === "qkv" ? "qkv" : "one", out: kind === "accumulate" ? "accumulate" : "store", prefetch, meet }), 16)
      const p = await pipeline(dev, code, `decode-gemv-tc-f16-emulated-${kind}${prefetch ? "-prefetch" : ""}-m${meet}`)
      for (const M of [5, 16]) {
        const X = norm ? random(M * K, 3 + M, 2) : roundF16(random(M * K, 3 + M, 1))
        const G = random(K, 5, 0.3).map((v) => 1 + v)
        const W = roundF16(random(N * K, 11 + M, 0.05))
        const C0 = random(M * N, 19 + M, 1)
        const made = [storageBuffer(dev, norm ? X : toF16(X)), storageBuffer(dev, G), storageBuffer(dev, kind === "accumulate" ? C0 : M * N * 4)]
        const [a, g, c] = made as [GPUBuffer, GPUBuffer, GPUBuffer]
        // qkv: three weights of 16 columns each, side by side along N
        const ws = (kind === "qkv" ? [0, 1, 2].map((i) => W.subarray(i * 16 * K, (i + 1) * 16 * K)) : [W]).map((w) => storageBuffer(dev, toF16(w)))
        const params = uniformBuffer(dev, ...decodeGemvParams(M, N, K, kind === "qkv" ? 16 : 0, kind === "qkv" ? 32 : 0, 1e-6))
        made.push(...ws, params)
        await runDispatches(dev, [{ pipeline: p, buffers: [a, ...ws, c, params, ...(norm ? [g] : [])], groups: [N / 16] }])
        const got = new Float32Array(await readBuffer(dev, c, M * N * 4))
        for (const b of made) b.destroy()
        const want = norm ? matmulRef(rmsnormRef(X, G, M, K, 1e-6), W, M, N, K) : matmulRef(X, W, M, N, K).map((v, i) => v + C0[i]!)
        let diff = 0
        for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i]! - want[i]!))
        assert.ok(diff < 1e-4, `${kind}, ${M} rows: max |Δ| ${diff}`)
      }
    })
  }
  // 16 warps (512 threads, meeting in two rounds of 8) can't run here (SwiftShader's workgroups stop
  // at 256 threads): their WGSL, fragments emulated (f32: the form decode-layer.test.ts runs), must
  // still compile as a module, every kind
  it("16 warps: every kind's WGSL compiles (its rounds are run above at 8 warps meeting 4)", async () => {
    if (t.skip !== false) return
    const dev = t.gpu.device
    for (const [norm, weights, out] of [[true, "qkv", "store"], [true, "gate-up", "store"], [false, "one", "accumulate"], [true, "one", "store"]] as const) {
      const code = emulateSubgroupMatrices(decodeGemvTcWgsl({ storage: "f32", unroll: 1, norm, weights, out, prefetch: true, warps: 16 }), 16)
      assert.match(code, /@workgroup_size\(512\)/)
      const info = await dev.createShaderModule({ code, label: `decode-gemv-tc-w16-${weights}` }).getCompilationInfo()
      const errors = info.messages.filter((m) => m.type === "error").map((m) => `${m.lineNum}: ${m.message}`)
      assert.deepEqual(errors, [], `${weights}: ${errors.join("; ")}`)
    }
  })
})
