import { Cause, Effect, Fiber, Layer, Queue, Stream } from "effect"
import type { Envelope } from "../../operators/envelope.ts"
import { applyToBatch, flushOperator, OperatorFailure, type Routed } from "../../operators/operator.ts"
import { OperatorStats } from "../../operators/stats.ts"
import type { DeadLetter } from "../../schemas/dead-letter.ts"
import { dlqTopic, type Pipeline, type SinkNode, type SourceNode, type StageNode, validateGraph } from "./graph.ts"
import { OffloadPool } from "./offload.ts"
import { partitionOf } from "./partition.ts"
import { PipelineFailure, PipelineRuntime, type RunOptions, type RunReport } from "./runtime.ts"

interface Delivery {
  readonly envelope: Envelope<unknown>
  readonly offset: number
}

/** One consumer's view of a topic: a bounded queue per partition. */
interface Subscription {
  readonly partitions: ReadonlyArray<Queue.Queue<Delivery, Cause.Done>>
}

/** An in-process topic: fans every record out to each subscriber, on the key's partition. */
class Topic {
  readonly subscriptions: Array<Subscription> = []
  private readonly offsets: Array<number>
  private producersLeft = 0

  constructor(readonly name: string, readonly partitionCount: number) {
    this.offsets = Array.from({ length: partitionCount }, () => 0)
  }

  addProducer() {
    this.producersLeft++
  }

  publish(envelope: Envelope<unknown>): Effect.Effect<void> {
    const p = partitionOf(envelope.key, this.partitionCount)
    const offset = this.offsets[p]!++
    return Effect.forEach(this.subscriptions, (s) => Queue.offer(s.partitions[p]!, { envelope, offset }), { discard: true })
  }

  /** Called by each producer when done; the last one ends the topic for every subscriber. */
  producerDone(): Effect.Effect<void> {
    this.producersLeft--
    if (this.producersLeft > 0) return Effect.void
    return Effect.forEach(this.subscriptions.flatMap((s) => s.partitions), (q) => Queue.end(q), { discard: true })
  }
}

/** Takes up to `max` records a time until the partition ends; `handle` sees each batch. */
const drainPartition = <E, R>(
  queue: Queue.Queue<Delivery, Cause.Done>,
  max: number,
  handle: (batch: ReadonlyArray<Delivery>) => Effect.Effect<void, E, R>
): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    while (true) {
      const next = yield* Effect.result(Queue.takeBetween(queue, 1, max))
      if (next._tag === "Failure") return
      yield* handle(next.success)
    }
  })

/**
 * drainPartition for a stage whose stateless work runs on worker threads: while the operator
 * handles batch k on this thread, the workers already compute batch k + 1. Two batches at most
 * are in flight, so the bounded queues still hold producers back.
 */
const drainPipelined = <E, R>(
  queue: Queue.Queue<Delivery, Cause.Done>,
  max: number,
  prepare: (batch: ReadonlyArray<Envelope<unknown>>) => Effect.Effect<ReadonlyArray<Envelope<unknown>>, E>,
  handle: (batch: ReadonlyArray<Envelope<unknown>>) => Effect.Effect<void, E, R>
): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    let pending: Fiber.Fiber<ReadonlyArray<Envelope<unknown>>, E> | undefined
    while (true) {
      const next = yield* Effect.result(Queue.takeBetween(queue, 1, max))
      if (next._tag === "Failure") break
      const started = yield* Effect.forkChild(prepare(next.success.map((d) => d.envelope)))
      if (pending) yield* handle(yield* Fiber.join(pending))
      pending = started
    }
    if (pending) yield* handle(yield* Fiber.join(pending))
  })

const failureOf = (pipeline: string, node: string) => (e: OperatorFailure) =>
  new PipelineFailure({ pipeline, message: `${node}: ${e.operator === node ? "" : `${e.operator}: `}${e.message}` })

/**
 * Runs a whole pipeline graph in this process: bounded queues give backpressure, key-hashed
 * partitions keep per-key order, sinks commit positions after they wrote. Needs no service.
 */
