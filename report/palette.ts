/**
 * Colours of the report. Every choice keeps two properties, checked by test/report/palette.test.ts:
 * colour-blind readers (protanopia, deuteranopia, tritanopia) can tell the colours apart, and so
 * can a greyscale print. Where colour has to carry a category, lightness carries it too; where
 * lightness cannot (the two sides of a diverging scale), the figure also prints the value.
 */

/** Viridis (perceptually uniform, colour-blind safe, monotone in lightness) at 9 stops. */
const VIRIDIS = ["#440154", "#472c7a", "#3b518b", "#2c718e", "#21908d", "#27ad81", "#5cc863", "#aadc32", "#fde725"]

const hex = (c: string) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16))
const toHex = (rgb: ReadonlyArray<number>) => `#${rgb.map((v) => Math.round(v).toString(16).padStart(2, "0")).join("")}`

/** Viridis at t in [0, 1], linear between the stops. */
export const viridis = (t: number): string => {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1)
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x))
  const a = hex(VIRIDIS[i]!)
  const b = hex(VIRIDIS[i + 1]!)
  return toHex(a.map((v, j) => v + (b[j]! - v) * (x - i)))
}

/**
 * One colour per system, in global-rank order: viridis from dark (rank 1) to light, stopping short
 * of the palest yellow so bars stay visible on white. Lightness falls with rank, so systems stay
 * apart in greyscale and the colour order itself reads as the ranking.
 */
export const systemColors = (count: number): ReadonlyArray<string> =>
  Array.from({ length: count }, (_, i) => viridis(count === 1 ? 0 : (i / (count - 1)) * 0.9))

/** Sequential scale of normalised scores (0 worst, 1 best). */
export const SEQUENTIAL = VIRIDIS

/** Diverging scale centred on 0: orange below (worse than the reference), blue above (better). */
export const DIVERGING = { low: "#b35806", mid: "#f7f7f7", high: "#2166ac" } as const

/** Significance classes, from clearly better to clearly worse; lightness falls away from "ns". */
export const SIGNIFICANCE_CLASSES: ReadonlyArray<{ readonly label: string; readonly color: string }> = [
  { label: "better ***", color: "#08306b" },
  { label: "better **", color: "#2171b5" },
  { label: "better *", color: "#9ecae1" },
  { label: "ns", color: "#f0f0f0" },
  { label: "worse *", color: "#fdae6b" },
  { label: "worse **", color: "#e6550d" },
  { label: "worse ***", color: "#7f2704" }
]

/**
 * Segments of the significance record, left to right: wins blue, losses orange, significance darker;
 * five distinct lightness levels (L* 21, 68, 100, 86, 51), ties white inside the bar outline.
 */
export const RECORD_SEGMENTS: ReadonlyArray<{ readonly key: string; readonly label: string; readonly color: string }> = [
  { key: "sig_wins", label: "significant wins", color: "#08306b" },
  { key: "numeric_wins", label: "numeric wins (ns)", color: "#6baed6" },
  { key: "ties", label: "ties", color: "#ffffff" },
  { key: "numeric_losses", label: "numeric losses (ns)", color: "#fdd0a2" },
  { key: "sig_losses", label: "significant losses", color: "#d94801" }
]

/** Relative luminance (WCAG), for choosing black or white text on a fill. */
export const luminance = (color: string): number => {
  const [r, g, b] = hex(color).map((v) => {
    const c = v / 255
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  })
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!
}

/** Black or white, whichever contrasts more with `fill`. */
export const inkOn = (fill: string): string => (luminance(fill) > 0.179 ? "#000000" : "#ffffff")

/** Diverging colour of `value` on a scale symmetric around 0 with half-width `extent`. */
export const divergingColor = (value: number, extent: number): string => {
  const t = extent > 0 ? Math.max(-1, Math.min(1, value / extent)) : 0
  const [from, to] = t < 0 ? [hex(DIVERGING.mid), hex(DIVERGING.low)] : [hex(DIVERGING.mid), hex(DIVERGING.high)]
  const u = Math.abs(t)
  return toHex(from.map((v, j) => v + (to[j]! - v) * u))
}
