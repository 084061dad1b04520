import { Effect, Schema, Stream } from "effect"
import { describePosition, type Position } from "../schemas/common.ts"
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
  /**
   * A `map`'s record-level function, which its `process` applies to every record: `routeBatch`
   * calls it record by record instead, with the same outcomes, counts and dead letters, but
   * without an outcome, an array and an envelope for every value it returns (a Kafka stage's
   * record path). Set by `map` only (and kept by what spreads a map: `filter`, `exportedAs`); an
   * operator made from another with another `process` must not keep it.
   */
  readonly each?: (value: In, input: Envelope<In>) => RecordResult<Out>
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

/** A bug in one record's handling must not take the stream down: it is kept as a dead letter. */
const rejectionOf = (e: unknown): Outcome<never> =>
  Outcome.reject(e instanceof RecordRejected ? e.reason : `unexpected error: ${String(e)}`, e instanceof RecordRejected ? e.field : undefined)

/** Record-by-record pure operator: throw-free functions that return a value or an Outcome. */
export const map = <In, Out>(name: string, f: (value: In, input: Envelope<In>) => RecordResult<Out>): Operator<In, Out> => ({
  name,
  each: f,
  process: (batch) =>
    Effect.sync(() =>
      batch.map((input) => {
        try {
          return toOutcome(input, f(input.value, input))
        } catch (e) {
          return rejectionOf(e)
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

/** Where an outcome's records and dead letters go (applyToBatch's Routed list, routeBatch's RoutedBatch). */
interface RouteTo<Out> {
  readonly record: (key: string, value: Out, position: Position, envelope: Envelope<Out> | undefined) => void
  readonly deadLetter: (key: string, letter: DeadLetter) => void
}

/**
 * What one outcome of `input` becomes: counted into `stats`; its records, or its dead letter
 * (a reject), handed to `to`; a drop counted by reason. This is the one place where outcomes are
 * interpreted, so both runtimes and both routings count and route identically.
 */
const routeOutcome = <In, Out>(o: Outcome<Out>, input: Envelope<In>, operator: string, stats: OperatorStats, to: RouteTo<Out>): void => {
  if (o._tag === "Emit") {
    stats.recordOut(o.values.length)
    for (const envelope of o.values) to.record(envelope.key, envelope.value, envelope.position, envelope)
  } else if (o._tag === "Reject") {
    stats.recordRejected(o.reason)
    to.deadLetter(input.key, deadLetterOf(operator, input, o.reason, o.field))
  } else {
    stats.recordDropped(o.reason)
  }
}

/** The operator's outcomes for a batch, its records counted in, one outcome a record or an OperatorFailure. */
const outcomesOf = <In, Out, R>(op: Operator<In, Out, R>, stats: OperatorStats, batch: ReadonlyArray<Envelope<In>>): Effect.Effect<ReadonlyArray<Outcome<Out>>, OperatorFailure, R> =>
  Effect.gen(function*() {
    stats.recordIn(batch.length)
    const outcomes = yield* op.process(batch)
    if (outcomes.length !== batch.length) {
      return yield* new OperatorFailure({ operator: op.name, message: `returned ${outcomes.length} outcomes for ${batch.length} records` })
    }
    return outcomes
  })

/**
 * Runs an operator over a stream of batches, counting into `stats`. Rejects become dead letters;
 * drops are counted by reason (routeOutcome).
 */
export const applyToBatch = <In, Out, R>(op: Operator<In, Out, R>, stats: OperatorStats) =>
  (batch: ReadonlyArray<Envelope<In>>): Effect.Effect<ReadonlyArray<Routed<Out>>, OperatorFailure, R> =>
    Effect.gen(function*() {
      const started = performance.now()
      const outcomes = yield* outcomesOf(op, stats, batch)
      const routed: Array<Routed<Out>> = []
      const to: RouteTo<Out> = {
        record: (key, value, position, envelope) => routed.push({ _tag: "Record", envelope: envelope ?? { key, value, position } }),
        deadLetter: (key, deadLetter) => routed.push({ _tag: "DeadLetter", key, deadLetter })
      }
      outcomes.forEach((o, i) => routeOutcome(o, batch[i]!, op.name, stats, to))
      stats.addBusy(performance.now() - started)
      return routed
    })

/**
 * What leaves an operator for one batch, in order, as parallel arrays instead of an object a
 * record (a Routed with its envelope): a record's key, value and position, or a dead letter's key
 * and letter (its position undefined). A Kafka stage reuses one for every slice it handles.
 */
export class RoutedBatch<Out> implements RouteTo<Out> {
  readonly keys: Array<string> = []
  /** A record's value, or the dead letter where `positions` holds undefined. */
  readonly values: Array<Out | DeadLetter> = []
  readonly positions: Array<Position | undefined> = []

  get length(): number {
    return this.keys.length
  }

  readonly record = (key: string, value: Out, position: Position): void => {
    this.keys.push(key)
    this.values.push(value)
    this.positions.push(position)
  }

  readonly deadLetter = (key: string, letter: DeadLetter): void => {
    this.keys.push(key)
    this.values.push(letter)
    this.positions.push(undefined)
  }

  /** Lets go of the batch's keys, values and positions. */
  clear(): void {
    this.keys.length = 0
    this.values.length = 0
    this.positions.length = 0
  }
}

/**
 * applyToBatch with its outcomes routed into `into` as they come. A `map` (an operator with
 * `each`) is called record by record: a value it returns goes to `into` as it is, without the
 * outcome, its array and its envelope that `process` would make for it (each record of a Kafka
 * stage's mapping path made ~10 objects, and garbage collection was a tenth to a fifth of its
 * CPU); what it throws is the reject `map`'s `process` makes of it.
 */
export const routeBatch = <In, Out, R>(op: Operator<In, Out, R>, stats: OperatorStats) => {
  const each = op.each
  if (each !== undefined) {
    return (batch: ReadonlyArray<Envelope<In>>, into: RoutedBatch<Out>): Effect.Effect<void, OperatorFailure, R> =>
      Effect.sync(() => {
        const started = performance.now()
        stats.recordIn(batch.length)
        for (let i = 0; i < batch.length; i++) {
          const input = batch[i]!
          let result: RecordResult<Out>
          try {
            result = each(input.value, input)
          } catch (e) {
            result = rejectionOf(e)
          }
          if (isOutcome(result)) routeOutcome(result as Outcome<Out>, input, op.name, stats, into)
          else {
            stats.recordOut(1)
            into.record(input.key, result as Out, input.position)
          }
        }
        stats.addBusy(performance.now() - started)
      })
  }
  return (batch: ReadonlyArray<Envelope<In>>, into: RoutedBatch<Out>): Effect.Effect<void, OperatorFailure, R> =>
    Effect.gen(function*() {
      const started = performance.now()
      const outcomes = yield* outcomesOf(op, stats, batch)
      for (let i = 0; i < outcomes.length; i++) routeOutcome(outcomes[i]!, batch[i]!, op.name, stats, into)
      stats.addBusy(performance.now() - started)
    })
}

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
