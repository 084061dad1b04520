import { type Context, Effect, Stream } from "effect"
import type { Envelope } from "../../operators/envelope.ts"
import { applyToBatch, deadLetterOf, flushOperator, type OperatorFailure, type Routed, routeBatch, RoutedBatch } from "../../operators/operator.ts"
import { OperatorStats } from "../../operators/stats.ts"
import type { DeadLetter } from "../../schemas/dead-letter.ts"
import { dlqTopic, type Pipeline, type PipelineNode, recordOfTopic, type SinkNode, type SourceNode, type StageNode } from "../runtime/graph.ts"
import { FramedBytes, type RecordType, recordType, type Serde } from "./serde.ts"
import { RecordPathPool, recordWorkerCount } from "./record-path.ts"
import type { RecordPathReply } from "./record-path-worker.ts"
import { forwardingUnchanged, freezerOf, Unchanged } from "./forward.ts"
import type { KafkaSettings } from "./settings.ts"
import { type Consumer, type InBatch, type InMessage, type KafkaTransport, keyTextOf, type OutMessage, type Producer, type TopicSpec, type Transaction } from "./transport.ts"

/**
 * Each node of a graph as Kafka clients: a source is a producer; a stage is a consumer group whose
 * batches are processed and written in one transaction with the group's new positions; a sink is a
 * consumer group that commits its positions only after `write` succeeded. These functions start
 * clients and return; `worker.ts` supervises them, `runtime.ts` runs whole graphs.
 */

export interface KafkaContext {
  readonly settings: KafkaSettings
  readonly transport: KafkaTransport
  readonly serde: Serde
  /** Distinguishes the transactional ids of a stage's workers; stable across restarts for fencing. */
  readonly instanceId: string
  readonly transactionTimeoutMs?: number
  /** Observes dead letters as stages route them (the in-process runtime reports them). */
  readonly onDeadLetters?: (letters: ReadonlyArray<DeadLetter>) => void
}

export const groupOf = (pipeline: Pipeline, node: PipelineNode | string) =>
  `fleuve.${pipeline.name}.${typeof node === "string" ? node : node.name}`

export const deadLetterGroupOf = (pipeline: Pipeline) => groupOf(pipeline, "dead-letters")

/** Every topic a graph needs on a broker: the graph's own, and a `.dlq` for every consumer. */
export const kafkaTopicsOf = (pipeline: Pipeline): ReadonlyArray<string> => {
  const topics: Array<string> = []
  const add = (t: string) => (topics.includes(t) ? undefined : topics.push(t))
  for (const n of pipeline.nodes) {
    if (n._tag !== "Source") {
      add(n.input)
      add(dlqTopic(n.input))
    }
    if (n._tag !== "Sink") add(n.output)
  }
  if (pipeline.journal) add(pipeline.journal.topic)
  return topics
}

export const journalGroupOf = (pipeline: Pipeline) => groupOf(pipeline, "journal")

export const dlqTopicsOf = (pipeline: Pipeline) => kafkaTopicsOf(pipeline).filter((t) => t.endsWith(".dlq"))

export class TopicWithoutSchema extends Error {}

export const typeOfTopic = (pipeline: Pipeline, topic: string): RecordType => {
  const name = recordOfTopic(pipeline, topic)
  if (!name) throw new TopicWithoutSchema(`topic '${topic}' has no record schema: name it after its record or list it in the pipeline's \`records\``)
  return recordType(name)
}

/** Creates missing topics and registers (or checks) every topic's schema: run before any worker starts. */
export const prepareCluster = (ctx: KafkaContext, pipeline: Pipeline) =>
  Effect.gen(function*() {
    const topics = kafkaTopicsOf(pipeline)
    const types = yield* Effect.try({ try: () => topics.map((t) => typeOfTopic(pipeline, t)), catch: (e) => e as Error })
    const specs: Array<TopicSpec> = topics.map((topic) => ({ topic, partitions: pipeline.partitions?.[topic] ?? ctx.settings.partitions, replicationFactor: ctx.settings.replicationFactor }))
    yield* Effect.tryPromise({ try: () => ctx.transport.createTopics(specs), catch: (e) => new Error(`cannot create topics: ${e instanceof Error ? e.message : String(e)}`) })
    // A topic the pipeline pins (the corpus topics: one partition, one owner of the ordered stream)
    // may exist from before with another count: refused, since its order would not hold.
    for (const [topic, wanted] of Object.entries(pipeline.partitions ?? {})) {
      const have = (yield* Effect.tryPromise({ try: () => ctx.transport.topicOffsets(topic), catch: (e) => new Error(`cannot read topic ${topic}: ${e instanceof Error ? e.message : String(e)}`) })).length
      if (have !== wanted) {
        return yield* Effect.fail(new Error(`topic ${topic} has ${have} partitions; pipeline ${pipeline.name} needs exactly ${wanted} (its order must hold): delete the topic or move the pipeline to another cluster`))
      }
    }
    if (pipeline.runs) {
      // Markers go to the one partition of each topic: a run's records are in order between them.
      const unpinned = topics.filter((t) => !t.endsWith(".dlq") && pipeline.partitions?.[t] !== 1)
      if (unpinned.length > 0) return yield* Effect.fail(new Error(`pipeline ${pipeline.name} scopes its state to runs: its topics must have one partition (${unpinned.join(", ")} are not pinned to 1)`))
      types.push(recordType("RunMarker"), recordType(pipeline.runs.stateRecord))
    }
    const unique = [...new Map(types.map((t) => [t.subject, t])).values()]
    yield* ctx.serde.prepare(unique)
  })

