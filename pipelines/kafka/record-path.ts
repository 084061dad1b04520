import { fileURLToPath } from "node:url"
import type { Worker } from "node:worker_threads"
import type { Operator } from "../../operators/operator.ts"
import { bundledWorkerScript, startWorkers } from "../runtime/offload.ts"
import type { RecordPathInit, RecordPathJob, RecordPathReply } from "./record-path-worker.ts"
import { type InMessage, isInPlace } from "./transport.ts"

/**
 * A stage's record path on worker threads: for an operator that says where a thread finds it
 * (`Operator.module`: stateless, no services), each slice of a fetched batch goes to a worker as
 * bytes (its keys and values copied out of the fetch) and comes back as its outputs in the wire
 * format and its dead letters (record-path-worker.ts). Decoding, the operator and encoding, about
 * three quarters of a mapping stage's CPU, then run beside the stage's own thread, which keeps the
 * fetching, the transaction (outputs and positions committed together), the order of slices and
 * the produce requests. Slices go to the workers in turns and are taken back in order.
 *
 * FLEUVE_KAFKA_RECORD_WORKERS: how many worker threads such a stage starts (default 0: none, the
 * stage's thread does it all). Off by default because on the 2-core machine it was measured on the
 * broker needs the second core: a mapping stage with one worker ran at the rate it runs without,
 * with 40-60 MB more resident memory (BENCHMARKS.md, session 10). It is for hosts with cores to spare.
 */
export const recordWorkerCount = (): number => {
  const v = process.env.FLEUVE_KAFKA_RECORD_WORKERS
  const n = v === undefined || v === "" ? 0 : Number(v)
  if (!Number.isInteger(n) || n < 0) throw new Error(`FLEUVE_KAFKA_RECORD_WORKERS must be a whole number ≥ 0, not '${v}'`)
  return n
}

const workerModule = fileURLToPath(new URL("./record-path-worker.ts", import.meta.url))

/** Fetched bytes between two records of a slice copied along rather than starting another copy (record headers). */
const GAP = 1024

/**
 * A slice's keys and values in one buffer of their own, copied a run at a time: records that lie
 * one after the other in one fetched buffer (kafkajs' records read in place) are one copy.
 */
export const gather = (messages: ReadonlyArray<InMessage>): { bytes: Uint8Array; spans: Int32Array; offsets: Float64Array } => {
  const n = messages.length
  const spans = new Int32Array(4 * n)
  const offsets = new Float64Array(n)
  const runs: Array<{ source: Buffer; lo: number; hi: number; at: number }> = []
  let run: { source: Buffer; lo: number; hi: number; at: number } | undefined
  let total = 0
  const place = (source: Buffer, start: number, end: number): number => {
    if (!run || run.source !== source || start < run.hi || start - run.hi > GAP) {
      run = { source, lo: start, hi: start, at: total }
      runs.push(run)
    }
    if (end > run.hi) {
      total += end - run.hi
      run.hi = end
    }
    return run.at + (start - run.lo)
  }
  for (let i = 0; i < n; i++) {
    const m = messages[i]!
    const o = Number(m.offset)
    // (An offset past 2^53 is past any log's life: refused rather than rounded.)
    if (!Number.isSafeInteger(o)) throw new Error(`offset ${m.offset} is past what a worker thread is handed`)
    offsets[i] = o
    let ks = 0
    let ke = -1
    let vs = 0
    let ve = -1
    if (isInPlace(m)) {
      if (m.keyEnd >= 0) (ks = place(m.source, m.keyStart, m.keyEnd)), (ke = ks + m.keyEnd - m.keyStart)
      if (m.valueEnd >= 0) (vs = place(m.source, m.valueStart, m.valueEnd)), (ve = vs + m.valueEnd - m.valueStart)
    } else {
      if (m.key) (ks = place(m.key, 0, m.key.length)), (ke = ks + m.key.length)
      if (m.value) (vs = place(m.value, 0, m.value.length)), (ve = vs + m.value.length)
    }
    spans[4 * i] = ks
    spans[4 * i + 1] = ke
    spans[4 * i + 2] = vs
    spans[4 * i + 3] = ve
  }
  const bytes = Buffer.allocUnsafeSlow(total)
  for (const r of runs) r.source.copy(bytes, r.at, r.lo, r.hi)
  return { bytes, spans, offsets }
}

