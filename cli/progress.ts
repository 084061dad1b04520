import type { StatsSnapshot } from "../pipelines/services.ts"

const fmtEta = (s: number | undefined) => (s === undefined ? "" : s < 60 ? `${Math.ceil(s)}s` : `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, "0")}s`)
const fmtMb = (mb: number | undefined) => (mb === undefined ? "" : mb.toFixed(2))

/** One line per stage: counts, throughput (records/s, and MB/s where the source measures bytes) and ETA where the source knows its size. */
export const renderProgress = (stages: ReadonlyArray<StatsSnapshot>): string => {
  const name = Math.max(5, ...stages.map((s) => s.name.length))
  const head = `${"stage".padEnd(name)}  ${"in".padStart(9)}  ${"out".padStart(9)}  ${"rejected".padStart(8)}  ${"dropped".padStart(8)}  ${"rec/s".padStart(9)}  ${"MB/s".padStart(7)}  eta`
  const rows = stages.map((s) =>
    `${s.name.padEnd(name)}  ${String(s.in).padStart(9)}  ${String(s.out).padStart(9)}  ${String(s.rejected).padStart(8)}  ${String(s.dropped).padStart(8)}  ${String(s.perSecond).padStart(9)}  ${fmtMb(s.mbPerSecond).padStart(7)}  ${fmtEta(s.etaSeconds)}`
  )
  return [head, ...rows].join("\n")
}

/** One log line: every stage's counts and rates, the source's MB/s and ETA where known. */
export const renderProgressLine = (stages: ReadonlyArray<StatsSnapshot>, final = false): string => {
  const elapsed = Math.max(0, ...stages.map((s) => s.elapsedSeconds ?? 0))
  const parts = stages.map((s) =>
    `${s.name} ${s.in}→${s.out}${s.rejected ? ` (${s.rejected} rejected)` : ""}${s.dropped ? ` (${s.dropped} dropped)` : ""} ${s.perSecond}/s` +
    (s.mbPerSecond === undefined ? "" : ` ${fmtMb(s.mbPerSecond)} MB/s`) +
    (!final && s.etaSeconds !== undefined ? ` eta ${fmtEta(s.etaSeconds)}` : "")
  )
  return `progress${final ? " (done)" : ""} ${elapsed.toFixed(1)}s: ${parts.join(" | ")}`
}

/** Seconds between log lines without a terminal: FLEUVE_PROGRESS_INTERVAL, default 5. */
const intervalMs = () => {
  const v = Number(process.env.FLEUVE_PROGRESS_INTERVAL)
  return Number.isFinite(v) && v > 0 ? v * 1000 : 5000
}

/**
 * Progress on stderr: redrawn in place on a terminal; otherwise (CI, logs, `2> file`) one line
 * every FLEUVE_PROGRESS_INTERVAL seconds (default 5) and a final line when the run ends, so a log
 * always shows where the run got to and how fast. stdout stays clean for data.
 */
export const progressReporter = (stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now) => {
  let lastLines = 0
  const started = now()
  let lastPlain = started
  const every = intervalMs()
  return (stages: ReadonlyArray<StatsSnapshot>, final = false) => {
    if (stream.isTTY) {
      const text = renderProgress(stages)
      if (lastLines > 0) stream.write(`\x1b[${lastLines}A\x1b[J`)
      stream.write(`${text}\n`)
      lastLines = text.split("\n").length
    } else if (final || now() - lastPlain >= every) {
      lastPlain = now()
      stream.write(`${renderProgressLine(stages, final)}\n`)
    }
  }
}
