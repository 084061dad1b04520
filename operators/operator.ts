import { Effect, Schema, Stream } from "effect"
import { describePosition } from "../schemas/common.ts"
import type { DeadLetter } from "../schemas/dead-letter.ts"
import type { Envelope } from "./envelope.ts"
import { OperatorStats } from "./stats.ts"

/** A record-level failure: the record becomes a dead letter, the stream goes on. */
export class RecordRejected extends Schema.TaggedError<RecordRejected>()("RecordRejected", {
  reason: Schema.String,
  field: Schema.optional(Schema.String)
}) {}

/** An operator-level failure (a lost device, a broken sink): the stage stops. */
export class OperatorFailure extends Schema.TaggedError<OperatorFailure>()("OperatorFailure", {
  operator: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

/** What became of one input record. */
export type Outcome<Out> =
  | { readonly _tag: "Emit"; readonly values: ReadonlyArray<Envelope<Out>> }
  | { readonly _tag: "Reject"; readonly reason: string; readonly field?: string | undefined }
  | { readonly _tag: "Drop"; readonly reason: string }

export const Outcome = {
  emit: <Out>(...values: ReadonlyArray<Envelope<Out>>): Outcome<Out> => ({ _tag: "Emit", values }),
  reject: (reason: string, field?: string): Outcome<never> => ({ _tag: "Reject", reason, field }),
  drop: (reason: string): Outcome<never> => ({ _tag: "Drop", reason })
}

/**
 * An operator is a named, typed transformation of record batches. It knows nothing of topics or
 * runtimes: the embedded and the Kafka runtime feed it the same batches. `process` returns one
 * outcome per input, in order; `flush` lets stateful operators emit what they held back.
 */
export interface Operator<In, Out, R = never> {
  readonly name: string
  readonly process: (batch: ReadonlyArray<Envelope<In>>) => Effect.Effect<ReadonlyArray<Outcome<Out>>, OperatorFailure, R>
  readonly flush?: () => Effect.Effect<ReadonlyArray<Envelope<Out>>, OperatorFailure, R>
  /**
   * Every record it emits is one of its inputs, unchanged (filters, and chains of them). A Kafka
   * stage then sends those records as the bytes it fetched and freezes what it decodes, so that an
   * operator that breaks the claim fails loudly (pipelines/kafka/forward.ts); other operators'
   * outputs are encoded, and their inputs left unfrozen (a frozen input is slower to copy).
   */
  readonly passesInput?: boolean
  /**
   * Where another thread finds this very operator: a module's URL (`import.meta.url`) and the name
   * it is exported under (see `exportedAs`). Declared by stateless record-level operators that need
   * no services, so that a Kafka stage may run their whole record path (decode → operator → encode)
   * on worker threads, which import them from there (pipelines/kafka/record-path.ts).
   */
  readonly module?: { readonly url: string; readonly name: string }
}

/**
 * `operator` as exported under `name` by the module at `url`: a Kafka stage may then run it on
 * worker threads. Only for an operator that holds no state between batches and needs no services:
 * each worker thread has its own copy, and batches go to them in turns.
 */
export const exportedAs = <In, Out>(operator: Operator<In, Out, never>, url: string, name: string): Operator<In, Out, never> => ({ ...operator, module: { url, name } })

/** The result of a record-level function: a value (keeps key and position), several, or a drop. */
type RecordResult<Out> = Out | Outcome<Out>

const isOutcome = (u: unknown): u is Outcome<unknown> =>
  typeof u === "object" && u !== null && "_tag" in u && ["Emit", "Reject", "Drop"].includes((u as { _tag: string })._tag) &&
  ("values" in u || "reason" in u)

const toOutcome = <In, Out>(input: Envelope<In>, result: RecordResult<Out>): Outcome<Out> =>
  isOutcome(result) ? (result as Outcome<Out>) : Outcome.emit({ key: input.key, value: result as Out, position: input.position })

/** Record-by-record operator with an effectful function; a RecordRejected becomes a dead letter. */
export const fromEffect = <In, Out, R = never>(
  name: string,
  f: (value: In, input: Envelope<In>) => Effect.Effect<RecordResult<Out>, RecordRejected | OperatorFailure, R>
): Operator<In, Out, R> => ({
  name,
  process: (batch) =>
    Effect.forEach(batch, (input) =>
      f(input.value, input).pipe(
        Effect.map((result) => toOutcome(input, result)),
        Effect.catchTag("RecordRejected", (e) => Effect.succeed(Outcome.reject(e.reason, e.field)))
      ))
})

/** Record-by-record pure operator: throw-free functions that return a value or an Outcome. */
export const map = <In, Out>(name: string, f: (value: In, input: Envelope<In>) => RecordResult<Out>): Operator<In, Out> => ({
  name,
  process: (batch) =>
    Effect.sync(() =>
      batch.map((input) => {
        try {
          return toOutcome(input, f(input.value, input))
        } catch (e) {
          // A bug in one record's handling must not take the stream down: keep it as a dead letter.
          return Outcome.reject(e instanceof RecordRejected ? e.reason : `unexpected error: ${String(e)}`, e instanceof RecordRejected ? e.field : undefined)
        }
      })
    )
})

/** Keeps records that pass `keep`; a string result is the drop reason. */
export const filter = <A>(name: string, keep: (value: A) => true | string): Operator<A, A> => ({
  ...map(name, (value: A) => {
    const verdict = keep(value)
    return verdict === true ? value : Outcome.drop(verdict)
  }),
  passesInput: true
})

/** Whole-batch operator, for work that is cheaper in batches (GPU scoring, bulk lookups). */
export const batched = <In, Out, R = never>(
  name: string,
  f: (batch: ReadonlyArray<Envelope<In>>) => Effect.Effect<ReadonlyArray<Outcome<Out>>, OperatorFailure, R>,
  flush?: () => Effect.Effect<ReadonlyArray<Envelope<Out>>, OperatorFailure, R>
): Operator<In, Out, R> => (flush ? { name, process: f, flush } : { name, process: f })

/** Two operators fused into one stage: the second sees only what the first emitted. */
export const chain = <A, B, C, R1, R2>(first: Operator<A, B, R1>, second: Operator<B, C, R2>): Operator<A, C, R1 | R2> => ({
  name: `${first.name}>${second.name}`,
  ...(first.passesInput === true && second.passesInput === true ? { passesInput: true } : {}),
  process: (batch) =>
    Effect.gen(function*() {
      const firstOut = yield* first.process(batch)
      const middle = firstOut.flatMap((o) => (o._tag === "Emit" ? o.values : []))
      const secondOut = yield* second.process(middle)
      // Re-assemble: each input's emitted values map to the second operator's outcomes in order.
      let cursor = 0
      return firstOut.map((o): Outcome<C> => {
        if (o._tag !== "Emit") return o
        // One value (nearly always): its outcome is the input's, as the general case below
        // would rebuild it, without the per-record arrays (chains nest ten deep in the corpus run).
        if (o.values.length === 1) return secondOut[cursor++]!
        const mine = secondOut.slice(cursor, cursor + o.values.length)
        cursor += o.values.length
        const rejected = mine.find((m) => m._tag === "Reject")
        if (rejected) return rejected
        const values = mine.flatMap((m) => (m._tag === "Emit" ? m.values : []))
        const dropped = mine.find((m) => m._tag === "Drop")
        return values.length === 0 && dropped ? dropped : Outcome.emit(...values)
      })
    }),
  flush: () =>
    Effect.gen(function*() {
      const held = first.flush ? yield* first.flush() : []
      const passed = held.length > 0 ? yield* second.process(held) : []
      const tail = second.flush ? yield* second.flush() : []
      return [...passed.flatMap((o) => (o._tag === "Emit" ? o.values : [])), ...tail]
    })
})

/** What leaves an operator on a stream: a record for the output topic, or a dead letter. */
export type Routed<Out> =
  | { readonly _tag: "Record"; readonly envelope: Envelope<Out> }
  | { readonly _tag: "DeadLetter"; readonly deadLetter: DeadLetter; readonly key: string }

const safeJson = (value: unknown): string => {
  try {
    return typeof value === "string" ? value : JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v))
  } catch {
    return String(value)
  }
}

