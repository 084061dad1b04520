/**
 * fleuve's WebAssembly SIMD kernels (model/cpu/wasm/gemm.ts) on every core: one shared
 * WebAssembly.Memory holds the fused path's buffers and weight copies; the main thread and
 * `threads − 1` workers each run an instance of the same module on it, a matrix product split into
 * chunks of rows of C that the threads claim. Workers wait on Atomics (no message per call); small
 * products stay on the calling thread, where a hand-off would cost more than it saves.
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
const SPLIT_MIN = 1 << 20

// One control block (Int32) shared by every thread: 0 seq (the job), 1 claim (seq·2¹⁶ + next
// chunk), 2 completed (seq·2¹⁶ + chunks done), 3 op, 4 a, 5 b, 6 c, 7 m, 8 n, 9 k, 10 acc,
// 11 alpha (f32), 12 lda, 13 ldb, 14 ldc, 15 rows per chunk, 16 chunks.
// Chunks of rows are claimed, not assigned: on a machine busy with other jobs a worker that is not
// scheduled in time leaves its chunks to the others (the caller included) instead of stalling them;
// a chunk is claimed only while the claim word still carries its job's seq, so a worker waking
// late never touches a later job.
const CTRL = 17
const claimAndRun = `
function claimAndRun(c, f, ops, seq) {
  const tag = (seq & 0x7fff) << 16
  const op = c[3], a = c[4], b = c[5], cc = c[6], m = c[7], n = c[8], k = c[9], acc = c[10], alpha = f[11]
  const lda = c[12], ldb = c[13], ldc = c[14], per = c[15], chunks = c[16]
  const aStep = op === 2 ? 4 : lda * 4
  for (;;) {
    const v = Atomics.load(c, 1)
    if ((v & ~0xffff) !== tag || (v & 0xffff) >= chunks) return
    if (Atomics.compareExchange(c, 1, v, v + 1) !== v) continue
    const i0 = (v & 0xffff) * per
    ops[op](a + i0 * aStep, b, cc + i0 * ldc * 4, Math.min(per, m - i0), n, k, alpha, acc, lda, ldb, ldc)
    if (Atomics.add(c, 2, 1) + 1 === (tag | chunks)) Atomics.notify(c, 2)
  }
}
`
const workerSource = `
const { workerData } = require("node:worker_threads")
const { module, memory, ctrl } = workerData
const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error("wasm abort") } } })
const ops = [inst.exports.gemmNT, inst.exports.gemmNN, inst.exports.gemmTN]
const c = new Int32Array(ctrl)
const f = new Float32Array(ctrl)
${claimAndRun}
let seen = 0
for (;;) {
  Atomics.wait(c, 0, seen)
  seen = Atomics.load(c, 0)
  if (seen < 0) break
  claimAndRun(c, f, ops, seen)
}
`
const claimOnMain = new Function(`${claimAndRun}; return claimAndRun`)() as (c: Int32Array, f: Float32Array, ops: ReadonlyArray<Gemm>, seq: number) => void

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
  const ctrl = new SharedArrayBuffer(CTRL * 4)
  const cw = new Int32Array(ctrl)
  const cf = new Float32Array(ctrl)
  let seq = 0
  for (let t = 1; t < threads; t++) new Worker(workerSource, { eval: true, workerData: { module, memory, ctrl } }).unref()

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
    if (threads === 1 || m * n * k < SPLIT_MIN || m < 8) {
      ops[op]!(a.byteOffset, b.byteOffset, c.byteOffset, m, n, k, alpha, acc, lda, ldb, ldc)
      return
    }
    // about four chunks per thread, rows a multiple of 4
    const per = Math.max(4, Math.ceil(m / (threads * 4) / 4) * 4)
    const chunks = Math.ceil(m / per)
    seq = (seq + 1) & 0x7fff
    const tag = seq << 16
    cw[3] = op
    cw[4] = a.byteOffset
    cw[5] = b.byteOffset
    cw[6] = c.byteOffset
    cw[7] = m
    cw[8] = n
    cw[9] = k
    cw[10] = acc
    cf[11] = alpha
    cw[12] = lda
    cw[13] = ldb
    cw[14] = ldc
    cw[15] = per
    cw[16] = chunks
    Atomics.store(cw, 2, tag)
    Atomics.store(cw, 1, tag)
    Atomics.store(cw, 0, seq)
    Atomics.notify(cw, 0)
    claimOnMain(cw, cf, ops, seq)
    // only chunks a worker claimed and is still computing are waited for
    for (let v = Atomics.load(cw, 2); v !== (tag | chunks); v = Atomics.load(cw, 2)) Atomics.wait(cw, 2, v)
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