const positionOf = (topic: string, partition: number, m: InMessage) => ({ _tag: "Topic" as const, topic, partition, offset: m.offset })

/** Headers of a dead-letter record: why, who, and where the record came from. */
export const deadLetterHeaders = (d: DeadLetter): Record<string, string> => ({
  "fleuve.error": d.reason.slice(0, 4000),
  "fleuve.operator": d.operator,
  ...(d.field ? { "fleuve.field": d.field } : {}),
  ...(d.position._tag === "Topic"
    ? { "fleuve.source.topic": d.position.topic, "fleuve.source.partition": String(d.position.partition), "fleuve.source.offset": d.position.offset }
    : {})
})

/** How many records of a fetched batch a stage without runs decodes and hands its operator at a time. */
const HANDLE_SLICE = 1024
/** A stage sends the outputs of a fetch it is still handling once this many bytes are gathered (kafkajs' produce requests are cut at 512 KiB). */
const SEND_AHEAD_BYTES = 512 * 1024

/**
 * Decodes a batch: valid records as envelopes, the rest as dead letters naming `operator`. With
 * `unchanged` (a stage that forwards records passed on untouched: forward.ts), every decoded value
 * is frozen and those read verbatim are noted with their fetched bytes.
 */
const decodeBatch = async <A>(ctx: KafkaContext, type: RecordType<A>, batch: InBatch, operator: string, unchanged?: { readonly records: Unchanged; readonly freeze: (value: unknown) => void }) => {
  const envelopes: Array<Envelope<A>> = []
  const dead: Array<{ key: string; letter: DeadLetter }> = []
  const decodedAll = await ctx.serde.decodeMessages(type, batch.messages)
  for (let i = 0; i < batch.messages.length; i++) {
    const m = batch.messages[i]!
    const decoded = decodedAll[i]!
    const key = keyTextOf(m)
    const position = positionOf(batch.topic, batch.partition, m)
    if (decoded._tag === "Ok") {
      if (unchanged) {
        unchanged.freeze(decoded.value)
        unchanged.records.add(decoded.value, position, m, decoded.schemaId, decoded.verbatim)
      }
      envelopes.push({ key, value: decoded.value, position })
    } else {
      const letter: DeadLetter = { operator, reason: `cannot decode ${type.subject}: ${decoded.reason}`, position, record: decoded.record }
      dead.push({ key, letter: decoded.field ? { ...letter, field: decoded.field } : letter })
    }
  }
  return { envelopes, dead }
}

const dlqMessage = (ctx: KafkaContext, topic: string, key: string, letter: DeadLetter): OutMessage => ({
  topic,
  key,
  value: ctx.serde.encode(recordType("DeadLetter"), letter),
  headers: deadLetterHeaders(letter)
})

type RunWith = <A>(effect: Effect.Effect<A, OperatorFailure, any>) => Promise<A>

export const runnerOf = <R>(services: Context.Context<R>): RunWith => (effect) => Effect.runPromiseWith(services)(effect as Effect.Effect<any, OperatorFailure, R>)

/**
 * Produces a source's records, in batches of `batchSize`, each acknowledged before the next;
 * `skip` records are passed over first (those a failed attempt already had acknowledged), and
 * stats.out counts the acknowledged ones.
 */
export const runSource = async (
  ctx: KafkaContext,
  pipeline: Pipeline,
  node: SourceNode,
  stats: OperatorStats,
  run: RunWith,
  options: {
    readonly batchSize?: number
    readonly skip?: number
    readonly headers?: Readonly<Record<string, string>>
    /** Sends each chunk in a transaction of this (transactional) producer, which the caller closes. */
    readonly transactional?: Producer
  } = {}
) => {
  const type = typeOfTopic(pipeline, node.output)
  const producer = options.transactional ?? (await ctx.transport.producer({}))
  const send = (messages: ReadonlyArray<OutMessage>) => (options.transactional ? producer.sendInTransaction(messages, "", []) : producer.send(messages))
  stats.expected = node.expected
  try {
    await run(
      node.read.pipe(
        Stream.drop(options.skip ?? 0),
        Stream.grouped(options.batchSize ?? 1000),
        Stream.runForEach((chunk) =>
          Effect.promise(async () => {
            stats.recordIn(chunk.length)
            if (node.bytesOf) for (const e of chunk) stats.recordBytes(node.bytesOf(e.value))
            await send(chunk.map((e) => ({ topic: node.output, key: e.key, value: ctx.serde.encodeValue(type, e.value), ...(options.headers ? { headers: options.headers } : {}) })))
            stats.recordOut(chunk.length)
          })
        )
      )
    )
  } finally {
    if (!options.transactional) await producer.close().catch(() => undefined)
  }
}

