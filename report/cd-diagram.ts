import { FONT_FAMILY, textWidth } from "./text-metrics.ts"

/**
 * Critical-difference diagram in Demšar's layout (J. Demšar, "Statistical Comparisons of
 * Classifiers over Multiple Data Sets", JMLR 7, 2006), written as SVG by hand because it is not a
 * chart grammar shape: a rank axis, each system on an elbow to the left (better half) or right
 * (worse half), the CD bar, and thick bars joining groups whose mean ranks differ by at most CD.
 */
export interface CdInput {
  readonly title: string
  readonly subtitle: string
  readonly cd: number
  /** Systems with their average rank (1 = best). */
  readonly ranks: ReadonlyArray<{ readonly system: string; readonly avgRank: number }>
}

/**
 * Groups of systems not significantly different: for each system (sorted by rank), the run of
 * systems whose rank is within CD of it; runs inside a longer run are dropped. Indices into the
 * sorted list, both ends inclusive.
 */
export const cliques = (sortedRanks: ReadonlyArray<number>, cd: number): ReadonlyArray<readonly [number, number]> => {
  const runs: Array<readonly [number, number]> = []
  let lastEnd = -1
  for (let i = 0; i < sortedRanks.length; i++) {
    let j = i
    // A tiny tolerance so a difference that equals CD up to float noise counts as "at most CD".
    while (j + 1 < sortedRanks.length && sortedRanks[j + 1]! - sortedRanks[i]! <= cd + 1e-12) j++
    if (j > i && j > lastEnd) runs.push([i, j])
    lastEnd = Math.max(lastEnd, j)
  }
  return runs
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const FONT = 11
const TITLE = 14
const SUB = 11
const ROW = 20
const SIDE = 24 // horizontal run of an elbow beyond the axis ends

export const drawCdDiagram = (input: CdInput): string => {
  const sorted = [...input.ranks].sort((a, b) => a.avgRank - b.avgRank || (a.system < b.system ? -1 : a.system > b.system ? 1 : 0))
  const k = sorted.length
  const label = (s: { system: string; avgRank: number }) => `${s.system} (${s.avgRank.toFixed(2)})`
  const leftCount = Math.ceil(k / 2)
  const left = sorted.slice(0, leftCount)
  const right = sorted.slice(leftCount)
  const leftWidth = Math.ceil(Math.max(0, ...left.map((s) => textWidth(label(s), FONT))))
  const rightWidth = Math.ceil(Math.max(0, ...right.map((s) => textWidth(label(s), FONT))))

  // The axis spans ranks 1..k, or further when the CD bar is longer than the axis.
  const maxRank = Math.max(k, 1 + input.cd, 2)
  const perRank = Math.max(48, Math.min(80, 520 / (maxRank - 1)))
  const axisWidth = (maxRank - 1) * perRank
  const margin = 12
  const axisLeft = margin + leftWidth + 6 + SIDE
  const axisRight = axisLeft + axisWidth
  const x = (rank: number) => axisLeft + (rank - 1) * perRank

  const titleY = margin + TITLE
  const subY = titleY + SUB + 6
  const cdY = subY + 30
  const axisY = cdY + 34
  const groups = cliques(sorted.map((s) => s.avgRank), input.cd)
  const cliqueTop = axisY + 10
  const cliqueGap = 7
  const firstRowY = cliqueTop + groups.length * cliqueGap + 14
  const rowY = (i: number) => firstRowY + i * ROW
  const rows = Math.max(left.length, right.length)
  const height = Math.ceil(rowY(rows - 1) + margin + 6)
  const contentWidth = axisRight + SIDE + 6 + rightWidth + margin
  const headerWidth = margin * 2 + Math.max(textWidth(input.title, TITLE, "bold"), textWidth(input.subtitle, SUB))
  const width = Math.ceil(Math.max(contentWidth, headerWidth))

  const parts: Array<string> = []
  const font = `font-family="${esc(FONT_FAMILY)}"`
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`)
  parts.push(`<text class="cd-title" x="${margin}" y="${titleY}" ${font} font-size="${TITLE}" font-weight="bold" fill="#000000">${esc(input.title)}</text>`)
  parts.push(`<text class="cd-subtitle" x="${margin}" y="${subY}" ${font} font-size="${SUB}" fill="#444444">${esc(input.subtitle)}</text>`)

  // CD bar, from rank 1, with end ticks and its length written above.
  const cdEnd = x(1 + input.cd)
  parts.push(`<g class="cd-bar" stroke="#000000" stroke-width="1.5">` +
    `<line x1="${x(1)}" y1="${cdY}" x2="${cdEnd}" y2="${cdY}"/>` +
    `<line x1="${x(1)}" y1="${cdY - 5}" x2="${x(1)}" y2="${cdY + 5}"/>` +
    `<line x1="${cdEnd}" y1="${cdY - 5}" x2="${cdEnd}" y2="${cdY + 5}"/></g>`)
  parts.push(`<text class="cd-bar-label" x="${(x(1) + cdEnd) / 2}" y="${cdY - 8}" text-anchor="middle" ${font} font-size="${FONT}" fill="#000000">CD = ${input.cd.toFixed(2)}</text>`)

  // Rank axis with ticks at every rank and half rank; numbers above.
  const axis = [`<line x1="${x(1)}" y1="${axisY}" x2="${x(maxRank)}" y2="${axisY}"/>`]
  const numbers: Array<string> = []
  for (let r = 1; r <= Math.floor(maxRank) + 1e-9; r++) {
    axis.push(`<line x1="${x(r)}" y1="${axisY - 6}" x2="${x(r)}" y2="${axisY}"/>`)
    numbers.push(`<text x="${x(r)}" y="${axisY - 9}" text-anchor="middle">${r}</text>`)
    if (r + 0.5 <= maxRank) axis.push(`<line x1="${x(r + 0.5)}" y1="${axisY - 3}" x2="${x(r + 0.5)}" y2="${axisY}"/>`)
  }
  parts.push(`<g class="cd-axis" stroke="#000000" stroke-width="1">${axis.join("")}</g>`)
  parts.push(`<g class="cd-axis-labels" ${font} font-size="${FONT}" fill="#000000">${numbers.join("")}</g>`)

  // Elbows: better half to the left (best on the top row), worse half to the right (worst on top).
  const elbows: Array<string> = []
  const labels: Array<string> = []
  left.forEach((s, i) => {
    const y = rowY(i)
    elbows.push(`<polyline points="${x(s.avgRank)},${axisY} ${x(s.avgRank)},${y} ${axisLeft - SIDE},${y}"/>`)
    labels.push(`<text class="cd-label" x="${axisLeft - SIDE - 6}" y="${y + 4}" text-anchor="end">${esc(label(s))}</text>`)
  })
  right.forEach((s, j) => {
    const i = right.length - 1 - j
    const y = rowY(i)
    elbows.push(`<polyline points="${x(s.avgRank)},${axisY} ${x(s.avgRank)},${y} ${axisRight + SIDE},${y}"/>`)
    labels.push(`<text class="cd-label" x="${axisRight + SIDE + 6}" y="${y + 4}" text-anchor="start">${esc(label(s))}</text>`)
  })
  parts.push(`<g class="cd-elbows" fill="none" stroke="#444444" stroke-width="1">${elbows.join("")}</g>`)
  parts.push(`<g class="cd-labels" ${font} font-size="${FONT}" fill="#000000">${labels.join("")}</g>`)

  // Thick bars over groups whose ranks differ by at most CD, stepping down so they never overlap.
  const bars = groups.map(([a, b], g) => {
    const y = cliqueTop + g * cliqueGap
    return `<line class="cd-clique" x1="${x(sorted[a]!.avgRank) - 4}" y1="${y}" x2="${x(sorted[b]!.avgRank) + 4}" y2="${y}"/>`
  })
  parts.push(`<g class="cd-cliques" stroke="#000000" stroke-width="4" stroke-linecap="butt">${bars.join("")}</g>`)

  return `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" class="cd-diagram" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(input.title)}">` +
    `<title>${esc(input.title)}</title>${parts.join("")}</svg>`
}

