import assert from "node:assert/strict"
import { test } from "node:test"
import * as d from "../../analysis/stats/distributions.ts"
import { mcnemar, nemenyiCd } from "../../analysis/stats/hypothesis-tests.ts"
import { loadFixture } from "../helpers/analyses.ts"

interface Point {
  readonly fn: string
  readonly args: ReadonlyArray<number>
  readonly expected: number
}

const fns: Record<string, (...args: Array<number>) => number> = {
  tSf: d.tSf,
  normalSf: d.normalSf,
  chi2Sf: d.chi2Sf,
  fSf: d.fSf,
  binomCdf: d.binomCdf,
  tPpf: d.tPpf,
  studentizedRangePpfInf: d.studentizedRangePpfInf,
  mcnemar: (b, c) => mcnemar(b!, c!).pValue
}

test("distributions agree with scipy to 1e-6 relative, tails down to 1e-300", () => {
  const points = loadFixture<Array<Point>>("distributions")
  assert.ok(points.some((p) => p.expected > 0 && p.expected < 1e-290), "the fixture reaches the 1e-300 range")
  for (const p of points) {
    const got = fns[p.fn]!(...p.args)
    const rel = p.expected === 0 ? Math.abs(got) : Math.abs(got - p.expected) / Math.abs(p.expected)
    assert.ok(rel <= 1e-6, `${p.fn}(${p.args.join(", ")}) = ${got}, scipy ${p.expected} (relative error ${rel})`)
  }
})

test("Nemenyi CD is 6.06 for k = 8, N = 3, alpha = 0.05 (GUIDE's q table)", () => {
  assert.equal(nemenyiCd(8, 3, 0.05).toFixed(2), "6.06")
  const guideQ = [1.95996, 2.3437, 2.56903, 2.72777, 2.84971, 2.94832, 3.03088, 3.10173, 3.16368]
  guideQ.forEach((q, i) => assert.equal((d.studentizedRangePpfInf(0.95, i + 2) / Math.SQRT2).toFixed(5), q.toFixed(5), `k = ${i + 2}`))
})
