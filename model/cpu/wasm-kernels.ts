/**
 * fleuve's WebAssembly SIMD kernels (model/cpu/wasm/gemm.ts) on every core: one shared
 * WebAssembly.Memory holds the fused path's buffers and weight copies; the main thread and
 * `threads − 1` workers each run an instance of the same module on it, a matrix product split by
 * rows of C. Workers wait on Atomics (no message per call); small products stay on the main thread,
 * where a hand-off would cost more than it saves.
 *
 * Memory: a first-fit free list over the shared memory (grown by pages, 4 GiB at most). Buffers of
 * one forward/backward are released together (mark/release); weight copies live as long as their
 * tensor's data (a new assign makes a new copy and frees the old one).
 */
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { type CpuKernels, type Ld, leading } from "./kernels.ts"
import { gemmWasmBase64 } from "./wasm/gemm-wasm.ts"

type Gemm = (a: number, b: number, c: number, m: number, n: number, k: number, alpha: number, acc: number, lda: number, ldb: number, ldc: number) => void

const PAGE = 65536
const MAX_PAGES = 65536
/** Below this many multiply-adds a product runs on the calling thread alone. */
const SPLIT_MIN = 1 << 17

// Control block per worker (Int32): 0 seq, 1 done, 2 op (−1 stops), 3 a, 4 b, 5 c, 6 m, 7 n, 8 k, 9 acc, 10 alpha (f32), 11 lda, 12 ldb, 13 ldc.
const workerSource = `
const { workerData } = require("node:worker_threads")
const { module, memory, ctrl } = workerData
const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error("wasm abort") } } })
const ops = [inst.exports.gemmNT, inst.exports.gemmNN, inst.exports.gemmTN]
const c = new Int32Array(ctrl)
const f = new Float32Array(ctrl)
let seen = 0
for (;;) {
  Atomics.wait(c, 0, seen)
  seen = Atomics.load(c, 0)
  if (c[2] < 0) break
  ops[c[2]](c[3], c[4], c[5], c[6], c[7], c[8], f[10], c[9], c[11], c[12], c[13])
  Atomics.store(c, 1, seen)
  Atomics.notify(c, 1)
}
`

interface Block {
  off: number
  size: number
}

export interface WasmKernelOptions {
  /** Threads computing a product, the caller's included (default: the machine's cores, at most 8). */
  readonly threads?: number
}

