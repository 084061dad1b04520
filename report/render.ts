import * as vega from "vega"
import * as vegaLite from "vega-lite"
import type { TopLevelSpec } from "vega-lite"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { textWidth } from "./text-metrics.ts"

/** The house style of every Vega-Lite figure; users override it with `fleuve report --config`. */
export const defaultTheme: Record<string, unknown> = JSON.parse(readFileSync(join(import.meta.dirname, "theme.json"), "utf8"))

/** Deep merge of plain objects; `over` wins. */
export const mergeConfig = (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    const b = out[k]
    out[k] = v && typeof v === "object" && !Array.isArray(v) && b && typeof b === "object" && !Array.isArray(b)
      ? mergeConfig(b as Record<string, unknown>, v as Record<string, unknown>)
      : v
  }
  return out
}

// Vega measures text with a canvas when it has one and with 0.8 em per character otherwise; both
// depend on the machine. Route it through our committed font metrics instead, so layout (label
// room, legend columns, overlap culling) is the same everywhere. Vega exposes this hook as a
// module-level object; setting it is idempotent.
const installTextMetrics = () => {
  const metrics = (vega as unknown as { textMetrics: unknown }).textMetrics as { width: (item: Record<string, unknown>, text: unknown) => number }
  metrics.width = (item, text) => {
    const value = text === undefined ? item.text : text
    const lines = Array.isArray(value) ? value.map(String) : [String(value ?? "")]
    const size = typeof item.fontSize === "number" ? item.fontSize : 11
    return Math.max(0, ...lines.map((l) => textWidth(l, size, (item.fontWeight as string | number | undefined) ?? "normal")))
  }
}

/**
 * SVG `<defs>` a figure needs that Vega cannot express (hatching patterns). Referenced from specs as
 * `url(#ID)`, with ID later prefixed by the figure id like every other id.
 */
export const HATCH_PATTERN_ID = "hatch"
const hatchDefs = (color: string) =>
  `<defs><pattern id="${HATCH_PATTERN_ID}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">` +
  `<rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="${color}" stroke-width="3"/></pattern></defs>`

/**
 * Makes every id in one SVG unique to its figure, so several figures can be inlined in one HTML
 * page without one figure's clip path or gradient resolving to another's. Vega numbers clip paths
 * and gradients with process-wide counters, so ids are also renumbered in order of appearance:
 * the same figure gets the same ids however many figures were drawn before it.
 */
export const namespaceIds = (svg: string, prefix: string): string => {
  const renamed = new Map<string, string>()
  const rename = (id: string) => {
    let name = renamed.get(id)
    if (name === undefined) {
      name = id === HATCH_PATTERN_ID ? `${prefix}-${id}` : `${prefix}-${id.replace(/\d+$/, "")}${renamed.size + 1}`
      renamed.set(id, name)
    }
    return name
  }
  return svg.replace(/\bid="([^"]+)"|url\(#([^)]+)\)|xlink:href="#([^"]+)"|\bhref="#([^"]+)"/g, (whole, a?: string, b?: string, c?: string, d?: string) => {
    if (a !== undefined) return `id="${rename(a)}"`
    if (b !== undefined) return `url(#${rename(b)})`
    if (c !== undefined) return `xlink:href="#${rename(c)}"`
    if (d !== undefined) return `href="#${rename(d)}"`
    return whole
  })
}

export interface RenderOptions {
  /** Vega-Lite config merged over the house theme. */
  readonly config?: Record<string, unknown>
  /** Colour of the hatching pattern, when the spec uses `url(#hatch)`. */
  readonly hatchColor?: string
}

/** The spec as written to DIR/figures/*.vl.json: data inline, house theme applied, ready to restyle. */
export const withTheme = (spec: TopLevelSpec, config: Record<string, unknown> = {}): TopLevelSpec =>
  ({ ...spec, config: mergeConfig(mergeConfig(defaultTheme, (spec as { config?: Record<string, unknown> }).config ?? {}), config) }) as TopLevelSpec

/** Renders a Vega-Lite spec to an SVG string in Node, without a browser or canvas. */
export const renderVegaLite = async (spec: TopLevelSpec, figureId: string, options: RenderOptions = {}): Promise<string> => {
  installTextMetrics()
  const compiled = vegaLite.compile(withTheme(spec, options.config)).spec
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logLevel: vega.Error })
  try {
    let svg = await view.toSVG()
    if (svg.includes(`url(#${HATCH_PATTERN_ID})`)) svg = svg.replace(/(<svg[^>]*>)/, `$1${hatchDefs(options.hatchColor ?? "#555555")}`)
    return namespaceIds(svg, `f${figureId}`)
  } finally {
    view.finalize()
  }
}
