/** A Markdown block generated from code, between `<!-- NAME:begin -->` and `<!-- NAME:end -->`. */
const markers = (name: string) => [`<!-- ${name}:begin (generated: do not edit by hand) -->`, `<!-- ${name}:end -->`] as const

export const generatedBlock = (text: string, name: string): string | null => {
  const [begin, end] = markers(name)
  const i = text.indexOf(begin)
  const j = text.indexOf(end)
  return i < 0 || j < i ? null : text.slice(i + begin.length, j).trim()
}

export const replaceGenerated = (text: string, name: string, body: string): string => {
  const [begin, end] = markers(name)
  const i = text.indexOf(begin)
  const j = text.indexOf(end)
  if (i < 0 || j < i) throw new Error(`no ${begin} … ${end} block`)
  return `${text.slice(0, i + begin.length)}\n${body}\n${text.slice(j)}`
}