/** Loads the kernels; throws where WebAssembly SIMD, shared memory or worker threads are missing. */
export const wasmKernels = (options: WasmKernelOptions = {}): CpuKernels => {
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), 8))
  const module = new WebAssembly.Module(Buffer.from(gemmWasmBase64, "base64"))
  const memory = new WebAssembly.Memory({ initial: 256, maximum: MAX_PAGES, shared: true })
  const inst = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error("wasm abort") } } })
  const ops = [inst.exports.gemmNT, inst.exports.gemmNN, inst.exports.gemmTN] as Array<Gemm>
  const workers = Array.from({ length: threads - 1 }, () => {
    const ctrl = new SharedArrayBuffer(14 * 4)
    const worker = new Worker(workerSource, { eval: true, workerData: { module, memory, ctrl } })
    worker.unref()
    return { worker, c: new Int32Array(ctrl), f: new Float32Array(ctrl), seq: 0 }
  })

  // ---- memory: first-fit free list, blocks 64-byte aligned
  const free: Array<Block> = [{ off: PAGE, size: 256 * PAGE - PAGE }]
  const live: Array<Block> = [] // allocation order, for mark/release
  const grow = (bytes: number) => {
    const pages = memory.buffer.byteLength / PAGE
    const want = Math.min(MAX_PAGES, Math.max(pages * 2, pages + Math.ceil(bytes / PAGE) + 1)) - pages
    if (want <= 0 || pages + want < pages + Math.ceil(bytes / PAGE)) throw new RangeError(`fleuve's CPU kernels need more than 4 GiB of WebAssembly memory (${bytes} more bytes)`)
    memory.grow(want)
    release({ off: pages * PAGE, size: want * PAGE })
  }
  const release = (b: Block) => {
    let i = 0
    while (i < free.length && free[i]!.off < b.off) i++
    free.splice(i, 0, { off: b.off, size: b.size })
    // merge with the next, then the previous
    if (i + 1 < free.length && free[i]!.off + free[i]!.size === free[i + 1]!.off) {
      free[i]!.size += free[i + 1]!.size
      free.splice(i + 1, 1)
    }
    if (i > 0 && free[i - 1]!.off + free[i - 1]!.size === free[i]!.off) {
      free[i - 1]!.size += free[i]!.size
      free.splice(i, 1)
    }
  }
  const allocBlock = (n: number): Block => {
    const size = Math.max(64, Math.ceil((n * 4) / 64) * 64)
    for (;;) {
      const i = free.findIndex((f) => f.size >= size)
      if (i >= 0) {
        const f = free[i]!
        const b = { off: f.off, size }
        f.off += size
        f.size -= size
        if (f.size === 0) free.splice(i, 1)
        return b
      }
      grow(size)
    }
  }
  const view = (b: Block, n: number) => new Float32Array(memory.buffer, b.off, n)

  const mirrors = new WeakMap<Float32Array, Float32Array>()
  const finalizer = new FinalizationRegistry<Block>((b) => release(b))

  const run = (op: number, a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, alpha: number, accumulate: boolean, ld: Ld | undefined) => {
    for (const x of [a, b, c]) if (!(x.buffer instanceof SharedArrayBuffer)) throw new Error("fleuve CPU kernels: an array outside their memory")
    const acc = accumulate ? 1 : 0
    const { a: lda, b: ldb, c: ldc } = leading(op === 0 ? "NT" : op === 1 ? "NN" : "TN", m, n, k, ld)
    const parts = m * n * k < SPLIT_MIN || m < 8 ? 1 : Math.min(threads, Math.floor(m / 4))
    // rows of C per part, multiples of 4; rows of A (NT, NN) or its columns (TN) follow
    const per = Math.ceil(m / parts / 4) * 4
    const aStep = op === 2 ? 4 : lda * 4
    const jobs: Array<() => void> = []
    for (let p = 1; p < parts; p++) {
      const i0 = p * per
      if (i0 >= m) break
      const w = workers[p - 1]!
      w.c[2] = op
      w.c[3] = a.byteOffset + i0 * aStep
      w.c[4] = b.byteOffset
      w.c[5] = c.byteOffset + i0 * ldc * 4
      w.c[6] = Math.min(per, m - i0)
      w.c[7] = n
      w.c[8] = k
      w.c[9] = acc
      w.f[10] = alpha
      w.c[11] = lda
      w.c[12] = ldb
      w.c[13] = ldc
      w.seq++
      Atomics.store(w.c, 0, w.seq)
      Atomics.notify(w.c, 0)
      jobs.push(() => {
        while (Atomics.load(w.c, 1) !== w.seq) Atomics.wait(w.c, 1, Atomics.load(w.c, 1))
      })
    }
    ops[op]!(a.byteOffset, b.byteOffset, c.byteOffset, Math.min(per, m), n, k, alpha, acc, lda, ldb, ldc)
    for (const j of jobs) j()
  }

  return {
    name: `WebAssembly SIMD, ${threads} thread${threads > 1 ? "s" : ""}`,
    arena: true,
    alloc(n) {
      const b = allocBlock(n)
      live.push(b)
      const v = view(b, n)
      v.fill(0)
      return v
    },
    mark: () => live.length,
    release(mark) {
      while (live.length > mark) release(live.pop()!)
    },
    weights(data) {
      // keyed by the values array: a tensor's values change only by replacing its array (assign)
      const m = mirrors.get(data)
      if (m) return m
      const b = allocBlock(data.length)
      const v = view(b, data.length)
      v.set(data)
      mirrors.set(data, v)
      finalizer.register(data, b)
      return v
    },
    gemmNT: (a, b, c, m, n, k, alpha, accumulate, ld) => run(0, a, b, c, m, n, k, alpha, accumulate, ld),
    gemmNN: (a, b, c, m, n, k, alpha, accumulate, ld) => run(1, a, b, c, m, n, k, alpha, accumulate, ld),
    gemmTN: (a, b, c, m, n, k, alpha, accumulate, ld) => run(2, a, b, c, m, n, k, alpha, accumulate, ld)
  }
}