interface Pending {
  readonly resolve: (reply: RecordPathReply) => void
  readonly reject: (e: Error) => void
}

export class RecordPathPool {
  private readonly pending = new Map<number, Pending>()
  private nextId = 0
  private turn = 0
  private failure: Error | undefined
  /** Per worker: how many schema ids it was told of. */
  private readonly told: Array<number>

  private constructor(private readonly workers: ReadonlyArray<Worker>) {
    this.told = workers.map(() => 0)
    for (const w of workers) {
      w.on("message", (m: RecordPathReply & { error?: string; ready?: boolean }) => {
        if (m.ready) return
        const job = this.pending.get(m.id)
        this.pending.delete(m.id)
        if (m.error !== undefined) job?.reject(new Error(`record-path worker: ${m.error}`))
        else job?.resolve(m)
      })
      w.on("error", (e) => this.fail(e))
      w.on("exit", (code) => this.fail(new Error(`a record-path worker thread exited (code ${code})`)))
    }
  }

  /** Starts `count` workers, each with its own copy of `operator` (imported from its module), once each is ready. */
  static async start(operator: Operator<unknown, unknown, unknown>, init: RecordPathInit, count: number): Promise<RecordPathPool> {
    const module = operator.module!
    const operatorPath = module.url.startsWith("file:") ? fileURLToPath(module.url) : module.url
    const code = await bundledWorkerScript(
      `${workerModule}|${operatorPath}`,
      `
        const { parentPort, workerData } = require("node:worker_threads")
        const { makeRecordPath } = require(${JSON.stringify(workerModule)})
        const operator = require(${JSON.stringify(operatorPath)})[workerData.name]
        if (!operator || typeof operator.process !== "function") throw new Error("no operator exported as " + workerData.name + " by ${operatorPath}")
        const handle = makeRecordPath(operator, workerData.init)
        parentPort.on("message", (job) => {
          try {
            const r = handle(job)
            parentPort.postMessage(r.reply, r.transfer)
          } catch (e) {
            parentPort.postMessage({ id: job.id, error: e instanceof Error ? e.stack ?? e.message : String(e) })
          }
        })
        parentPort.postMessage({ ready: true })`
    )
    const workers = await startWorkers(code, count, { name: module.name, init })
    // A stage left without close() does not keep its process alive for its workers' sake.
    for (const w of workers) w.unref()
    return new RecordPathPool(workers)
  }

  private fail(e: Error) {
    this.failure ??= e
    for (const job of this.pending.values()) job.reject(e)
    this.pending.clear()
  }

  /**
   * A batch's slices, handed to the workers at once (in turns): their replies, in order. `known`:
   * every schema id the slices carry with its subject (serde.knownSchemaIds).
   */
  submit(partition: number, slices: ReadonlyArray<ReadonlyArray<InMessage>>, known: ReadonlyMap<number, string | null>): Array<Promise<RecordPathReply>> {
    return slices.map((messages) => {
      if (this.failure) return Promise.reject(this.failure)
      const w = this.turn
      this.turn = (this.turn + 1) % this.workers.length
      const id = this.nextId++
      const { bytes, spans, offsets } = gather(messages)
      const job: RecordPathJob = { id, partition, bytes, spans, offsets, ...(known.size !== this.told[w] ? { known: [...known] } : {}) }
      this.told[w] = known.size
      return new Promise<RecordPathReply>((resolve, reject) => {
        this.pending.set(id, { resolve, reject })
        this.workers[w]!.postMessage(job, [bytes.buffer as ArrayBuffer, spans.buffer as ArrayBuffer, offsets.buffer as ArrayBuffer])
      })
    })
  }

  async close(): Promise<void> {
    this.failure ??= new Error("the record-path workers were closed")
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}
