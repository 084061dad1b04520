import assert from "node:assert/strict"
import { after, describe, it } from "node:test"
import { readBuffer, storageBuffer, toF16 } from "../../../../model/wgsl/kernels/buffers.ts"
import { concatRows, interleaveRows, type MergedWeight } from "../../../../model/wgsl/kernels/weight-merge.ts"
import { nf4Absmax, quantizeNf4 } from "../../../../model/formats/nf4.ts"
import { openTestGpu } from "../../../helpers/gpu.ts"
import { random } from "../../../helpers/numeric.ts"

// Weights merged on the GPU (q|k|v concatenated, gate/up interleaved for the gate-up epilogue)
// against the same merge done on the host: f16 rows, and NF4 codes with their absmax, which merge
// row by row because a row's 64-value blocks never straddle rows. Copies only: SwiftShader runs them.
const opened = await openTestGpu()

describe("linear weights merged on the GPU", { skip: opened.skip }, () => {
  if (opened.skip !== false) return
  const { gpu } = opened
  const device = gpu.device
  after(() => gpu.close())
  const K = 128
  /** A weight [rows, K] as stored in `format`, with its values' host-side rows (f16 halves or NF4 bytes and absmax words). */
  const weight = (format: "f16" | "nf4", rows: number, seed: number) => {
    const values = random(rows * K, seed, 0.05)
    if (format === "f16") {
      const halves = toF16(values)
      return { w: { B: storageBuffer(device, halves) }, codes: new Uint8Array(halves.buffer), scales: new Uint8Array(0) }
    }
    const q = quantizeNf4(values, [rows, K])
    const absmax = nf4Absmax(q.stats)
    return { w: { B: storageBuffer(device, q.packed), absmax: storageBuffer(device, absmax) }, codes: new Uint8Array(q.packed.buffer, q.packed.byteOffset, q.packed.byteLength), scales: new Uint8Array(absmax.buffer) }
  }
  const bytesOf = (format: "f16" | "nf4", rows: number) => ({ codes: format === "f16" ? rows * K * 2 : (rows * K) / 2, scales: format === "f16" ? 0 : (rows * K) / 64 * 4 })
  /** The merged weight's bytes against the host's rows, run by run ([part, its first row, rows]). */
  const check = async (format: "f16" | "nf4", merged: MergedWeight, parts: ReadonlyArray<ReturnType<typeof weight>>, runs: ReadonlyArray<readonly [number, number, number]>) => {
    const total = runs.reduce((a, [, , n]) => a + n, 0)
    const got = new Uint8Array(await readBuffer(device, merged.B, bytesOf(format, total).codes))
    const gotScales = format === "nf4" ? new Uint8Array(await readBuffer(device, merged.absmax!, bytesOf(format, total).scales)) : new Uint8Array(0)
    let at = 0
    for (const [part, from, rows] of runs) {
      const per = bytesOf(format, 1)
      assert.deepEqual(got.subarray(at * per.codes, (at + rows) * per.codes), parts[part]!.codes.subarray(from * per.codes, (from + rows) * per.codes), `codes of rows ${at}…${at + rows - 1}`)
      if (format === "nf4") assert.deepEqual(gotScales.subarray(at * per.scales, (at + rows) * per.scales), parts[part]!.scales.subarray(from * per.scales, (from + rows) * per.scales), `absmax of rows ${at}…${at + rows - 1}`)
      at += rows
    }
  }

  for (const format of ["f16", "nf4"] as const) {
    it(`concatenates q, k and v's rows (${format})`, async () => {
      const parts = [weight(format, 64, 1), weight(format, 32, 2), weight(format, 32, 3)]
      const enc = device.createCommandEncoder()
      const merged = concatRows(device, enc, format, K, parts.map((p, i) => ({ w: p.w, rows: [64, 32, 32][i]! })))
      device.queue.submit([enc.finish()])
      await check(format, merged, parts, [[0, 0, 64], [1, 0, 32], [2, 0, 32]])
    })

    it(`interleaves gate and up 16 rows at a time (${format})`, async () => {
      const parts = [weight(format, 48, 4), weight(format, 48, 5)]
      const enc = device.createCommandEncoder()
      const merged = interleaveRows(device, enc, format, K, parts[0]!.w, parts[1]!.w, 48, 16)
      device.queue.submit([enc.finish()])
      await check(format, merged, parts, [[0, 0, 16], [1, 0, 16], [0, 16, 16], [1, 16, 16], [0, 32, 16], [1, 32, 16]])
    })
  }

  it("refuses rows that are not whole blocks", () => {
    const w = weight("f16", 40, 6).w
    assert.throws(() => interleaveRows(device, device.createCommandEncoder(), "f16", K, w, w, 40, 16), /40 rows are not a whole number of blocks of 16/)
  })
})