export const deadLetterOf = (operator: string, input: Envelope<unknown>, reason: string, field?: string): DeadLetter => ({
  operator,
  reason,
  ...(field === undefined ? {} : { field }),
  position: input.position,
  record: safeJson(input.value)
})

/** Human-readable one-liner for a dead letter: where, which field, why. */
export const describeDeadLetter = (d: DeadLetter): string =>
  `${describePosition(d.position)}${d.field ? ` field '${d.field}'` : ""}: ${d.reason} [${d.operator}]`

/**
 * Runs an operator over a stream of batches, counting into `stats`. Rejects become dead letters;
 * drops are counted by reason. This is the one place where outcomes are interpreted, so both
 * runtimes count and route identically.
 */
export const applyToBatch = <In, Out, R>(op: Operator<In, Out, R>, stats: OperatorStats) =>
  (batch: ReadonlyArray<Envelope<In>>): Effect.Effect<ReadonlyArray<Routed<Out>>, OperatorFailure, R> =>
    Effect.gen(function*() {
      const started = performance.now()
      stats.recordIn(batch.length)
      const outcomes = yield* op.process(batch)
      if (outcomes.length !== batch.length) {
        return yield* new OperatorFailure({ operator: op.name, message: `returned ${outcomes.length} outcomes for ${batch.length} records` })
      }
      const routed: Array<Routed<Out>> = []
      outcomes.forEach((o, i) => {
        const input = batch[i]!
        if (o._tag === "Emit") {
          stats.recordOut(o.values.length)
          for (const envelope of o.values) routed.push({ _tag: "Record", envelope })
        } else if (o._tag === "Reject") {
          stats.recordRejected(o.reason)
          routed.push({ _tag: "DeadLetter", key: input.key, deadLetter: deadLetterOf(op.name, input, o.reason, o.field) })
        } else {
          stats.recordDropped(o.reason)
        }
      })
      stats.addBusy(performance.now() - started)
      return routed
    })

export const flushOperator = <In, Out, R>(op: Operator<In, Out, R>, stats: OperatorStats) =>
  Effect.gen(function*() {
    if (!op.flush) return [] as ReadonlyArray<Routed<Out>>
    const held = yield* op.flush()
    stats.recordOut(held.length)
    return held.map((envelope): Routed<Out> => ({ _tag: "Record", envelope }))
  })

/** Convenience for tests and simple jobs: run an operator over a stream, outside any runtime. */
export const runOnStream = <In, Out, E, R, R2>(
  op: Operator<In, Out, R2>,
  input: Stream.Stream<Envelope<In>, E, R>,
  options: { readonly batchSize?: number; readonly stats?: OperatorStats } = {}
): Stream.Stream<Routed<Out>, E | OperatorFailure, R | R2> => {
  const stats = options.stats ?? new OperatorStats(op.name)
  const apply = applyToBatch(op, stats)
  return input.pipe(
    Stream.grouped(options.batchSize ?? 256),
    Stream.mapEffect((batch) => apply(batch)),
    Stream.flattenIterable,
    Stream.concat(Stream.fromEffect(flushOperator(op, stats)).pipe(Stream.flattenIterable))
  )
}