export const runEmbedded = <R>(pipeline: Pipeline<R>, options: RunOptions = {}): Effect.Effect<RunReport, PipelineFailure, R> =>
  Effect.gen(function*() {
    const problems = validateGraph(pipeline)
    if (problems.length > 0) return yield* new PipelineFailure({ pipeline: pipeline.name, message: problems.join("; ") })
    // In one process there is no one else to run a node: leaving one out would never end.
    if (options.elsewhere && options.elsewhere.length > 0) {
      return yield* new PipelineFailure({ pipeline: pipeline.name, message: `nodes run by workers in other processes (${options.elsewhere.join(", ")}) need the kafka runtime` })
    }
    const partitions = Math.max(1, options.partitions ?? 4)
    const capacity = Math.max(16, options.queueCapacity ?? 1024)
    const started = performance.now()

    const topics = new Map<string, Topic>()
    const topic = (name: string) => {
      let t = topics.get(name)
      if (!t) topics.set(name, (t = new Topic(name, partitions)))
      return t
    }
    const subscribe = (name: string): Effect.Effect<Subscription> =>
      Effect.gen(function*() {
        const queues = yield* Effect.forEach(Array.from({ length: partitions }), () => Queue.bounded<Delivery, Cause.Done>(capacity))
        const s = { partitions: queues }
        topic(name).subscriptions.push(s)
        return s
      })

    const stats = new Map<string, OperatorStats>()
    const statsOf = (name: string) => {
      let s = stats.get(name)
      if (!s) stats.set(name, (s = new OperatorStats(name)))
      return s
    }
    const deadLetters: Array<DeadLetter> = []
    const committed: Record<string, number> = {}
    const offloaded: Record<string, number> = {}

    // Wire subscriptions and producer counts before anything runs, so no record is published
    // into a topic whose consumers are not listening yet.
    const subscriptions = new Map<string, Subscription>()
    for (const node of pipeline.nodes) {
      if (node._tag !== "Source") subscriptions.set(node.name, yield* subscribe(node.input))
      if (node._tag !== "Sink") topic(node.output).addProducer()
      if (node._tag === "Stage") topic(dlqTopic(node.input)).addProducer()
    }

    const routeOut = (node: StageNode, routed: ReadonlyArray<Routed<unknown>>) =>
      Effect.gen(function*() {
        const dead: Array<DeadLetter> = []
        for (const r of routed) {
          if (r._tag === "Record") yield* topic(node.output).publish(r.envelope)
          else {
            dead.push(r.deadLetter)
            yield* topic(dlqTopic(node.input)).publish({ key: r.key, value: r.deadLetter, position: r.deadLetter.position })
          }
        }
        if (dead.length > 0) {
          deadLetters.push(...dead)
          if (pipeline.deadLetters) yield* pipeline.deadLetters(dead)
        }
      })

    const runSource = (node: SourceNode<unknown, R>) => {
      const s = statsOf(node.name)
      s.expected = node.expected
      const out = topic(node.output)
      return node.read.pipe(
        Stream.runForEachArray((chunk) =>
          Effect.gen(function*() {
            s.recordIn(chunk.length)
            s.recordOut(chunk.length)
            if (node.bytesOf) for (const e of chunk) s.recordBytes(node.bytesOf(e.value))
            for (const e of chunk) yield* out.publish(e)
          })
        ),
        Effect.andThen(out.producerDone()),
        Effect.mapError(failureOf(pipeline.name, node.name))
      )
    }

    const runStage = (node: StageNode<unknown, unknown, R>) =>
      Effect.gen(function*() {
        const s = statsOf(node.name)
        const apply = applyToBatch(node.operator, s)
        const sub = subscriptions.get(node.name)!
        const workers = Math.max(1, options.workers ?? 1)
        const pool = node.offload && workers > 1
          ? yield* Effect.acquireRelease(
            Effect.tryPromise({
              try: () => OffloadPool.start(node.offload!, workers),
              catch: (e) => new OperatorFailure({ operator: node.name, message: `starting ${workers} worker threads: ${String(e)}` })
            }),
            (p) => Effect.promise(() => p.close())
          )
          : undefined
        const handle = (batch: ReadonlyArray<Envelope<unknown>>) => apply(batch).pipe(Effect.flatMap((r) => routeOut(node, r)))
        yield* Effect.forEach(
          sub.partitions,
          (q) =>
            pool
              ? drainPipelined(q, node.batchSize ?? 256, (batch) =>
                Effect.tryPromise({
                  try: () => pool.prepare(batch),
                  catch: (e) => new OperatorFailure({ operator: node.name, message: `worker thread: ${e instanceof Error ? e.message : String(e)}` })
                }), handle)
              : drainPartition(q, node.batchSize ?? 256, (batch) => handle(batch.map((d) => d.envelope))),
          { concurrency: "unbounded", discard: true }
        )
        if (pool) offloaded[node.name] = pool.attached
        yield* routeOut(node, yield* flushOperator(node.operator, s))
        yield* topic(node.output).producerDone()
        yield* topic(dlqTopic(node.input)).producerDone()
      }).pipe(Effect.scoped, Effect.mapError(failureOf(pipeline.name, node.name)))

    const runSink = (node: SinkNode<unknown, R>) =>
      Effect.gen(function*() {
        const s = statsOf(node.name)
        const sub = subscriptions.get(node.name)!
        yield* Effect.forEach(
          sub.partitions,
          (q, p) =>
            drainPartition(q, node.batchSize ?? 1024, (batch) =>
              Effect.gen(function*() {
                s.recordIn(batch.length)
                const t0 = performance.now()
                yield* node.write(batch.map((d) => d.envelope))
                s.addBusy(performance.now() - t0)
                s.recordOut(batch.length)
                // Commit after the write: a crash before this line replays the batch, and the
                // sinks' idempotent writes make the replay harmless.
                committed[`${node.input}/${p}`] = batch[batch.length - 1]!.offset + 1
              })),
          { concurrency: "unbounded", discard: true }
        )
        if (node.close) yield* node.close
      }).pipe(Effect.mapError(failureOf(pipeline.name, node.name)))

    const snapshot = () => [...stats.values()].map((s) => s.snapshot())
    const progress = options.onProgress
      ? yield* Effect.forkChild(
        Effect.forever(Effect.sleep(options.progressIntervalMs ?? 500).pipe(Effect.andThen(Effect.sync(() => options.onProgress!(snapshot())))))
      )
      : undefined
    for (const node of pipeline.nodes) statsOf(node.name)

    yield* Effect.all(
      pipeline.nodes.map((node) =>
        node._tag === "Source" ? runSource(node) : node._tag === "Stage" ? runStage(node) : runSink(node)
      ),
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.ensuring(progress ? Fiber.interrupt(progress) : Effect.void))
    options.onProgress?.(snapshot(), true)

    return {
      pipeline: pipeline.name,
      runtime: "embedded",
      elapsedMs: performance.now() - started,
      stages: snapshot(),
      deadLetters,
      committed,
      ...(Object.keys(offloaded).length > 0 ? { offloaded } : {})
    } satisfies RunReport
  })

export const EmbeddedRuntime = Layer.succeed(PipelineRuntime, PipelineRuntime.of({ name: "embedded", run: runEmbedded }))
