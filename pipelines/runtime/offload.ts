/**
 * Worker threads for the stateless half of a stage. A stage may declare an `offload`: a module
 * whose `makeHandler(init)` turns a list of requests into a list of replies, plus how a record
 * becomes a request and how a reply goes back onto the record. The embedded runtime then sends
 * each batch, split by key over the workers, ahead of the operator, and the operator (stateful,
 * on the main thread, in order) reads what the workers computed. Records keep their order: the
 * batch is reassembled before the operator sees it. A record whose request is `undefined`, or
 * whose reply is `undefined` (the handler failed on it), is left for the operator to compute.
 */
import { createHash } from "node:crypto"
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import type { Envelope } from "../../operators/envelope.ts"
import { partitionOf } from "./partition.ts"

export interface StageOffload<In> {
  /** Absolute path (or file URL) of a module exporting `makeHandler(init): OffloadHandler`. */
  readonly module: string
  /** Handed to `makeHandler` in each worker (structured-cloneable). */
  readonly init: unknown
  /** What a worker needs of a record; undefined: nothing to compute ahead for it. */
  readonly request: (value: In) => unknown
  /** The record with the worker's reply on it. */
  readonly attach: (value: In, reply: unknown) => In
}

/** What a worker runs: replies in request order, and the buffers to move rather than copy. */
export type OffloadHandler = (requests: ReadonlyArray<unknown>) => { replies: ReadonlyArray<unknown>; transfer?: ReadonlyArray<ArrayBuffer> }

interface Job {
  readonly resolve: (replies: ReadonlyArray<unknown>) => void
  readonly reject: (e: Error) => void
}

/**
 * The worker's code: the handler module and what it imports, bundled to one plain script once per
 * module and process (as analysis/stats/bootstrap-pool.ts does: a worker started from a .ts file
 * would start a tsx loader thread of its own). The bundle is also kept on disk (scriptCache below):
 * esbuild takes ~0.5 s of a 2-core machine, as long as the corpus chain on a few MB.
 */
const workerScript = (module: string): Promise<string> => {
  const path = module.startsWith("file:") ? fileURLToPath(module) : module
  return bundledWorkerScript(
    path,
    `
      const { parentPort, workerData } = require("node:worker_threads")
      const { makeHandler } = require(${JSON.stringify(path)})
      const handle = makeHandler(workerData)
      parentPort.on("message", (m) => {
        try {
          const r = handle(m.requests)
          parentPort.postMessage({ id: m.id, replies: r.replies }, r.transfer ?? [])
        } catch (e) {
          parentPort.postMessage({ id: m.id, error: e instanceof Error ? e.stack ?? e.message : String(e) })
        }
      })
      parentPort.postMessage({ ready: true })`
  )
}

const scripts = new Map<string, string>()
/**
 * A worker thread's script: `contents` (CommonJS, requiring modules by absolute path) bundled with
 * what it requires, kept per `key` in this process and on disk.
 */
export const bundledWorkerScript = async (key: string, contents: string): Promise<string> => {
  const path = key
  let script = scripts.get(path) ?? readCachedScript(path)
  if (script === undefined) {
    const { buildSync, version } = await import("esbuild")
    const built = buildSync({
      stdin: {
        contents,
        resolveDir: process.cwd(),
        loader: "js"
      },
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      write: false,
      metafile: true,
      logLevel: "silent"
    })
    script = built.outputFiles[0]!.text
    writeCachedScript(path, version, Object.keys(built.metafile!.inputs), script)
  }
  scripts.set(path, script)
  return script
}

/**
 * On-disk cache of worker bundles (under the OS temporary folder, per module path): valid while
 * every input file of the bundle has the size and modification time it had when built, and the
 * same esbuild made it. Best effort: any error reads as a miss, and a failed write is ignored.
 */
