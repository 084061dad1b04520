/**
 * A small XML reader for the SVGs the report writes: enough to count marks and read their
 * attributes and text in tests, without a DOM.
 */
export interface SvgNode {
  readonly name: string
  readonly attrs: Readonly<Record<string, string>>
  readonly children: Array<SvgNode>
  text: string
}

const decode = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&#39;/g, "'").replace(/&amp;/g, "&")

export const parseSvg = (xml: string): SvgNode => {
  const root: SvgNode = { name: "#document", attrs: {}, children: [], text: "" }
  const stack: Array<SvgNode> = [root]
  const token = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<\/([\w:-]+)\s*>|<([\w:-]+)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>|([^<]+)/g
  for (let m = token.exec(xml); m; m = token.exec(xml)) {
    const [, close, open, attrText, selfClose, text] = m
    const top = stack[stack.length - 1]!
    if (close) {
      if (top.name !== close) throw new Error(`unbalanced </${close}> (open: <${top.name}>) at ${m.index}`)
      stack.pop()
    } else if (open) {
      const attrs: Record<string, string> = {}
      for (const a of (attrText ?? "").matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]!] = decode(a[2]!)
      const node: SvgNode = { name: open, attrs, children: [], text: "" }
      top.children.push(node)
      if (!selfClose) stack.push(node)
    } else if (text !== undefined) {
      top.text += decode(text)
    }
  }
  if (stack.length !== 1) throw new Error(`unclosed <${stack[stack.length - 1]!.name}>`)
  const svg = root.children.find((c) => c.name === "svg")
  if (!svg) throw new Error("no <svg> element")
  return svg
}

export const walk = function*(node: SvgNode): Generator<SvgNode> {
  yield node
  for (const c of node.children) yield* walk(c)
}

export const hasClass = (node: SvgNode, cls: string) => (node.attrs.class ?? "").split(/\s+/).includes(cls)

/** Nodes carrying every class in `classes`. */
export const byClass = (root: SvgNode, ...classes: ReadonlyArray<string>) => [...walk(root)].filter((n) => classes.every((c) => hasClass(n, c)))

/** Marks Vega drew for the Vega-Lite mark named `name` (all facets): the items of its mark groups. */
export const marksNamed = (root: SvgNode, name: string) => byClass(root, "role-mark", `${name}_marks`).flatMap((g) => g.children)

/** Full text of a node, its tspans included. */
export const textOf = (node: SvgNode): string => node.text + node.children.map(textOf).join("")

/** Text of every visible <text> (Vega hides culled axis labels with opacity 0). */
export const visibleTexts = (root: SvgNode) => [...walk(root)].filter((n) => n.name === "text" && n.attrs.opacity !== "0").map(textOf)
