import assert from "node:assert/strict"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, it } from "node:test"
import { DYNAMIC_CODE } from "../../../model/formats/dynamic-map.ts"
import {
  dequantizeNf4,
  doubleQuantize,
  NF4_CODE,
  nf4Absmax,
  quantizeNf4
} from "../../../model/formats/nf4.ts"
import { fixturesDir } from "../../helpers/paths.ts"

// Reference output of bitsandbytes 0.50.2 (CPU), written by scripts/fixtures/nf4.py.
interface Case {
  name: string
  shape: Array<number>
  input: Array<number>
  packed: Array<number>
  blocksize: number
  nested: boolean
  dequantized: Array<number>
  absmax?: Array<number>
  qabsmax?: Array<number>
  offset?: number
  absmax2?: Array<number>
  code2?: Array<number>
  blocksize2?: number
}
const fixture = JSON.parse(readFileSync(join(fixturesDir, "nf4/bitsandbytes.json"), "utf8")) as {
  meta: { bitsandbytes: string; nf4_code: Array<number>; dynamic_code: Array<number> }
  cases: Array<Case>
}

const firstMismatch = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return `index ${i}: ${a[i]} vs ${b[i]}`
  return "none"
}

describe(`NF4 against bitsandbytes ${fixture.meta.bitsandbytes}`, () => {
  it("uses the bitsandbytes NF4 code book and dynamic 8-bit map", () => {
    assert.deepEqual([...NF4_CODE], fixture.meta.nf4_code)
    assert.equal(DYNAMIC_CODE.length, 256)
    assert.equal(firstMismatch(DYNAMIC_CODE, fixture.meta.dynamic_code), "none")
  })

  for (const c of fixture.cases) {
    it(`${c.name}: packed nibbles, absmax and dequantised values are bit-exact`, () => {
      const plain = quantizeNf4(Float32Array.from(c.input), c.shape)
      // bitsandbytes' offset is torch's f32 sum / n (SIMD-order rounding); ours is the correctly
      // rounded mean: they may differ in the last bit, so the rest is checked with bitsandbytes' offset.
      const t = c.nested ? { ...plain, stats: doubleQuantize(nf4Absmax(plain.stats), 256, c.offset) } : plain
      assert.equal(t.packed.length, c.packed.length)
      if (c.nested) {
        const own = quantizeNf4(Float32Array.from(c.input), c.shape, { doubleQuant: true })
        assert.ok(own.stats._tag === "Nested" && Math.abs(own.stats.offset - c.offset!) <= 2 ** -23 * Math.abs(c.offset!), "offsets within one f32 ulp")
        assert.equal(t.stats._tag, "Nested")
        if (t.stats._tag !== "Nested") return
        assert.equal(firstMismatch(t.stats.absmax2, c.absmax2!), "none")
        assert.equal(firstMismatch(t.stats.qabsmax, c.qabsmax!), "none")
        assert.equal(firstMismatch(t.stats.code2, c.code2!), "none")
        assert.equal(t.stats.blocksize2, c.blocksize2)
      } else {
        assert.equal(firstMismatch(nf4Absmax(t.stats), c.absmax!), "none")
      }
      assert.equal(firstMismatch(t.packed, c.packed), "none")
      assert.equal(firstMismatch(dequantizeNf4(t), c.dequantized), "none")
    })
  }

  it("round-trips every code-book value exactly and puts the first element in the high nibble", () => {
    const values = Float32Array.from([...NF4_CODE, ...NF4_CODE.map((v) => v * 0.5)].slice(0, 32))
    // 32 values, blocksize 16: block 0 has absmax 1, block 1 absmax 0.5, so x/absmax is a code value
    const t = quantizeNf4(values, [32], { blocksize: 16 })
    assert.deepEqual([...dequantizeNf4(t)], [...values])
    assert.equal(t.packed[0], (0 << 4) | 1) // -1 -> index 0 (high nibble), -0.696 -> index 1 (low nibble)
    assert.equal(t.packed[3], (6 << 4) | 7)
  })

  it("keeps the round-trip error of Gaussian weights within half a code-book gap of each block", () => {
    const c = fixture.cases[0]!
    const x = Float32Array.from(c.input)
    const t = quantizeNf4(x, c.shape)
    const d = dequantizeNf4(t)
    const absmax = nf4Absmax(t.stats)
    let maxGap = 0
    for (let i = 0; i + 1 < NF4_CODE.length; i++) maxGap = Math.max(maxGap, NF4_CODE[i + 1]! - NF4_CODE[i]!)
    for (let i = 0; i < x.length; i++) {
      assert.ok(Math.abs(d[i]! - x[i]!) <= (maxGap / 2) * absmax[Math.floor(i / 64)]! + 1e-7, `element ${i}`)
    }
  })
})
