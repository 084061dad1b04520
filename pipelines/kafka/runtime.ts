import { Effect, Layer } from "effect"
import { hostname } from "node:os"
import { messageOf } from "../../lib/error-message.ts"
import { redact } from "../../lib/redact.ts"
import { OperatorStats } from "../../operators/stats.ts"
import type { DeadLetter } from "../../schemas/dead-letter.ts"
import { dlqTopic, type Pipeline, type PipelineNode, type SinkNode, type SourceNode, type StageNode, validateGraph } from "../runtime/graph.ts"
import { PipelineFailure, PipelineRuntime, type ReplayFrom, type RunOptions, type RunReport } from "../runtime/runtime.ts"
import { transportOf } from "./transports.ts"
import { groupLag, totalLag } from "./lag.ts"
import {
  deadLetterGroupOf,
  dlqTopicsOf,
  groupOf,
  journalGroupOf,
  type KafkaContext,
  prepareCluster,
  produceRun,
  type RunningNode,
  runnerOf,
  runSource,
  startDeadLetterSink,
  startJournalSink,
  startSink,
  startStage
} from "./nodes.ts"
import { runInProgress } from "./run-in-progress.ts"
import { makeSerde } from "./serde.ts"
import { describeSettings, type KafkaSettings } from "./settings.ts"


// Client errors may quote a URL with its credentials: every failure message is redacted.
const failure = (pipeline: Pipeline, what: string) => (e: unknown) => new PipelineFailure({ pipeline: pipeline.name, message: redact(`${what}: ${messageOf(e)}`) })

/** A transport and a serde for one run or one worker; closed with the scope. */
export const kafkaContext = (settings: KafkaSettings, options: { instanceId?: string; transactionTimeoutMs?: number; onDeadLetters?: (l: ReadonlyArray<DeadLetter>) => void } = {}) =>
  Effect.acquireRelease(
    Effect.sync((): KafkaContext => ({
      settings,
      transport: transportOf(settings),
      serde: makeSerde(settings),
      instanceId: options.instanceId ?? defaultInstanceId(),
      ...(options.transactionTimeoutMs ? { transactionTimeoutMs: options.transactionTimeoutMs } : {}),
      ...(options.onDeadLetters ? { onDeadLetters: options.onDeadLetters } : {})
    })),
    (ctx) => Effect.promise(() => ctx.transport.close())
  )

/** Stable per host (a container's hostname, a machine's name) so a restarted worker fences its predecessor. */
export const defaultInstanceId = () => process.env.FLEUVE_WORKER_ID ?? hostname()

/** Consumer nodes in data-flow order: each after the nodes that feed its input topic. */
const flowOrder = (pipeline: Pipeline): ReadonlyArray<StageNode | SinkNode> => {
  const ready = new Set(pipeline.nodes.filter((n): n is SourceNode => n._tag === "Source").map((n) => n.output))
  const pending = pipeline.nodes.filter((n): n is StageNode | SinkNode => n._tag !== "Source")
  const order: Array<StageNode | SinkNode> = []
  while (pending.length > 0) {
    const i = pending.findIndex((n) => ready.has(n.input))
    const next = pending.splice(i === -1 ? 0 : i, 1)[0]!
    order.push(next)
    if (next._tag === "Stage") ready.add(next.output)
  }
  return order
}

const resetGroups = (ctx: KafkaContext, pipeline: Pipeline, nodes: ReadonlyArray<StageNode | SinkNode>, from: ReplayFrom) =>
  Effect.forEach(nodes, (node) =>
    Effect.tryPromise({
      try: () => (from._tag === "Committed" ? Promise.resolve() : ctx.transport.resetGroup(groupOf(pipeline, node), node.input, from)),
      catch: failure(pipeline, `cannot move the positions of ${groupOf(pipeline, node)} (stop its workers first)`)
    }), { discard: true })

/** Waits until a group has handled everything in its topics, seen twice in a row. */
const caughtUp = (ctx: KafkaContext, groupId: string, topics: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    let zeroes = 0
    while (zeroes < 2) {
      const lag = totalLag(await groupLag(ctx.transport, groupId, topics))
      zeroes = lag === 0n ? zeroes + 1 : 0
      await new Promise((r) => setTimeout(r, 200))
    }
  })

/**
 * Runs a whole graph against a cluster from this process, as a bounded job: sources produce,
 * every stage and sink runs as its consumer group, and the run ends once each group, in data-flow
 * order, has handled everything upstream wrote. Workers started elsewhere (`fleuve worker`) may
 * share the groups: partitions are then spread over all members.
 */