/** Header naming the run a record belongs to (pipelines with `runs`). */
export const RUN_HEADER = "fleuve.run"
/** Header of a run's control records: `begin`, `state` (its starting state) or `end`. */
export const MARKER_HEADER = "fleuve.marker"

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`)

/** The transactional id every run job of a pipeline shares: a new run job fences the one before. */
export const runJobTransactionalId = (pipeline: Pipeline) => `fleuve.${pipeline.name}.run-job`

/** This run job was fenced: another run job of the same pipeline started on the cluster. */
export class RunJobFenced extends Error {}

/** kafkajs and librdkafka name a fenced producer by these codes (a newer instance took its id). */
const isFencing = (e: unknown) => /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|fenced/i.test(`${(e as { type?: string })?.type ?? ""} ${(e as Error)?.message ?? String(e)}`)

/**
 * A source's records as one run of a pipeline with `runs` (the run job's): its begin marker, its
 * starting state, the records, then its end marker, each tagged with the run's id. A run's records
 * are produced once, from this process: a failure fails the run (its records stay on the topic,
 * tagged with the failed run's id, and no sink lands them).
 *
 * One run at a time per cluster: the stages hold one run's state, so two run jobs writing the
 * input at once would interleave their records and each run's decisions would be wrong, silently.
 * Every chunk goes out in a transaction of a producer whose transactional id all run jobs of the
 * pipeline share, so a run job that starts fences the one still producing: that one fails with
 * RunJobFenced at its next chunk (its open transaction is aborted; the records it committed before
 * stay, tagged with its run) and the stream holds no record of it after the new run's begin marker. A run job that already
 * produced everything is not disturbed: its records all come before the new run's.
 */
export const produceRun = async (ctx: KafkaContext, pipeline: Pipeline, node: SourceNode, stats: OperatorStats, run: RunWith) => {
  const runs = pipeline.runs!
  const tag = { [RUN_HEADER]: runs.runId }
  const markerType = recordType("RunMarker")
  const stateType = recordType(runs.stateRecord)
  const producer = await ctx.transport.producer({ transactionalId: runJobTransactionalId(pipeline), ...(ctx.transactionTimeoutMs ? { transactionTimeoutMs: ctx.transactionTimeoutMs } : {}) })
  const send = (messages: ReadonlyArray<OutMessage>) => producer.sendInTransaction(messages, "", [])
  const marker = (phase: "begin" | "end"): OutMessage => ({
    topic: node.output,
    key: runs.runId,
    value: ctx.serde.encode(markerType, { run: runs.runId, phase }),
    headers: { ...tag, [MARKER_HEADER]: phase }
  })
  try {
    await send([marker("begin")])
    const state = await run(runs.startState)
    for (let i = 0; i < state.length; i += 1000) {
      await send(state.slice(i, i + 1000).map((e) => ({ topic: node.output, key: e.key, value: ctx.serde.encodeValue(stateType, e.value), headers: { ...tag, [MARKER_HEADER]: "state" } })))
    }
    await runSource(ctx, pipeline, node, stats, run, { headers: tag, transactional: producer })
    await send([marker("end")])
  } catch (e) {
    if (isFencing(e)) {
      throw new RunJobFenced(
        `run ${runs.runId} was stopped: another \`fleuve run ${pipeline.name} --runtime kafka\` started on this cluster and fenced this one (one ${pipeline.name} run at a time: the stages hold one run's state). This run failed; run it again once the other has ended.`
      )
    }
    throw e
  } finally {
    await producer.close().catch(() => undefined)
  }
}

export interface RunningNode {
  readonly consumer: Consumer
  /** A sink of a pipeline with `runs`: settles once it has landed its own run's end marker. */
  readonly ended?: Promise<void>
  /** Stateful operators' held records, emitted in one last transaction (bounded runs only). */
  readonly flush: () => Promise<void>
  readonly close: () => Promise<void>
}

/**
 * A stage as a consumer group: decode → operator → output and `.dlq`, all in one transaction.
 * With `pipeline.runs`, run markers are handled in order between the records (see PipelineRuns)
 * and forwarded; a member that gets the partition after another member committed on it first
 * replays the run in progress from its begin marker up to the committed position, writing nothing,
 * so that its state (the dedup indexes, the packer's carry) is the one the previous owner had.
 */
