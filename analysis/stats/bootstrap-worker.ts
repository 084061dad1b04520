/**
 * Bootstrap worker thread (see bootstrap-pool.ts): draws the intervals of the pairs it is sent,
 * one message per pair, and says when it is ready for the first.
 */
import { parentPort } from "node:worker_threads"
import { bootstrapCi } from "./bootstrap.ts"
import { seededRandom } from "./random.ts"

export interface WorkerJob {
  readonly index: number
  readonly seedLabel: string
  readonly values: ReadonlyArray<number>
  readonly counts: ReadonlyArray<number>
  readonly resamples: number
}

export type WorkerReply = { readonly ready: true } | { readonly ready?: undefined; readonly index: number; readonly low: number; readonly high: number }

const port = parentPort!
port.on("message", (job: WorkerJob) => {
  const [low, high] = bootstrapCi(job.values, job.counts, job.resamples, seededRandom(job.seedLabel))
  port.postMessage({ index: job.index, low, high } satisfies WorkerReply)
})
port.postMessage({ ready: true } satisfies WorkerReply)