export const runOnKafka = (settings: KafkaSettings) =>
  <R>(pipeline: Pipeline<R>, options: RunOptions = {}): Effect.Effect<RunReport, PipelineFailure, R> =>
    Effect.scoped(Effect.gen(function*() {
      const problems = validateGraph(pipeline)
      if (problems.length > 0) return yield* new PipelineFailure({ pipeline: pipeline.name, message: problems.join("; ") })
      const started = performance.now()
      const deadLetters: Array<DeadLetter> = []
      const ctx = yield* kafkaContext(
        options.partitions ? { ...settings, partitions: options.partitions } : settings,
        { onDeadLetters: (l) => deadLetters.push(...l) }
      )
      yield* prepareCluster(ctx, pipeline).pipe(Effect.mapError(failure(pipeline, `cannot prepare the cluster (${describeSettings(settings)})`)))
      const consumers = flowOrder(pipeline)
      const elsewhere = new Set(options.elsewhere ?? [])
      const unknown = [...elsewhere].filter((n) => !consumers.some((c) => c.name === n))
      if (unknown.length > 0) return yield* new PipelineFailure({ pipeline: pipeline.name, message: `no stage or sink named ${unknown.join(", ")} to leave to workers` })
      // A pipeline with runs ends when its sinks land the run's end marker, here.
      const remoteSinks = consumers.filter((n) => n._tag === "Sink" && elsewhere.has(n.name)).map((n) => n.name)
      if (pipeline.runs && remoteSinks.length > 0) {
        return yield* new PipelineFailure({ pipeline: pipeline.name, message: `${remoteSinks.join(", ")}: the sinks of ${pipeline.name} close its run in this process and cannot be left to workers` })
      }
      if (pipeline.runs) {
        const busy = yield* Effect.tryPromise({ try: () => runInProgress(ctx, pipeline, consumers), catch: failure(pipeline, "cannot read the sinks' consumer groups") })
        if (busy) return yield* new PipelineFailure({ pipeline: pipeline.name, message: busy })
      }
      if (options.from) yield* resetGroups(ctx, pipeline, consumers, options.from)

      const stats = new Map<string, OperatorStats>(pipeline.nodes.map((n) => [n.name, new OperatorStats(n.name)]))
      const snapshot = () => [...stats.values()].map((s) => s.snapshot())
      const run = runnerOf(yield* Effect.context<R>())
      // Indexed like `consumers`; undefined for a node whose members run in other processes.
      const local: Array<RunningNode | undefined> = []
      const running: Array<RunningNode> = []
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(running.map((r) => r.close().catch(() => undefined)))))

      const progress = options.onProgress ? setInterval(() => options.onProgress!(snapshot()), options.progressIntervalMs ?? 500) : undefined
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(progress)))

      const body = Effect.gen(function*() {
        for (const node of consumers) {
          if (elsewhere.has(node.name)) {
            local.push(undefined)
            continue
          }
          const s = stats.get(node.name)!
          const r = yield* Effect.tryPromise({
            try: () => (node._tag === "Stage" ? startStage(ctx, pipeline, node, s, run) : startSink(ctx, pipeline, node, s, run)),
            catch: failure(pipeline, node.name)
          })
          local.push(r)
          running.push(r)
        }
        const dlqStats = new OperatorStats("dead-letters")
        // Dead letters of a stage run elsewhere are seen here only as the sink lands them: the report counts them then.
        const remoteDlq = new Set(consumers.filter((n) => n._tag === "Stage" && elsewhere.has(n.name)).map((n) => dlqTopic((n as StageNode).input)))
        const dlqSink = yield* Effect.tryPromise({
          try: () => startDeadLetterSink(ctx, pipeline, dlqStats, run, (topic, letters) => (remoteDlq.has(topic) ? deadLetters.push(...letters) : undefined)),
          catch: failure(pipeline, "dead-letters")
        })
        if (dlqSink) running.push(dlqSink)
        const journalSink = yield* Effect.tryPromise({ try: () => startJournalSink(ctx, pipeline, new OperatorStats("journal"), run), catch: failure(pipeline, "journal") })
        if (journalSink) running.push(journalSink)

        const produce = pipeline.runs ? produceRun : runSource
        yield* Effect.forEach(
          pipeline.nodes.filter((n): n is SourceNode => n._tag === "Source"),
          (node) => Effect.tryPromise({ try: () => produce(ctx, pipeline, node, stats.get(node.name)!, run), catch: failure(pipeline, node.name) }),
          { concurrency: "unbounded", discard: true }
        )
        if (pipeline.runs) {
          // The run is over when every sink has landed its end marker: each stage, in whichever worker
          // owns it, flushed at that marker and committed everything before it.
          yield* Effect.promise(() => Promise.all(running.flatMap((r) => (r.ended ? [r.ended] : []))))
        } else {
          for (const [i, node] of consumers.entries()) {
            yield* caughtUp(ctx, groupOf(pipeline, node), [node.input])
            // Stateful operators emit what they held back once their input is exhausted (a node run
            // elsewhere flushes in its own process).
            const here = local[i]
            if (here) yield* Effect.tryPromise({ try: () => here.flush(), catch: failure(pipeline, node.name) })
            if (node._tag === "Stage") yield* caughtUp(ctx, groupOf(pipeline, node), [node.input])
          }
        }
        if (dlqSink) yield* caughtUp(ctx, deadLetterGroupOf(pipeline), dlqTopicsOf(pipeline))
        // Every stage's decisions (written by whichever worker owned its partitions) are landed before the sinks close.
        if (journalSink) yield* caughtUp(ctx, journalGroupOf(pipeline), [pipeline.journal!.topic])
        for (const node of consumers) if (node._tag === "Sink" && node.close) yield* Effect.tryPromise({ try: () => run(node.close!), catch: failure(pipeline, node.name) })
      })
      // A consumer that crashes fails the run instead of leaving it waiting for lag that never drains.
      const crashed = Effect.tryPromise({
        try: () => new Promise<never>((_, reject) => {
          const watch = () => running.forEach((r) => r.consumer.done.catch(reject))
          watch()
          const timer = setInterval(watch, 1000)
          timer.unref()
        }),
        catch: failure(pipeline, "a consumer stopped")
      })
      yield* Effect.raceFirst(body, crashed)
      options.onProgress?.(snapshot(), true)

      const committed: Record<string, number> = {}
      for (const node of consumers) {
        if (node._tag !== "Sink") continue
        const offsets = yield* Effect.promise(() => ctx.transport.groupOffsets(groupOf(pipeline, node), [node.input]))
        for (const o of offsets) committed[`${o.topic}/${o.partition}`] = Number(o.offset)
      }
      return {
        pipeline: pipeline.name,
        runtime: "kafka",
        elapsedMs: performance.now() - started,
        stages: snapshot(),
        deadLetters,
        committed
      } satisfies RunReport
    }))