export const startStage = async (ctx: KafkaContext, pipeline: Pipeline, node: StageNode, stats: OperatorStats, run: RunWith): Promise<RunningNode> => {
  const inType = typeOfTopic(pipeline, node.input)
  const outType = typeOfTopic(pipeline, node.output)
  const dlq = dlqTopic(node.input)
  const groupId = groupOf(pipeline, node)
  const transactionTimeoutMs = ctx.transactionTimeoutMs ?? 15000
  const producer = await ctx.transport.producer({
    transactionalId: `${groupId}.${ctx.instanceId}`,
    transactionTimeoutMs
  })
  const apply = routeBatch(node.operator, stats)
  // A replay recomputes what was already counted and written: its counts go nowhere.
  const replayStats = new OperatorStats(node.name)
  const applyReplay = routeBatch(node.operator, replayStats)
  const journal = pipeline.journal
  const journalType = journal ? typeOfTopic(pipeline, journal.topic) : undefined
  journal?.start()
  const runs = pipeline.runs
  const stateType = runs ? recordType(runs.stateRecord) : undefined
  // State records matter only to stages: none goes to a topic that only sinks read (corpus.packed).
  const stagesAfter = pipeline.nodes.some((n) => n._tag === "Stage" && n.input === node.output)
  let currentRun: string | undefined
  /** The position this member last committed; another member's commit since means a takeover. */
  let lastCommitted: string | undefined
  let checkOwnership = true
  // A filter's records go out as their fetched bytes (forward.ts) where the output topic carries
  // the input's record type; each slice's decoded records are frozen then.
  const unchanged = forwardingUnchanged() && node.operator.passesInput === true && inType.subject === outType.subject ? new Unchanged(() => ctx.serde.idOf(outType)) : undefined
  const forwarding = unchanged && { records: unchanged, freeze: freezerOf(inType.jsonSchema) }
  // An operator a worker thread can import (stateless, no services) runs with its decoding and
  // encoding on worker threads (record-path.ts), where nothing else needs the stage's thread:
  // no runs, no journal, no forwarding, one transaction per fetch.
  const workers = recordWorkerCount()
  const recordPath = node.operator.module && workers > 0 && !runs && !journal && !unchanged && node.batchSize === undefined && ctx.settings.transactionRecords === undefined
    ? Promise.resolve().then(() =>
      RecordPathPool.start(
        node.operator as never,
        { node: node.name, topic: node.input, inRecord: inType.name as never, writerId: ctx.serde.idOf(outType), outRecord: outType.name as never, maxRecordBytes: ctx.settings.maxRecordBytes },
        workers
      )
    )
    : undefined
  // (A failed start fails the stage's first batch, and so the stage, with its cause.)
  recordPath?.catch(() => undefined)

  /** A worker's reply to a slice as the stage's outputs and dead letters, in order. */
  const fromWorker = (reply: RecordPathReply, slice: ReadonlyArray<InMessage>, out: Array<OutMessage>, letters: Array<DeadLetter>) => {
    stats.addCounts(reply.counts)
    const source = Buffer.from(reply.bytes.buffer, reply.bytes.byteOffset, reply.bytes.byteLength)
    const o = reply.outputs
    for (let k = 0; k < reply.count; k++) {
      const input = o[4 * k]!
      if (input === -1) {
        const d = reply.letters[o[4 * k + 1]!]!
        out.push(dlqMessage(ctx, dlq, d.key, d.letter))
        letters.push(d.letter)
        continue
      }
      const keyRef = o[4 * k + 3]!
      const key = keyRef >= 0 ? reply.keys[keyRef]! : keyTextOf(slice[input]!)
      out.push({ topic: node.output, key, value: new FramedBytes(source, o[4 * k + 1]!, o[4 * k + 2]!) })
    }
  }

  /** A batch's slices handed to the record-path workers, each with its reply, in order. */
  const submitted = async (batch: InBatch): Promise<Array<{ readonly slice: ReadonlyArray<InMessage>; readonly reply: Promise<RecordPathReply> }>> => {
    const pool = await recordPath!
    const known = await ctx.serde.knownSchemaIds(inType, batch.messages)
    const slices: Array<ReadonlyArray<InMessage>> = []
    for (let i = 0; i < batch.messages.length; i += HANDLE_SLICE) slices.push(batch.messages.length <= HANDLE_SLICE ? batch.messages : batch.messages.slice(i, i + HANDLE_SLICE))
    const replies = pool.submit(batch.partition, slices, known)
    // Those after a failed one are never awaited.
    for (const r of replies) r.catch(() => undefined)
    return slices.map((slice, i) => ({ slice, reply: replies[i]! }))
  }

  /** What a batch's messages make the stage write (a replay makes the same and drops it). */
  const handle = async (
    topic: string,
    partition: number,
    messages: ReadonlyArray<InMessage>,
    replay: boolean,
    onSlice?: (out: Array<OutMessage>, handled: number) => Promise<void>,
    /** The batch's slices, already handed to the record-path workers. */
    pre?: ReturnType<typeof submitted>
  ) => {
    const out: Array<OutMessage> = []
    const letters: Array<DeadLetter> = []
    const tagged = (m: OutMessage): OutMessage => (currentRun === undefined ? m : { ...m, headers: { ...m.headers, [RUN_HEADER]: currentRun } })
    // What the operators recorded goes out in the batch's own transaction, after the records that made it.
    const drain = () => {
      if (journal) for (const e of journal.drain()) out.push(tagged({ topic: journal.topic, key: e.key, value: ctx.serde.encodeValue(journalType!, e.value) }))
    }
    const record = (key: string, value: unknown, position: unknown) => {
      const forwarded = unchanged?.bytesOf(value, position)
      out.push(tagged(forwarded !== undefined ? { topic: node.output, key, value: forwarded } : ctx.serde.encodeMessage(outType, node.output, key, value)))
    }
    const deadLetter = (key: string, letter: DeadLetter) => {
      out.push(tagged(dlqMessage(ctx, dlq, key, letter)))
      letters.push(letter)
    }
    const route = (routed: ReadonlyArray<Routed<unknown>>) => {
      for (const r of routed) {
        if (r._tag === "Record") record(r.envelope.key, r.envelope.value, r.envelope.position)
        else deadLetter(r.key, r.deadLetter)
      }
    }
    const records = async (segment: ReadonlyArray<InMessage>) => {
      if (segment.length === 0) return
      // (Left over only if a slice failed before its outputs were routed.)
      unchanged?.clear()
      const { envelopes, dead } = await decodeBatch(ctx, inType, { topic, partition, messages: segment, nextOffset: "" }, node.name, forwarding)
      const s = replay ? replayStats : stats
      s.recordIn(dead.length)
      for (const d of dead) s.recordRejected(d.letter.reason.replace(/:.*$/s, ""))
      // The operator's outputs in order, as parallel arrays (no Routed object a record).
      const routed = new RoutedBatch<unknown>()
      if (envelopes.length > 0) await run((replay ? applyReplay : apply)(envelopes, routed))
      // State for the stages after this one goes ahead of the outputs that follow from it.
      for (const e of runs?.emitted?.() ?? []) {
        if (stagesAfter) out.push(tagged({ topic: node.output, key: e.key, value: ctx.serde.encodeValue(stateType!, e.value), headers: { [MARKER_HEADER]: "state" } }))
      }
      const { keys, values, positions } = routed
      for (let i = 0; i < keys.length; i++) {
        const position = positions[i]
        if (position !== undefined) record(keys[i]!, values[i], position)
        else deadLetter(keys[i]!, values[i] as DeadLetter)
      }
      // The slice's records and their fetched messages are let go at once.
      unchanged?.clear()
      // The slice's arrays let go of its decoded values and envelopes at once. V8 may have made them
      // in the old generation (allocation-site pretenuring, once earlier ones survived), and a dead
      // old array still counts as a root in every scavenge until the next full collection: what it
      // pointed to then survived scavenges and was promoted (stage-path.ts: the decoded values were
      // 24 of the 62-66 MB promoted a round of 100,000 records; with these two lines ~1.4 MB).
      // Both are this slice's own (operators are done with them).
      routed.clear()
      envelopes.length = 0
      drain()
      for (const d of dead) deadLetter(d.key, d.letter)
    }
    // (recordPath exists only for stages without runs)
    if (recordPath && !replay) {
      for (const { slice, reply } of await (pre ?? submitted({ topic, partition, messages, nextOffset: "" }))) {
        fromWorker(await reply, slice, out, letters)
        if (onSlice) await onSlice(out.splice(0), slice.length)
      }
      return { out, letters }
    }
    if (!runs) {
      // In slices: what decoding and the operator allocate per record (decoded values, envelopes,
      // outcomes) dies young instead of living until a whole fetch (tens of thousands of records)
      // is handled, which pushed it into the old generation (GC was a fifth of a stage's CPU).
      // Operators see smaller batches, as in the embedded runtime; each slice's outputs stay in order.
      for (let i = 0; i < messages.length; i += HANDLE_SLICE) {
        await records(i === 0 && messages.length <= HANDLE_SLICE ? messages : messages.slice(i, i + HANDLE_SLICE))
        // A slice's outputs handed on at once (commitTogether sends them while the next slices are handled).
        if (onSlice) await onSlice(out.splice(0), Math.min(HANDLE_SLICE, messages.length - i))
      }
      return { out, letters }
    }
    let segment: Array<InMessage> = []
    for (const m of messages) {
      const marker = m.headers[MARKER_HEADER]
      const runOf = m.headers[RUN_HEADER]
      if (marker === undefined) {
        if (runOf !== undefined && runOf !== currentRun) {
          // A run whose begin marker this member never saw (it is no longer on the topic).
          await records(segment)
          segment = []
          if (!replay) log(`${node.name}: records of run ${runOf} without its begin marker: starting from an empty state`)
          runs.enter(runOf)
          currentRun = runOf
        }
        segment.push(m)
        continue
      }
      await records(segment)
      segment = []
      if (marker === "begin" && runOf !== undefined) {
        runs.enter(runOf)
        currentRun = runOf
      } else if (marker === "state") {
        const decoded = await ctx.serde.decode(stateType!, m.value)
        // A lost piece of the starting state would change decisions silently: the stage stops instead.
        if (decoded._tag !== "Ok") throw new Error(`${topic}: state record at offset ${m.offset} of run ${runOf} cannot be read: ${decoded.reason}`)
        runs.load(decoded.value)
      } else if (marker === "end") {
        // Stateful operators emit what they held back (the packer's last sequence) before the run's end.
        route(await run(flushOperator(node.operator, replay ? replayStats : stats)))
        drain()
      }
      if (marker !== "state" || stagesAfter) out.push({ topic: node.output, key: m.key?.toString("utf8") ?? "", value: m.value ?? Buffer.alloc(0), headers: m.headers })
    }
    await records(segment)
    return { out, letters }
  }

  /**
   * Before the first batch after an assignment: unless this member committed the group's position
   * itself, rebuilds the state of the run the batch is in by replaying it from its begin marker.
   */
  const takeOver = async (batch: InBatch) => {
    const first = batch.messages[0]!
    if (first.headers[MARKER_HEADER] === "begin") return
    const committed = (await ctx.transport.groupOffsets(groupId, [batch.topic])).find((o) => o.partition === batch.partition)?.offset
    if (lastCommitted !== undefined && committed === lastCommitted) return
    const t0 = performance.now()
    const low = (await ctx.transport.topicOffsets(batch.topic)).find((o) => o.partition === batch.partition)?.low ?? "0"
    let begin: string | undefined
    await ctx.transport.readRange(batch.topic, batch.partition, low, first.offset, async (messages) => {
      for (const m of messages) {
        if (m.headers[MARKER_HEADER] === "begin") begin = m.offset
        else if (m.headers[MARKER_HEADER] === "end") begin = undefined
      }
    })
    currentRun = undefined
    if (begin === undefined) return
    let replayed = 0
    await ctx.transport.readRange(batch.topic, batch.partition, begin, first.offset, async (messages) => {
      replayed += messages.length
      await handle(batch.topic, batch.partition, messages, true)
    })
    log(`${node.name}: took over ${batch.topic}/${batch.partition} at offset ${first.offset}: rebuilt run ${currentRun}'s state from its ${replayed} records since offset ${begin} in ${((performance.now() - t0) / 1000).toFixed(1)}s`)
  }

  /**
   * The batches of one fetch (one per partition) in one transaction, with every one's position: a
   * transaction's fixed round trips (partitions and offsets added, the commit's markers) are paid
   * once a fetch instead of once a partition. For a stage without runs (a run's stream is one
   * partition) whose transactions are not cut into slices.
   */
  const together = !runs && node.batchSize === undefined && ctx.settings.transactionRecords === undefined
  //
  // The transaction opens with the first outputs: every SEND_AHEAD_BYTES of them are sent while the
  // rest of the fetch is handled (one send in flight at a time, in order), so the broker's work on
  // a produce request overlaps the stage's work on the next records (a stage waited for each
  // request's acknowledgement, idle: 0.4–0.5 s of a 1.7 s stage.ts run). Any failure, a partition
  // that may have moved included, aborts it: nothing of it becomes visible to read_committed readers.
  const commitTogether = async (batches: ReadonlyArray<InBatch>) => {
    let letters: Array<DeadLetter> = []
    let tx: Transaction | undefined
    let pending: Array<OutMessage> = []
    let pendingBytes = 0
    // One send in flight at a time, in order, and the handling never waits for it: what the stage
    // produces while a send is in flight goes out with the next one, started as soon as that send
    // is acknowledged. (Before, the handling stopped at each full 512 KiB until the previous send was
    // acknowledged: stage.ts' timeline showed every send starting the moment the one before ended,
    // and a fifth of the stage's time idle, waiting for the broker.)
    let sender: Promise<void> | undefined
    let failure: { readonly cause: unknown } | undefined
    const positions = batches.map((b) => ({ topic: b.topic, partition: b.partition, offset: b.nextOffset }))
    // The fetch's positions go into the transaction once its first records are in (it is then under
    // way on its coordinator), beside the rest of its sends: the commit at the end then waits for
    // one round trip instead of three (stage.ts' timeline: a fetch's commit was 4-16 ms of idle).
    let offsetsSent: Promise<void> | undefined
    const sendOffsets = (t: Transaction) => {
      offsetsSent = t.sendOffsets(groupId, positions)
      offsetsSent.catch(() => undefined)
    }
    const sendAll = async () => {
      while (pendingBytes >= SEND_AHEAD_BYTES && failure === undefined) {
        const messages = pending
        pending = []
        pendingBytes = 0
        tx ??= await producer.transaction()
        await tx.send(messages)
        if (!offsetsSent) sendOffsets(tx)
      }
    }
    const startSending = () => {
      if (sender || failure) return
      sender = sendAll().then(
        () => (sender = undefined),
        (cause: unknown) => {
          failure = { cause }
          sender = undefined
        }
      )
    }
    // The transaction opens early only if the rest of the fetch should take well under its timeout
    // (at the pace so far): otherwise, as before, it spans only the sends and the commit.
    const total = batches.reduce((n, b) => n + b.messages.length, 0)
    const started = performance.now()
    let done = 0
    const onSlice = async (out: Array<OutMessage>, handled: number) => {
      // A send that failed fails the transaction: no use handling the rest of the fetch.
      if (failure) throw failure.cause
      done += handled
      for (const m of out) {
        pending.push(m)
        pendingBytes += m.value.length
      }
      // Decoding, the operator and encoding go from promise to promise without a turn of the event
      // loop: a turn between slices lets the broker's acknowledgement of the send in flight in, so
      // the next send starts while the handling goes on.
      if (sender) await new Promise<void>((resolve) => setImmediate(resolve))
      if (pendingBytes < SEND_AHEAD_BYTES) return
      if (!tx && ((performance.now() - started) / done) * (total - done) > transactionTimeoutMs / 3) return
      startSending()
    }
    // Every batch of the fetch goes to the record-path workers at once: they work on the next
    // batch's first slices while this thread sends the last one's outputs.
    const pre = recordPath ? batches.map((b) => submitted(b)) : undefined
    for (const p of pre ?? []) p.catch(() => undefined)
    try {
      for (const [b, batch] of batches.entries()) {
        const handled = await handle(batch.topic, batch.partition, batch.messages, false, onSlice, pre?.[b])
        for (const m of handled.out) pending.push(m)
        letters = letters.length === 0 ? handled.letters : letters.concat(handled.letters)
      }
      for (const batch of batches) {
        const lost = batch.lost?.()
        if (lost !== undefined) throw new Error(`${node.name}: ${batch.topic}[${batch.partition}] may have moved to another member (${lost}); not committing`)
      }
      // The sends in flight, then the rest, then the commit.
      while (sender) await sender
      if (failure) throw failure.cause
      tx ??= await producer.transaction()
      if (pending.length > 0) await tx.send(pending)
      if (!offsetsSent) sendOffsets(tx)
      await offsetsSent
      await tx.commit()
    } catch (e) {
      while (sender) await sender
      // (The positions' requests settled before the abort, so none reaches a coordinator after it.)
      await offsetsSent?.catch(() => undefined)
      if (tx) await tx.abort().catch(() => undefined)
      throw e
    }
    if (letters.length > 0) ctx.onDeadLetters?.(letters)
  }
  // The consumer hands a fetch's batches over in one turn of the event loop: gathered until the
  // next turn, then handled and committed together; groups are committed one after the other.
  type Gathered = Array<{ readonly batch: InBatch; readonly resolve: () => void; readonly reject: (e: unknown) => void }>
  let gathering: Gathered | undefined
  let committing: Promise<void> = Promise.resolve()
  const gathered = (batch: InBatch) =>
    new Promise<void>((resolve, reject) => {
      if (!gathering) {
        const group: Gathered = []
        gathering = group
        setImmediate(() => {
          gathering = undefined
          committing = committing.then(() => commitTogether(group.map((g) => g.batch))).then(
            () => group.forEach((g) => g.resolve()),
            (e) => group.forEach((g) => g.reject(e))
          )
        })
      }
      gathering.push({ batch, resolve, reject })
    })

  const consumer = await ctx.transport.consumer({
    groupId,
    topics: [node.input],
    fromBeginning: true,
    // (The next fetch is on its way while this one is handled and committed: the transport's default, kafkajs-prefetch.ts.)
    concurrentBatches: together,
    onAssigned: () => {
      checkOwnership = true
    },
    onBatch: async (batch) => {
      if (together) return gathered(batch)
      if (runs && checkOwnership) {
        await takeOver(batch)
        checkOwnership = false
      }
      // A stage with a batch size (the scorer: a model's answers are slow), or any stage under
      // FLEUVE_KAFKA_TRANSACTION_RECORDS, commits each slice of a fetch in its own transaction with
      // its position, so a worker that dies loses at most one slice of work.
      const size = node.batchSize ?? ctx.settings.transactionRecords ?? batch.messages.length
      for (let i = 0; i < batch.messages.length; i += size) {
        const messages = batch.messages.slice(i, i + size)
        const next = i + size >= batch.messages.length ? batch.nextOffset : (BigInt(messages[messages.length - 1]!.offset) + 1n).toString()
        const { out, letters } = await handle(batch.topic, batch.partition, messages, false)
        // A member that may have lost the partition while it worked commits nothing: its new owner
        // handles the slice from the committed position (the worker restarts its clients).
        const lost = batch.lost?.()
        if (lost !== undefined) throw new Error(`${node.name}: ${batch.topic}[${batch.partition}] may have moved to another member (${lost}); not committing`)
        await producer.sendInTransaction(out, groupId, [{ topic: batch.topic, partition: batch.partition, offset: next }])
        lastCommitted = next
        if (letters.length > 0) ctx.onDeadLetters?.(letters)
      }
    }
  })
  return {
    consumer,
    flush: async () => {
      const routed = await run(flushOperator(node.operator, stats))
      const out: Array<OutMessage> = []
      if (journal) for (const e of journal.drain()) out.push({ topic: journal.topic, key: e.key, value: ctx.serde.encodeValue(journalType!, e.value) })
      const letters: Array<DeadLetter> = []
      for (const r of routed) {
        if (r._tag === "Record") out.push({ topic: node.output, key: r.envelope.key, value: ctx.serde.encodeValue(outType, r.envelope.value) })
        else {
          out.push(dlqMessage(ctx, dlq, r.key, r.deadLetter))
          letters.push(r.deadLetter)
        }
      }
      if (out.length > 0) await producer.sendInTransaction(out, groupId, [])
      if (letters.length > 0) ctx.onDeadLetters?.(letters)
    },
    close: async () => {
      await consumer.stop()
      await producer.close().catch(() => undefined)
      await recordPath?.then((pool) => pool.close(), () => undefined)
    }
  }
}

