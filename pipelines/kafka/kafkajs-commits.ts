import { createRequire } from "node:module"

/**
 * Offset commits that run behind the handling, for kafkajs 2.2.4 consumers that ask for it
 * (kafkajs-transport.ts marks every group consumer's `eachBatch`). kafkajs commits a consumer's
 * positions after every handled batch and waits for the broker's answer before it hands over the
 * next batch: on a quiet 2-core machine an OffsetCommit round trip took ~8 ms, a quarter of a plain
 * consumer's time over 100,000 records (bench/kafka: 6 commits, 45–58 ms of 180–250).
 *
 * Here the commit after a handled batch is sent, and the next batch is handed over at once; only
 * the commit before it is waited for. So at most one commit is outstanding, commits stay in order,
 * and each still carries only positions of batches whose handler had resolved (kafkajs commits the
 * resolved offsets when the request is made): a batch is never committed before it was handled, as
 * before. What changes: a process that dies may leave the last handled batch uncommitted where it
 * would have been committed a few milliseconds later — the same as dying just before kafkajs' own
 * commit, which the sinks already survive (they land idempotently; test/pipelines/kafka/faults.test.ts).
 *
 * Every other commit kafkajs makes (after a handler failed, before a rebalance) first waits for
 * the outstanding one, then commits and is waited for, as before. A failed commit behind the
 * handling surfaces at the next batch's commit of the same generation, in kafkajs' own flow, which
 * recovers from it as it would have; one from a generation kafkajs has since left (it rejoined) is dropped, since
 * the new generation starts from the broker's committed positions anyway. Stopping waits for the
 * outstanding commit before the member leaves its group.
 *
 * Installed by kafkajs-patches.ts on kafkajs' consumer Runner; FLEUVE_KAFKAJS_PIPELINED_COMMITS=0
 * leaves kafkajs' own commits.
 */

const require = createRequire(import.meta.url)

const PIPELINED = Symbol.for("fleuve.kafkajs.pipelined-commits")
const STATE = Symbol("fleuve.kafkajs.commits")

/** `eachBatch` marked so that its consumer's commits after handled batches run behind the handling. */
export const pipelinedCommits = <F extends (...args: Array<never>) => unknown>(eachBatch: F): F => Object.assign(eachBatch, { [PIPELINED]: true })

interface Runner {
  readonly eachBatch?: { [PIPELINED]?: boolean }
  readonly autoCommit: boolean
  readonly consumerGroup: { readonly offsetManager: object }
  processEachBatch(batch: unknown): Promise<void>
  autoCommitOffsets(): Promise<void> | undefined
  waitForConsumer(): Promise<void>
  [STATE]?: CommitState
}

interface CommitState {
  /** the outstanding commit (resolved when none), and the generation (offset manager) it belongs to */
  outstanding: Promise<void>
  generation: object | undefined
  /** a commit is queued behind the outstanding one and has not started: later batches' offsets ride on it */
  queued: boolean
  /** batches handled whose commit (the next autoCommitOffsets call) may run behind */
  deferrable: number
}

/** How many commits ran behind the handling (tests). */
export const commitCounts = { behind: 0 }

const stateOf = (runner: Runner): CommitState => (runner[STATE] ??= { outstanding: Promise.resolve(), generation: undefined, queued: false, deferrable: 0 })

/** The outstanding commit as the current generation should see it: another generation's failure is dropped. */
const settledFor = (runner: Runner, s: CommitState): Promise<void> =>
  s.generation !== undefined && s.generation !== runner.consumerGroup.offsetManager ? s.outstanding.catch(() => undefined) : s.outstanding

/** Wraps kafkajs' Runner (kafkajs/src/consumer/runner.js): processEachBatch, autoCommitOffsets and waitForConsumer. */
export const installPipelinedCommits = (): boolean => {
  const Runner = require("kafkajs/src/consumer/runner") as { prototype: Runner }
  const proto = Runner.prototype
  if ((proto.autoCommitOffsets as { [PIPELINED]?: boolean })[PIPELINED]) return true
  const processEachBatch = proto.processEachBatch
  const autoCommitOffsets = proto.autoCommitOffsets
  const waitForConsumer = proto.waitForConsumer

  // kafkajs calls autoCommitOffsets right after a batch's processEachBatch resolved (runner.js
  // handleBatch); a handler that failed commits inside processEachBatch, before it rejects.
  proto.processEachBatch = async function(this: Runner, batch: unknown) {
    await processEachBatch.call(this, batch)
    if (this.eachBatch?.[PIPELINED] && this.autoCommit) stateOf(this).deferrable++
  }

  proto.autoCommitOffsets = Object.assign(function(this: Runner): Promise<void> | undefined {
    if (!this.eachBatch?.[PIPELINED] || !this.autoCommit) return autoCommitOffsets.call(this)
    const s = stateOf(this)
    const previous = settledFor(this, s)
    if (s.deferrable > 0) {
      s.deferrable--
      commitCounts.behind++
      if (!s.queued) {
        s.queued = true
        const generation = this.consumerGroup.offsetManager
        // After the previous commit; a failed previous is reported to whoever waits for it (below), and this one is dropped with it.
        const next = previous.then(
          () => {
            s.queued = false
            return autoCommitOffsets.call(this)
          },
          () => {
            s.queued = false
          }
        )
        next.catch(() => undefined)
        s.outstanding = next
        s.generation = generation
      }
      // kafkajs waits only for the commit before this one
      return previous
    }
    // This commit carries every position the outstanding one did (kafkajs commits whatever is
    // resolved and not yet committed), so its own outcome is the one to report.
    const now = previous.catch(() => undefined).then(() => autoCommitOffsets.call(this))
    s.outstanding = now.catch(() => undefined)
    s.generation = undefined
    s.queued = false
    return now
  }, { [PIPELINED]: true })

  proto.waitForConsumer = async function(this: Runner) {
    await waitForConsumer.call(this)
    // the last commit lands before the member leaves its group
    if (this[STATE]) await this[STATE].outstanding.catch(() => undefined)
  }
  return true
}