/** Attempts a source's worker makes before it gives up (pauses of 1, 2, 4, then 10 s between them: about a minute); FLEUVE_KAFKA_SOURCE_ATTEMPTS. */
const SOURCE_ATTEMPTS = 8

/**
 * Runs `attempt` until it succeeds. After a failure it logs `say(message, seconds)`, waits 1 s
 * doubling to 10 s (back to 1 s after an attempt that ran over 30 s) and runs it again; the
 * failure of attempt `maxAttempts` is the result. Every worker restarts its clients through this.
 */
const withRestarts = <E extends { readonly message: string }, R>(
  attempt: Effect.Effect<void, E, R>,
  log: (line: string) => void,
  say: (message: string, seconds: number) => string,
  maxAttempts = Infinity
): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    let pause = 1000
    for (let n = 1; ; n++) {
      const began = Date.now()
      const result = yield* Effect.result(attempt)
      if (result._tag === "Success") return
      if (n >= maxAttempts) return yield* Effect.fail(result.failure)
      if (Date.now() - began > 30000) pause = 1000
      log(say(result.failure.message, pause / 1000))
      yield* Effect.sleep(pause)
      pause = Math.min(10000, pause * 2)
    }
  })

export interface WorkerOptions {
  readonly instanceId?: string
  readonly from?: ReplayFrom
  readonly transactionTimeoutMs?: number
  /** Stop once the group has handled everything in its input (replays); default: run until interrupted. */
  readonly untilCaughtUp?: boolean
  /** Called with the node's counters every few seconds (the CLI prints them on stderr). */
  readonly onProgress?: (stats: ReadonlyArray<OperatorStats>) => void
  readonly log?: (line: string) => void
}

/**
 * Runs one node of a graph as a long-lived worker process: a stage or sink joins its consumer
 * group (N workers share the partitions) and runs until interrupted; a sink's worker also lands
 * the dead-letter topics. A failure (broker gone, transaction fenced) closes every client and
 * starts again from the committed positions after a pause: nothing is lost, and the idempotent
 * sinks make the replayed records harmless. A source's worker produces its records and returns.
 */