/** A sink as a consumer group: decode → write → commit. Poison records go to `<input>.dlq` first. */
export const startSink = async (ctx: KafkaContext, pipeline: Pipeline, node: SinkNode, stats: OperatorStats, run: RunWith): Promise<RunningNode> => {
  const type = typeOfTopic(pipeline, node.input)
  const dlq = dlqTopic(node.input)
  const producer = await ctx.transport.producer({})
  const own = pipeline.runs?.runId
  let ended: (() => void) | undefined
  const endedPromise = own === undefined ? undefined : new Promise<void>((resolve) => (ended = resolve))
  const consumer = await ctx.transport.consumer({
    groupId: groupOf(pipeline, node),
    topics: [node.input],
    fromBeginning: true,
    onBatch: async (whole) => {
      // A pipeline with runs lands its own run's records only; markers are not records.
      let sawEnd = false
      const batch = own === undefined ? whole : {
        ...whole,
        messages: whole.messages.filter((m) => {
          if (m.headers[RUN_HEADER] !== own) return false
          if (m.headers[MARKER_HEADER] === "end") sawEnd = true
          return m.headers[MARKER_HEADER] === undefined
        })
      }
      const { envelopes, dead } = await decodeBatch(ctx, type, batch, node.name)
      stats.recordIn(batch.messages.length)
      if (dead.length > 0) {
        for (const d of dead) stats.recordRejected(d.letter.reason.replace(/:.*$/s, ""))
        await producer.send(dead.map((d) => dlqMessage(ctx, dlq, d.key, d.letter)))
        ctx.onDeadLetters?.(dead.map((d) => d.letter))
      }
      if (envelopes.length > 0) {
        const t0 = performance.now()
        await run(node.write(envelopes))
        stats.addBusy(performance.now() - t0)
        stats.recordOut(envelopes.length)
      }
      if (sawEnd) ended!()
      // Returning lets the consumer commit: only now, after the rows landed.
    }
  })
  return {
    consumer,
    ...(endedPromise ? { ended: endedPromise } : {}),
    flush: async () => undefined,
    close: async () => {
      await consumer.stop()
      await producer.close().catch(() => undefined)
    }
  }
}

