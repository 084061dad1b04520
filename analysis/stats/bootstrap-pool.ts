/**
 * Bootstrap intervals of many candidate × cell pairs, spread over worker threads. Each pair is
 * drawn from its own stream, seeded by its label, so the intervals are the same whatever the
 * number of workers and whichever worker draws which pair; pairs are handed out one at a time
 * (costs differ a lot between pairs: a binary cell vs an F1 cell with hundreds of values).
 */
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { bootstrapCi } from "./bootstrap.ts"
import type { WorkerJob, WorkerReply } from "./bootstrap-worker.ts"
import { seededRandom } from "./random.ts"

export interface BootstrapJob {
  /** Seeds the pair's random stream (seed, task, shots, system). */
  readonly seedLabel: string
  /** Histogram of the paired differences: distinct values and their counts. */
  readonly values: ReadonlyArray<number>
  readonly counts: ReadonlyArray<number>
}

/**
 * The worker's code: bootstrap-worker.ts and the few modules it imports, bundled to one plain
 * script once per process (~0.1 s; 17 kB). A worker started from a .ts file would have to register
 * the tsx loader itself, which starts a loader thread per worker: ~0.3 s of start-up each, measured.
 */
let workerScript: string | undefined
const workerCode = async (): Promise<string> => {
  if (workerScript === undefined) {
    // Imported here, not at the top: every fleuve command loads this module, few start a pool.
    const { buildSync } = await import("esbuild")
    const built = buildSync({
      entryPoints: [fileURLToPath(new URL("./bootstrap-worker.ts", import.meta.url))],
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node20",
      write: false
    })
    workerScript = built.outputFiles[0]!.text
  }
  return workerScript
}

/** Below this many pairs a pool (~0.1 s to bundle and start) saves little or nothing. */
const MIN_PAIRS_PER_POOL = 64

/** Worker threads for `pairs` pairs: one per available core when the work is worth it, else none. */
export const defaultWorkers = (pairs: number): number => (pairs < MIN_PAIRS_PER_POOL ? 1 : Math.min(availableParallelism(), 8))

const inThread = (jobs: ReadonlyArray<BootstrapJob>, resamples: number) =>
  jobs.map((j) => bootstrapCi(j.values, j.counts, resamples, seededRandom(j.seedLabel)))

/** [ci_low, ci_high] per job, in job order; `workers` ≤ 1 computes in this thread. */
export const bootstrapIntervals = async (
  jobs: ReadonlyArray<BootstrapJob>,
  resamples: number,
  workers: number
): Promise<Array<readonly [number, number]>> => {
  const count = Math.min(workers, jobs.length)
  if (count <= 1) return inThread(jobs, resamples)
  // esbuild bundles the worker at run time; where it is absent (the one-file GPU bundle has no
  // node_modules) the intervals are computed in this thread: same numbers, fewer cores.
  const code = await workerCode().catch(() => undefined)
  if (code === undefined) return inThread(jobs, resamples)
  const results: Array<readonly [number, number]> = new Array(jobs.length)
  const pool = Array.from({ length: count }, () => new Worker(code, { eval: true }))
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0
      let done = 0
      const feed = (w: Worker) => {
        if (next >= jobs.length) return
        const index = next++
        const j = jobs[index]!
        w.postMessage({ index, seedLabel: j.seedLabel, values: j.values, counts: j.counts, resamples } satisfies WorkerJob)
      }
      for (const w of pool) {
        w.on("message", (m: WorkerReply) => {
          if (m.ready === undefined) {
            results[m.index] = [m.low, m.high]
            if (++done === jobs.length) return resolve()
          }
          feed(w)
        })
        w.on("error", reject)
        w.on("exit", (code) => {
          if (done < jobs.length) reject(new Error(`bootstrap worker exited with code ${code} before finishing`))
        })
      }
    })
  } finally {
    await Promise.all(pool.map((w) => w.terminate()))
  }
  return results
}
