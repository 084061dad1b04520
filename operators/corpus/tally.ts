/**
 * What one corpus operator did: records kept unchanged, kept but changed, dropped by reason,
 * plus free-form counters (e.g. PII replacements per type). OperatorStats counts records in and
 * out of a stage; a stage fuses several corpus operators, so each keeps its own tally.
 */
export class Tally {
  kept = 0
  changed = 0
  dropped = 0
  rejected = 0
  readonly dropReasons = new Map<string, number>()
  readonly counters = new Map<string, number>()

  constructor(readonly name: string) {}

  keep(changed = false) {
    if (changed) this.changed++
    else this.kept++
  }
  drop(reason: string) {
    this.dropped++
    this.dropReasons.set(reason, (this.dropReasons.get(reason) ?? 0) + 1)
  }
  reject() {
    this.rejected++
  }
  count(counter: string, n = 1) {
    this.counters.set(counter, (this.counters.get(counter) ?? 0) + n)
  }

  snapshot() {
    return {
      name: this.name,
      kept: this.kept,
      changed: this.changed,
      dropped: this.dropped,
      rejected: this.rejected,
      dropReasons: Object.fromEntries(this.dropReasons),
      counters: Object.fromEntries(this.counters)
    }
  }
}
export type TallySnapshot = ReturnType<Tally["snapshot"]>
