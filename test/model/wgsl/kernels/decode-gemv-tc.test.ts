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
  // split: K over that many workgroups (part 0 onto Out, the others into Part); pending: partial
  // slices still to add (the norm kinds read A plus them; the accumulating kind adds them onto Out)
  const cases: ReadonlyArray<{ kind: "accumulate" | "head" | "qkv"; prefetch?: boolean; meet?: number; split?: number; pending?: number }> = [
    { kind: "accumulate" }, { kind: "head" }, { kind: "qkv" }, { kind: "accumulate", prefetch: true }, { kind: "qkv", prefetch: true },
    { kind: "accumulate", prefetch: true, meet: 4 }, { kind: "qkv", meet: 4 },
    { kind: "accumulate", split: 3, pending: 2, prefetch: true }, { kind: "qkv", pending: 2 }
  ]
  for (const { kind, prefetch = false, meet = 8, split = 1, pending = 0 } of cases) {
    const named = [prefetch ? "loads a step ahead" : "", meet < 8 ? `fragments meeting ${meet} at a time` : "", split > 1 ? `K over ${split} workgroups` : "", pending > 0 ? `${pending} pending partial${pending > 1 ? "s" : ""}` : ""].filter((w) => w)
    it(`${kind}: 5 and 16 rows against the CPU${named.map((w) => `, ${w}`).join("")}`, async () => {
      if (t.skip !== false) return
      const dev = t.gpu.device
      const norm = kind !== "accumulate"
      const U = 1
      const K = 8 * 16 * U * (prefetch ? 3 : 2) * split // two (three) steps a warp, in each part
      const N = 48
      const code = emulateSubgroupMatrices(decodeGemvTcWgsl({ storage: "f16", unroll: U, pad: 0, norm, weights: kind === "qkv" ? "qkv" : "one", out: kind === "accumulate" ? "accumulate" : "store", prefetch, meet, split, pending }), 16)
      const p = await pipeline(dev, code, `decode-gemv-tc-f16-emulated-${kind}${prefetch ? "-prefetch" : ""}-m${meet}-s${split}-p${pending}`)
      for (const M of [5, 16]) {
        const X = norm ? random(M * K, 3 + M, 2) : roundF16(random(M * K, 3 + M, 1))
        const G = random(K, 5, 0.3).map((v) => 1 + v)
        const W = roundF16(random(N * K, 11 + M, 0.05))
        const C0 = random(M * N, 19 + M, 1)
        // the pending slices: [pending, M, K] (norm kinds) or [pending, M, N]
        const pend = random(pending * M * (norm ? K : N), 23 + M, 0.5)
        const made = [storageBuffer(dev, norm ? X : toF16(X)), storageBuffer(dev, G), storageBuffer(dev, kind === "accumulate" ? C0 : M * N * 4)]
        const [a, g, c] = made as [GPUBuffer, GPUBuffer, GPUBuffer]
        // qkv: three weights of 16 columns each, side by side along N
        const ws = (kind === "qkv" ? [0, 1, 2].map((i) => W.subarray(i * 16 * K, (i + 1) * 16 * K)) : [W]).map((w) => storageBuffer(dev, toF16(w)))
        const params = uniformBuffer(dev, ...decodeGemvParams(M, N, K, kind === "qkv" ? 16 : 0, kind === "qkv" ? 32 : 0, 1e-6))
        const extra = [...(pending > 0 ? [storageBuffer(dev, pend)] : []), ...(split > 1 ? [storageBuffer(dev, (split - 1) * M * N * 4)] : [])]
        made.push(...ws, params, ...extra)
        await runDispatches(dev, [{ pipeline: p, buffers: [a, ...ws, c, params, ...(norm ? [g] : []), ...extra], groups: [N / 16, 1, split] }])
        const got = new Float32Array(await readBuffer(dev, c, M * N * 4))
        const parts = split > 1 ? new Float32Array(await readBuffer(dev, extra.at(-1)!, (split - 1) * M * N * 4)) : new Float32Array(0)
        for (const b of made) b.destroy()
        const slice = (i: number, size: number) => pend.subarray(i * size, (i + 1) * size)
        const withPending = (base: Float32Array, size: number) => base.map((v, i) => v + Array.from({ length: pending }, (_, s) => slice(s, size)[i]!).reduce((x, y) => x + y, 0))
        // part s's product: K's columns [s · K / split, (s + 1) · K / split)
        const Kp = K / split
        const part = (s: number) => matmulRef(columns(X, M, K, s * Kp, Kp), columns(W, N, K, s * Kp, Kp), M, N, Kp)
        const want = norm ? matmulRef(rmsnormRef(withPending(X, M * K), G, M, K, 1e-6), W, M, N, K) : withPending(C0, M * N).map((v, i) => v + part(0)[i]!)
        assert.ok(maxDiff(got, want) < 1e-4, `${kind}, ${M} rows: max |Δ| ${maxDiff(got, want)}`)
        for (let s = 1; s < split; s++) {
          const d = maxDiff(parts.subarray((s - 1) * M * N, s * M * N), part(s))
          assert.ok(d < 1e-4, `${kind}, ${M} rows, part ${s} of K: max |Δ| ${d}`)
        }
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

/** Columns [from, from + width) of a row-major [rows, K] matrix. */
const columns = (m: Float32Array, rows: number, K: number, from: number, width: number): Float32Array => {
  const out = new Float32Array(rows * width)
  for (let r = 0; r < rows; r++) out.set(m.subarray(r * K + from, r * K + from + width), r * width)
  return out
}

const maxDiff = (got: Float32Array, want: Float32Array): number => got.reduce((d, v, i) => Math.max(d, Math.abs(v - want[i]!)), 0)
