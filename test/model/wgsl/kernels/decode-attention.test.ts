// The decoder's attention of one new token a row against its KV cache (model/wgsl/kernels/decode-
// attention.ts) against the CPU reference attention (test/helpers/kernels/reference.ts: the query at the
// last position sees every key): f32 storage on SwiftShader where there is no GPU, f16 where the
// adapter has shader-f16. Several key blocks (150 positions), a last block not full, GQA 4:2.
import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { decodeAttention } from "../../../../model/wgsl/kernels/decode-attention.ts"
import { f16BitsToF32, readBuffer, roundF16, runDispatches, storageBuffer, toF16, uniformBuffer } from "../../../../model/wgsl/kernels/buffers.ts"
import { attentionRef } from "../../../helpers/kernels/reference.ts"
import { needs, openTestGpu } from "../../../helpers/gpu.ts"
import { random } from "../../../helpers/numeric.ts"

const t = await openTestGpu()
const skip = t.skip === false ? false : `no WebGPU adapter, nor SwiftShader: ${t.skip}`
after(() => (t.skip === false ? t.gpu.close() : undefined))

describe("decode attention against a KV cache", { skip }, () => {
  for (const storage of ["f32", "f16"] as const) {
    for (const D of [64, 128]) {
      const noF16 = storage === "f16" && t.skip === false ? needs(t.gpu, "f16") : false
      it(`matches the reference for 3 rows, 150 positions, GQA 4:2, D=${D} (${storage} storage)`, { skip: noF16 }, async () => {
        if (t.skip !== false) return
        const gpu = t.gpu
        const [rows, len, H, KV] = [3, 150, 4, 2]
        const scale = 1 / Math.sqrt(D)
        const held = (x: Float32Array) => (storage === "f16" ? roundF16(x) : x)
        const Q = held(random(rows * H * D, 3, 2))
        // the caches as the decoder lays them out: [positions, rows, KV, D]
        const Kc = held(random(len * rows * KV * D, 4, 2))
        const Vc = held(random(len * rows * KV * D, 5))
        const upload = (x: Float32Array) => storageBuffer(gpu.device, storage === "f16" ? toF16(x) : x)
        const [q, k, v] = [upload(Q), upload(Kc), upload(Vc)]
        const o = storageBuffer(gpu.device, rows * H * D * (storage === "f16" ? 2 : 4))
        const params = uniformBuffer(gpu.device, [rows, len, H, KV], [scale])
        const attention = await decodeAttention(gpu, D, storage)
        await runDispatches(gpu.device, [attention({ Q: q, K: k, V: v, O: o, params }, rows, H)])
        const raw = await readBuffer(gpu.device, o, rows * H * D * (storage === "f16" ? 2 : 4))
        const got = storage === "f16" ? Float32Array.from(new Uint16Array(raw), f16BitsToF32) : new Float32Array(raw)
        for (const b of [q, k, v, o, params]) b.destroy()
        // the reference's layout: K [B, T, KV, D], one query at position T − 1
        const perRow = (cache: Float32Array) => {
          const out = new Float32Array(rows * len * KV * D)
          for (let p = 0; p < len; p++) for (let r = 0; r < rows; r++) out.set(cache.subarray((p * rows + r) * KV * D, (p * rows + r + 1) * KV * D), (r * len + p) * KV * D)
          return out
        }
        const want = attentionRef(Q, perRow(Kc), perRow(Vc), rows, 1, len, H, KV, D, scale)
        let maxAbs = 0
        want.forEach((w, i) => (maxAbs = Math.max(maxAbs, Math.abs(w - got[i]!))))
        assert.ok(maxAbs < (storage === "f16" ? 2e-3 : 1e-5), `max |Δ| ${maxAbs}`)
      })
    }
  }
})
