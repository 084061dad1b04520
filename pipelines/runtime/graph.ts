import type { Effect, Stream } from "effect"
import type { Envelope } from "../../operators/envelope.ts"
import type { Operator, OperatorFailure } from "../../operators/operator.ts"
import type { DeadLetter } from "../../schemas/dead-letter.ts"
import type { RecordName } from "../../schemas/registry.ts"
import type { StageOffload } from "./offload.ts"

/**
 * A pipeline is a graph of nodes joined by named topics. Topic names are the ones Kafka uses,
 * so the same graph runs in-process (embedded runtime) or on a cluster (Kafka runtime).
 * Each stage's rejected records go to `<input topic>.dlq`.
 */
export interface SourceNode<A = any, R = any> {
  readonly _tag: "Source"
  readonly name: string
  readonly output: string
  readonly read: Stream.Stream<Envelope<A>, OperatorFailure, R>
  /** Number of records the source will produce, when known up front (for ETA). */
  readonly expected?: number
  /** Payload bytes of one record, for MB/s next to records/s. */
  readonly bytesOf?: (value: A) => number
}

export interface StageNode<In = any, Out = any, R = any> {
  readonly _tag: "Stage"
  readonly name: string
  readonly input: string
  readonly output: string
  readonly operator: Operator<In, Out, R>
  readonly batchSize?: number
  /**
   * The stateless part of the operator's work, which the embedded runtime may compute on worker
   * threads ahead of the operator (RunOptions.workers > 1); other runtimes ignore it.
   */
  readonly offload?: StageOffload<In>
}

/** A sink writes batches; the runtime commits the input position only after `write` succeeded. */
export interface SinkNode<A = any, R = any> {
  readonly _tag: "Sink"
  readonly name: string
  readonly input: string
  readonly write: (batch: ReadonlyArray<Envelope<A>>) => Effect.Effect<void, OperatorFailure, R>
  readonly batchSize?: number
  /** Runs once after the last batch: e.g. the warehouse sink's final merge. */
  readonly close?: Effect.Effect<void, OperatorFailure, R>
}

export type PipelineNode<R = any> = SourceNode<any, R> | StageNode<any, any, R> | SinkNode<any, R>

export interface Pipeline<R = any> {
  readonly name: string
  readonly description: string
  readonly nodes: ReadonlyArray<PipelineNode<R>>
  /** Where dead letters go; the runtime also counts them. Defaults to keeping them in the report. */
  readonly deadLetters?: (batch: ReadonlyArray<DeadLetter>) => Effect.Effect<void, OperatorFailure, R>
  /**
   * The record each topic carries, where the topic's name does not say it (see
   * `recordOfTopic`): the Kafka runtime serializes and validates topics with these schemas.
   */
  readonly records?: Readonly<Record<string, RecordName>>
  /**
   * Topics that must have exactly this many partitions on Kafka, whatever --topic-partitions says
   * (the corpus topics: 1, so that one worker of each stage owns the ordered stream; see
   * docs/kafka.md). Start-up refuses an existing topic with another count, naming it.
   */
  readonly partitions?: Readonly<Record<string, number>>
  /** State that stages build in their process and that the process closing the run needs (see PipelineJournal). */
  readonly journal?: PipelineJournal<R>
  /** Runs as scopes of the stages' state on Kafka (see PipelineRuns). */
  readonly runs?: PipelineRuns<R>
}

/**
 * For pipelines whose stages hold state that must live for exactly one run (the corpus's dedup
 * indexes and packer), on Kafka only: the process that starts a run writes a begin marker, the
 * run's starting state and an end marker around the source's records (all tagged with the run's
 * id); each stage forwards the markers in order, `enter`s the run at its begin marker, `load`s
 * its state, and flushes its operator at its end marker; sinks and the journal land only their
 * own run's records. A worker that takes a partition over mid-run rebuilds the state by replaying
 * the run from its begin marker up to the committed position, writing nothing (docs/kafka.md).
 */
export interface PipelineRuns<R = any> {
  /** The run this process would start (the one whose records its sinks land). */
  readonly runId: string
  /** The run's starting state, as records published after its begin marker (read where it starts). */
  readonly startState: Effect.Effect<ReadonlyArray<{ readonly key: string; readonly value: unknown }>, OperatorFailure, R>
  readonly stateRecord: RecordName
  /** From now on the stages' operators and the journal work on a fresh state for run `runId`. */
  readonly enter: (runId: string) => void
  /**
   * Takes one state record into the entered run's state: the run's starting state, or what an
   * earlier stage `emitted`.
   */
  readonly load: (record: unknown) => void
  /**
   * State records a stage's operators produced for the stages after it since the last call (the
   * corpus: earlier runs' documents that changed, to forget from the dedup indexes); the stage
   * forwards them as state records ahead of the outputs of the batch that produced them.
   */
  readonly emitted?: () => ReadonlyArray<{ readonly key: string; readonly value: unknown }>
}