const cacheFile = (path: string) => join(tmpdir(), "fleuve-offload", `${createHash("sha256").update(path).digest("hex").slice(0, 24)}.json`)
interface CachedScript {
  readonly esbuild: string
  readonly inputs: ReadonlyArray<readonly [string, number, number]>
  readonly script: string
}
const stamp = (file: string): [string, number, number] => {
  const s = statSync(file)
  return [file, s.size, s.mtimeMs]
}
const readCachedScript = (path: string): string | undefined => {
  try {
    const cached = JSON.parse(readFileSync(cacheFile(path), "utf8")) as CachedScript
    const esbuildVersion = (JSON.parse(readFileSync(createRequire(import.meta.url).resolve("esbuild/package.json"), "utf8")) as { version: string }).version
    if (cached.esbuild !== esbuildVersion) return undefined
    for (const [file, size, mtime] of cached.inputs) {
      const [, s, m] = stamp(file)
      if (s !== size || m !== mtime) return undefined
    }
    return cached.script
  } catch {
    return undefined
  }
}
const writeCachedScript = (path: string, esbuild: string, inputs: ReadonlyArray<string>, script: string) => {
  try {
    const file = cacheFile(path)
    mkdirSync(dirname(file), { recursive: true })
    // Inputs are relative to the working directory (esbuild's), stdin excluded.
    const entry: CachedScript = { esbuild, inputs: inputs.filter((i) => i !== "<stdin>").map((i) => stamp(resolve(i))), script }
    writeFileSync(`${file}.${process.pid}`, JSON.stringify(entry))
    renameSync(`${file}.${process.pid}`, file)
  } catch {
    // A cache that cannot be written only costs the next run the bundling.
  }
}

/**
 * Starts `count` worker threads on a bundled script, each with `workerData`, and waits for each one's
 * first message (its "ready", sent once its handler is built): a broken init fails here, and then
 * every worker started is terminated.
 */
export const startWorkers = async (code: string, count: number, workerData: unknown): Promise<Array<Worker>> => {
  const workers = Array.from({ length: count }, () => new Worker(code, { eval: true, workerData }))
  await Promise.all(workers.map((w) =>
    new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e)
      w.once("error", onError)
      w.once("message", () => {
        w.off("error", onError)
        resolve()
      })
    })
  )).catch(async (e) => {
    await Promise.all(workers.map((w) => w.terminate()))
    throw e
  })
  return workers
}

export class OffloadPool<In> {
  private readonly jobs = new Map<number, Job>()
  private nextId = 0
  /** Records that went back to the stage with a worker's reply on them. */
  attached = 0
  private failure: Error | undefined

  private constructor(private readonly offload: StageOffload<In>, private readonly workers: ReadonlyArray<Worker>) {
    for (const w of workers) {
      w.on("message", (m: { id?: number; replies?: ReadonlyArray<unknown>; error?: string; ready?: boolean }) => {
        if (m.ready || m.id === undefined) return
        const job = this.jobs.get(m.id)
        this.jobs.delete(m.id)
        if (m.error !== undefined) job?.reject(new Error(`worker: ${m.error}`))
        else job?.resolve(m.replies!)
      })
      w.on("error", (e) => this.fail(e))
      w.on("exit", (code) => {
        if (code !== 0) this.fail(new Error(`a worker thread exited with code ${code}`))
      })
    }
  }

  /** Starts `count` workers and waits until each has built its handler (a broken init fails here). */
  static async start<In>(offload: StageOffload<In>, count: number): Promise<OffloadPool<In>> {
    return new OffloadPool(offload, await startWorkers(await workerScript(offload.module), count, offload.init))
  }

  private fail(e: Error) {
    this.failure ??= e
    for (const job of this.jobs.values()) job.reject(e)
    this.jobs.clear()
  }

  private send(worker: Worker, requests: ReadonlyArray<unknown>): Promise<ReadonlyArray<unknown>> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.jobs.set(id, { resolve, reject })
      worker.postMessage({ id, requests })
    })
  }

  /** The batch with each record's reply attached, in the batch's order. */
  async prepare(batch: ReadonlyArray<Envelope<In>>): Promise<ReadonlyArray<Envelope<In>>> {
    const n = this.workers.length
    // By key, so a key's records always go to the same worker (no worker holds state today, but a
    // handler may cache per key).
    const slices: Array<Array<number>> = Array.from({ length: n }, () => [])
    const requests: Array<Array<unknown>> = Array.from({ length: n }, () => [])
    batch.forEach((e, i) => {
      const r = this.offload.request(e.value)
      if (r === undefined) return
      const w = partitionOf(e.key, n)
      slices[w]!.push(i)
      requests[w]!.push(r)
    })
    const replies = await Promise.all(requests.map((rs, w) => (rs.length === 0 ? Promise.resolve([]) : this.send(this.workers[w]!, rs))))
    const out = batch.slice()
    replies.forEach((rs, w) =>
      rs.forEach((reply, j) => {
        if (reply === undefined) return
        const i = slices[w]![j]!
        const e = batch[i]!
        out[i] = { key: e.key, value: this.offload.attach(e.value, reply), position: e.position }
        this.attached++
      }))
    return out
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}