/**
 * Lands the pipeline's dead-letter topics through `pipeline.deadLetters` (the warehouse's
 * `dead_letters`), committing after each batch landed. Runs beside the sink, in the one process
 * that owns the warehouse.
 */
export const startDeadLetterSink = async (
  ctx: KafkaContext,
  pipeline: Pipeline,
  stats: OperatorStats,
  run: RunWith,
  /** After a batch of `topic` landed (the run counts those of stages whose members run in other processes). */
  onLanded?: (topic: string, letters: ReadonlyArray<DeadLetter>) => void
): Promise<RunningNode | undefined> => {
  const land = pipeline.deadLetters
  if (!land) return undefined
  const type = recordType("DeadLetter")
  const consumer = await ctx.transport.consumer({
    groupId: deadLetterGroupOf(pipeline),
    topics: dlqTopicsOf(pipeline),
    fromBeginning: true,
    onBatch: async (batch) => {
      stats.recordIn(batch.messages.length)
      const letters: Array<DeadLetter> = []
      for (const m of batch.messages) {
        const decoded = await ctx.serde.decode(type, m.value)
        if (decoded._tag === "Ok") letters.push(decoded.value as DeadLetter)
        else {
          // A dead letter that cannot be read is still kept, with its headers as the reason.
          letters.push({
            ...deadLetterOf("dead-letters", { key: "", value: decoded.record, position: positionOf(batch.topic, batch.partition, m) }, `${m.headers["fleuve.error"] ?? "unreadable dead letter"} (${decoded.reason})`),
            record: decoded.record
          })
        }
      }
      await run(land(letters))
      stats.recordOut(letters.length)
      onLanded?.(batch.topic, letters)
    }
  })
  return { consumer, flush: async () => undefined, close: () => consumer.stop() }
}