/**
 * A pipeline's journal, for the Kafka runtime only (the embedded runtime shares the state in its
 * one process): after each batch a stage's worker `drain`s what its operators recorded and writes
 * it to `topic` in the batch's transaction; the process that lands the run's dead letters (the
 * run job, a sink's worker) reads the topic and `land`s the entries, before the sinks close.
 */
export interface PipelineJournal<R = any> {
  readonly topic: string
  readonly record: RecordName
  /** Called once by each Kafka process that runs a stage, before its first batch. */
  readonly start: () => void
  readonly drain: () => ReadonlyArray<{ readonly key: string; readonly value: unknown }>
  readonly land: (entries: ReadonlyArray<unknown>) => Effect.Effect<void, OperatorFailure, R>
}

export const source = <A, R>(
  name: string,
  output: string,
  read: Stream.Stream<Envelope<A>, OperatorFailure, R>,
  expected?: number,
  bytesOf?: (value: A) => number
): SourceNode<A, R> => ({
  _tag: "Source",
  name,
  output,
  read,
  ...(expected === undefined ? {} : { expected }),
  ...(bytesOf === undefined ? {} : { bytesOf })
})

export const stage = <In, Out, R>(input: string, operator: Operator<In, Out, R>, output: string, batchSize?: number): StageNode<In, Out, R> =>
  batchSize === undefined
    ? { _tag: "Stage", name: operator.name, input, output, operator }
    : { _tag: "Stage", name: operator.name, input, output, operator, batchSize }

export const sink = <A, R>(
  name: string,
  input: string,
  write: SinkNode<A, R>["write"],
  options: { batchSize?: number; close?: Effect.Effect<void, OperatorFailure, R> } = {}
): SinkNode<A, R> => ({ _tag: "Sink", name, input, write, ...options })

export const dlqTopic = (topic: string) => `${topic}.dlq`

/** Every topic the graph uses, in first-seen order, with its dead-letter topics. */
export const topicsOf = (pipeline: Pipeline): ReadonlyArray<string> => {
  const topics: Array<string> = []
  const add = (t: string) => (topics.includes(t) ? undefined : topics.push(t))
  for (const n of pipeline.nodes) {
    if (n._tag === "Source") add(n.output)
    if (n._tag === "Stage") {
      add(n.input)
      add(n.output)
      add(dlqTopic(n.input))
    }
    if (n._tag === "Sink") add(n.input)
  }
  return topics
}

/** Checks the graph: every consumed topic has a producer, every produced topic a consumer. */
export const validateGraph = (pipeline: Pipeline): ReadonlyArray<string> => {
  const produced = new Set<string>()
  const consumed = new Set<string>()
  for (const n of pipeline.nodes) {
    if (n._tag === "Source" || n._tag === "Stage") produced.add(n.output)
    if (n._tag === "Stage") produced.add(dlqTopic(n.input))
    if (n._tag === "Stage" || n._tag === "Sink") consumed.add(n.input)
  }
  const problems: Array<string> = []
  for (const t of consumed) if (!produced.has(t)) problems.push(`topic '${t}' is read but nothing writes it`)
  // Dead-letter topics may go unread: the runtime hands dead letters to the pipeline's sink anyway.
  for (const t of produced) if (!consumed.has(t) && !t.endsWith(".dlq")) problems.push(`topic '${t}' is written but nothing reads it`)
  const names = pipeline.nodes.map((n) => n.name)
  for (const n of names) if (names.indexOf(n) !== names.lastIndexOf(n)) problems.push(`node name '${n}' is used twice`)
  return [...new Set(problems)]
}

/**
 * The record a topic carries: the pipeline's own mapping first, then the topic naming convention
 * (`corpus.*` documents, `qa.items`, `eval.requests`, `eval.predictions`, `eval.scores*`, `*.dlq`).
 */
export const recordOfTopic = (pipeline: Pipeline, topic: string): RecordName | undefined => {
  const own = pipeline.records?.[topic]
  if (own) return own
  if (pipeline.journal?.topic === topic) return pipeline.journal.record
  if (topic.endsWith(".dlq")) return "DeadLetter"
  if (topic.startsWith("corpus.")) return "CorpusDocument"
  if (topic.startsWith("qa.items")) return "QAItem"
  if (topic.startsWith("eval.requests")) return "EvalRequest"
  if (topic.startsWith("eval.predictions")) return "Prediction"
  if (topic.startsWith("eval.scores")) return "Score"
  return undefined
}
