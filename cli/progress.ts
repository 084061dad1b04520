import type { StatsSnapshot } from "../pipelines/services.ts"

const fmtEta = (s: number | undefined) => (s === undefined ? "" : s < 60 ? `${Math.ceil(s)}s` : `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, "0")}s`)

/** One line per stage: counts, throughput and ETA where the source knows its size. */
export const renderProgress = (stages: ReadonlyArray<StatsSnapshot>): string => {
  const name = Math.max(5, ...stages.map((s) => s.name.length))
  const head = `${"stage".padEnd(name)}  ${"in".padStart(9)}  ${"out".padStart(9)}  ${"rejected".padStart(8)}  ${"dropped".padStart(8)}  ${"rec/s".padStart(9)}  eta`
  const rows = stages.map((s) =>
    `${s.name.padEnd(name)}  ${String(s.in).padStart(9)}  ${String(s.out).padStart(9)}  ${String(s.rejected).padStart(8)}  ${String(s.dropped).padStart(8)}  ${String(s.perSecond).padStart(9)}  ${fmtEta(s.etaSeconds)}`
  )
  return [head, ...rows].join("\n")
}

/**
 * Progress on stderr: redrawn in place on a terminal, one compact line every few seconds
 * otherwise (CI logs), so stdout stays clean for data.
 */
export const progressReporter = (stream: NodeJS.WriteStream = process.stderr) => {
  let lastLines = 0
  let lastPlain = 0
  return (stages: ReadonlyArray<StatsSnapshot>) => {
    if (stream.isTTY) {
      const text = renderProgress(stages)
      if (lastLines > 0) stream.write(`\x1b[${lastLines}A\x1b[J`)
      stream.write(`${text}\n`)
      lastLines = text.split("\n").length
    } else if (Date.now() - lastPlain > 5000) {
      lastPlain = Date.now()
      stream.write(`progress: ${stages.map((s) => `${s.name} ${s.in}→${s.out}${s.rejected ? ` (${s.rejected} rejected)` : ""} ${s.perSecond}/s`).join(" | ")}\n`)
    }
  }
}