/**
 * Lands the pipeline's journal topic through `pipeline.journal.land`, committing after each batch
 * landed. Runs beside the dead-letter sink, in the process that closes the run.
 */
export const startJournalSink = async (ctx: KafkaContext, pipeline: Pipeline, stats: OperatorStats, run: RunWith): Promise<RunningNode | undefined> => {
  const journal = pipeline.journal
  if (!journal) return undefined
  const type = typeOfTopic(pipeline, journal.topic)
  const consumer = await ctx.transport.consumer({
    groupId: journalGroupOf(pipeline),
    topics: [journal.topic],
    fromBeginning: true,
    onBatch: async (whole) => {
      // A pipeline with runs lands its own run's entries only (a failed run's stay on the topic).
      const own = pipeline.runs?.runId
      const batch = own === undefined ? whole : { ...whole, messages: whole.messages.filter((m) => m.headers[RUN_HEADER] === own) }
      if (batch.messages.length === 0) return
      const { envelopes, dead } = await decodeBatch(ctx, type, batch, "journal")
      stats.recordIn(batch.messages.length)
      // An entry that cannot be read would silently lose a decision: the run fails instead.
      if (dead.length > 0) throw new Error(`${journal.topic}: ${dead.length} entries cannot be read, e.g. ${dead[0]!.letter.reason}`)
      await run(journal.land(envelopes.map((e) => e.value)))
      stats.recordOut(envelopes.length)
    }
  })
  return { consumer, flush: async () => undefined, close: () => consumer.stop() }
}
