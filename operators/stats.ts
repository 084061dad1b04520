/** OperatorStats' counts as plain data. */
export interface OperatorCounts {
  readonly in: number
  readonly out: number
  readonly rejected: number
  readonly dropped: number
  readonly busyMs: number
  readonly rejectReasons: ReadonlyArray<readonly [string, number]>
  readonly dropReasons: ReadonlyArray<readonly [string, number]>
}

/**
 * Counters for one operator or stage. Plain mutable fields on purpose: they are bumped on the hot
 * path of every batch and read by the progress display; Effect Metrics would add allocation per
 * record for no benefit in-process.
 */
export class OperatorStats {
  in = 0
  out = 0
  rejected = 0
  dropped = 0
  busyMs = 0
  readonly startedAt = performance.now()
  readonly rejectReasons = new Map<string, number>()
  readonly dropReasons = new Map<string, number>()
  /** Total records expected, when the source knows it (for ETA). */
  expected: number | undefined
  /** Bytes of payload read, when the source can measure them (for MB/s). */
  bytes: number | undefined

  constructor(readonly name: string) {}

  recordIn(n: number) {
    this.in += n
  }
  recordBytes(n: number) {
    this.bytes = (this.bytes ?? 0) + n
  }
  recordOut(n: number) {
    this.out += n
  }
  recordRejected(reason: string) {
    this.rejected++
    bump(this.rejectReasons, reasonClass(reason))
  }
  recordDropped(reason: string) {
    this.dropped++
    bump(this.dropReasons, reason)
  }
  addBusy(ms: number) {
    this.busyMs += ms
  }

  /** The counts as plain data (a worker thread's, posted to the thread that owns the stats). */
  counts(): OperatorCounts {
    return { in: this.in, out: this.out, rejected: this.rejected, dropped: this.dropped, busyMs: this.busyMs, rejectReasons: [...this.rejectReasons], dropReasons: [...this.dropReasons] }
  }

  /** Adds counts another thread took of the same operator. */
  addCounts(c: OperatorCounts) {
    this.in += c.in
    this.out += c.out
    this.rejected += c.rejected
    this.dropped += c.dropped
    this.busyMs += c.busyMs
    for (const [reason, n] of c.rejectReasons) this.rejectReasons.set(reason, (this.rejectReasons.get(reason) ?? 0) + n)
    for (const [reason, n] of c.dropReasons) this.dropReasons.set(reason, (this.dropReasons.get(reason) ?? 0) + n)
  }

  /** Records in per second of wall time since the stage started. */
  throughput(now = performance.now()): number {
    const seconds = (now - this.startedAt) / 1000
    return seconds > 0 ? this.in / seconds : 0
  }

  etaSeconds(now = performance.now()): number | undefined {
    const rate = this.throughput(now)
    if (this.expected === undefined || rate <= 0) return undefined
    return Math.max(0, (this.expected - this.in) / rate)
  }

  snapshot(now = performance.now()) {
    return {
      name: this.name,
      in: this.in,
      out: this.out,
      rejected: this.rejected,
      dropped: this.dropped,
      perSecond: Math.round(this.throughput(now)),
      mbPerSecond: this.bytes === undefined ? undefined : Math.round((this.bytes / 1e6 / Math.max(1e-3, (now - this.startedAt) / 1000)) * 100) / 100,
      elapsedSeconds: Math.round((now - this.startedAt) / 100) / 10,
      etaSeconds: this.etaSeconds(now),
      rejectReasons: Object.fromEntries(this.rejectReasons),
      dropReasons: Object.fromEntries(this.dropReasons)
    }
  }
}
export type StatsSnapshot = ReturnType<OperatorStats["snapshot"]>

const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1)

/** Groups reasons that differ only by the values quoted in them ("got 'x'" vs "got 'y'"). */
const reasonClass = (reason: string) => reason.replace(/'[^']*'/g, "'…'").replace(/\d+/g, "N").slice(0, 120)