export const runWorker = <R>(settings: KafkaSettings, pipeline: Pipeline<R>, nodeName: string, options: WorkerOptions = {}): Effect.Effect<void, PipelineFailure, R> =>
  Effect.gen(function*() {
    const node = pipeline.nodes.find((n) => n.name === nodeName)
    if (!node) {
      return yield* new PipelineFailure({ pipeline: pipeline.name, message: `no node '${nodeName}'; nodes: ${pipeline.nodes.map((n) => n.name).join(", ")}` })
    }
    const log = options.log ?? ((line: string) => process.stderr.write(`${new Date().toISOString()} ${redact(line)}\n`))
    const run = runnerOf(yield* Effect.context<R>())
    const stats = [new OperatorStats(node.name), new OperatorStats("dead-letters")]
    const ctxOptions = { instanceId: options.instanceId ?? defaultInstanceId(), ...(options.transactionTimeoutMs ? { transactionTimeoutMs: options.transactionTimeoutMs } : {}) }
    log(`worker ${node.name} of ${pipeline.name} (instance ${ctxOptions.instanceId}) on ${describeSettings(settings)}`)

    if (node._tag === "Source") {
      // A failure (a broker restarting or unreachable, a leader moving) closes the clients and goes
      // on from the first record not acknowledged; the batch that failed may then be written twice
      // (a source is at least once; the sinks are idempotent on the key).
      const produce = Effect.scoped(Effect.gen(function*() {
        const acknowledged = stats[0]!.snapshot().out
        const ctx = yield* kafkaContext(settings, ctxOptions)
        yield* prepareCluster(ctx, pipeline).pipe(Effect.mapError(failure(pipeline, "cannot prepare the cluster")))
        yield* Effect.tryPromise({ try: () => runSource(ctx, pipeline, node, stats[0]!, run, { skip: acknowledged }), catch: failure(pipeline, node.name) })
      }))
      const attempts = settings.sourceAttempts ?? SOURCE_ATTEMPTS
      yield* withRestarts(produce, log, (message, seconds) => `source ${node.name}: ${message}; ${stats[0]!.snapshot().out} records acknowledged, going on from there in ${seconds}s`, attempts).pipe(
        Effect.tapError((f) => Effect.sync(() => log(`source ${node.name}: ${f.message}; giving up after ${attempts} attempts`)))
      )
      log(`source ${node.name}: produced ${stats[0]!.snapshot().out} records to ${node.output}`)
      return
    }

    let first = true
    const once = Effect.scoped(Effect.gen(function*() {
      const ctx = yield* kafkaContext(settings, ctxOptions)
      yield* prepareCluster(ctx, pipeline).pipe(Effect.mapError(failure(pipeline, "cannot prepare the cluster")))
      if (first && options.from) yield* resetGroups(ctx, pipeline, [node as StageNode | SinkNode], options.from)
      first = false
      const running: Array<RunningNode> = []
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(running.map((r) => r.close().catch(() => undefined)))))
      const start = async () => {
        running.push(node._tag === "Stage" ? await startStage(ctx, pipeline, node, stats[0]!, run) : await startSink(ctx, pipeline, node as SinkNode, stats[0]!, run))
        if (node._tag === "Sink") {
          const d = await startDeadLetterSink(ctx, pipeline, stats[1]!, run)
          if (d) running.push(d)
          const j = await startJournalSink(ctx, pipeline, new OperatorStats("journal"), run)
          if (j) running.push(j)
        }
      }
      yield* Effect.tryPromise({ try: start, catch: failure(pipeline, node.name) })
      log(`worker ${node.name}: consuming ${(node as StageNode).input} as group ${groupOf(pipeline, node as PipelineNode)}`)
      const stopped = Effect.tryPromise({ try: () => Promise.race(running.map((r) => r.consumer.done)), catch: failure(pipeline, node.name) })
      if (!options.untilCaughtUp) return yield* stopped
      const input = (node as StageNode | SinkNode).input
      // Give the group time to join before a zero lag can mean "done".
      yield* Effect.sleep(1000)
      yield* Effect.raceFirst(stopped, caughtUp(ctx, groupOf(pipeline, node as PipelineNode), [input]))
      log(`worker ${node.name}: caught up with ${input}`)
    }))

    const progress = options.onProgress ? setInterval(() => options.onProgress!(stats), 5000) : undefined
    yield* withRestarts(once, log, (message, seconds) => `worker ${node.name}: ${message}; restarting from the committed positions in ${seconds}s`).pipe(
      // The last counts once more as the worker stops (SIGTERM included): what it did in all.
      Effect.ensuring(Effect.sync(() => {
        clearInterval(progress)
        options.onProgress?.(stats)
      }))
    )
  })

/** The Kafka runtime as a `PipelineRuntime`: `fleuve run --runtime kafka`. */
export const KafkaRuntime = (settings: KafkaSettings) =>
  Layer.succeed(PipelineRuntime, PipelineRuntime.of({ name: "kafka", run: runOnKafka(settings) }))
