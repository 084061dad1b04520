import assert from "node:assert/strict"
import { test } from "node:test"
import { inkOn, RECORD_SEGMENTS, SIGNIFICANCE_CLASSES, systemColors } from "../../report/palette.ts"

// Colour-vision deficiency simulation of Machado, Oliveira & Fernandes (2009), severity 1.0,
// applied in linear RGB; distances are CIE76 ΔE in CIELAB (D65).
const CVD: Record<string, ReadonlyArray<ReadonlyArray<number>>> = {
  normal: [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
  protanopia: [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
  deuteranopia: [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.01182, 0.04294, 0.968881]],
  tritanopia: [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.3039]]
}

const linear = (hex: string) => [1, 3, 5].map((i) => {
  const c = parseInt(hex.slice(i, i + 2), 16) / 255
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
})

const lab = (rgb: ReadonlyArray<number>) => {
  const [r, g, b] = rgb.map((v) => Math.min(1, Math.max(0, v))) as [number, number, number]
  const xyz = [
    (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
    0.2126 * r + 0.7152 * g + 0.0722 * b,
    (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
  ].map((t) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116)) as [number, number, number]
  return [116 * xyz[1] - 16, 500 * (xyz[0] - xyz[1]), 200 * (xyz[1] - xyz[2])] as const
}

const simulate = (hex: string, m: ReadonlyArray<ReadonlyArray<number>>) => {
  const c = linear(hex)
  return lab(m.map((row) => row[0]! * c[0]! + row[1]! * c[1]! + row[2]! * c[2]!))
}
const deltaE = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!)
/** Lightness a greyscale print keeps. */
const greyL = (hex: string) => lab(linear(hex))[0]

const minPairwise = (colors: ReadonlyArray<string>, f: (a: string, b: string) => number) => {
  let min = Infinity
  for (let i = 0; i < colors.length; i++) for (let j = i + 1; j < colors.length; j++) min = Math.min(min, f(colors[i]!, colors[j]!))
  return min
}

test("system colours stay apart for colour-blind readers and in greyscale, up to 10 systems", () => {
  for (let k = 2; k <= 10; k++) {
    const colors = systemColors(k)
    assert.equal(new Set(colors).size, k)
    for (const [vision, m] of Object.entries(CVD)) {
      const d = minPairwise(colors, (a, b) => deltaE(simulate(a, m), simulate(b, m)))
      assert.ok(d >= 6, `k=${k}, ${vision}: closest pair ΔE ${d.toFixed(1)}`)
    }
    // Lightness falls monotonically with rank: the order itself survives a greyscale print.
    const L = colors.map(greyL)
    for (let i = 1; i < k; i++) assert.ok(L[i]! - L[i - 1]! >= 5, `k=${k}: L* ${L.map((l) => l.toFixed(0)).join(", ")}`)
  }
})

test("significance-record segments differ in lightness and under every colour-vision deficiency", () => {
  const colors = RECORD_SEGMENTS.map((s) => s.color)
  const dL = minPairwise(colors, (a, b) => Math.abs(greyL(a) - greyL(b)))
  assert.ok(dL >= 10, `closest greyscale pair ΔL* ${dL.toFixed(1)}`)
  for (const [vision, m] of Object.entries(CVD)) {
    const d = minPairwise(colors, (a, b) => deltaE(simulate(a, m), simulate(b, m)))
    assert.ok(d >= 10, `${vision}: closest pair ΔE ${d.toFixed(1)}`)
  }
})

test("significance classes: lightness falls away from 'ns' on each side, and all classes differ for colour-blind readers", () => {
  const L = SIGNIFICANCE_CLASSES.map((c) => greyL(c.color))
  const ns = SIGNIFICANCE_CLASSES.findIndex((c) => c.label === "ns")
  for (let i = 0; i < ns; i++) assert.ok(L[i]! < L[i + 1]! - 8, `better side: ${L.join(", ")}`)
  for (let i = ns; i < L.length - 1; i++) assert.ok(L[i + 1]! < L[i]! - 8, `worse side: ${L.join(", ")}`)
  for (const [vision, m] of Object.entries(CVD)) {
    const d = minPairwise(SIGNIFICANCE_CLASSES.map((c) => c.color), (a, b) => deltaE(simulate(a, m), simulate(b, m)))
    assert.ok(d >= 8, `${vision}: closest pair ΔE ${d.toFixed(1)}`)
  }
})

test("labels are drawn in black or white, whichever contrasts more", () => {
  assert.equal(inkOn("#08306b"), "#ffffff")
  assert.equal(inkOn("#f0f0f0"), "#000000")
  assert.equal(inkOn(systemColors(8)[0]!), "#ffffff")
  assert.equal(inkOn(systemColors(8)[7]!), "#000000")
})
