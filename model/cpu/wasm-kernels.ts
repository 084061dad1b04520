/**
 * fleuve's WebAssembly SIMD kernels (model/cpu/wasm/gemm.ts, fused.ts) on every core: one shared
 * WebAssembly.Memory holds the fused path's buffers and weight copies; the main thread and
 * `threads − 1` workers each run an instance of the same module on it, a job (a matrix product,
 * attention, the vocabulary's softmax, AdamW) split into chunks of units that the threads claim.
 * Workers wait on Atomics (no message per call); small jobs stay on the calling thread, where a
 * hand-off would cost more than it saves. The elementwise kernels (norms, RoPE, SwiGLU, masks)
 * run on the calling thread.
 *
 * Memory: a first-fit free list over the shared memory (grown by pages, 4 GiB at most). Buffers of
 * one forward/backward are released together (mark/release); weight copies live as long as their
 * tensor's data (a new assign makes a new copy and frees the old one).
 */
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { type CpuKernels, type FusedKernels, type Ld, leading } from "./kernels.ts"
import { gemmWasmBase64 } from "./wasm/gemm-wasm.ts"

type Gemm = (a: number, b: number, c: number, m: number, n: number, k: number, alpha: number, acc: number, lda: number, ldb: number, ldc: number) => void

const PAGE = 65536
const MAX_PAGES = 65536
/** Below this many multiply-adds a product runs on the calling thread alone. */
const SPLIT_MIN = 1 << 20
/** Values in one thread's buffer of packed panels (gemm.ts: KC × NC_AXPY of B, then KC × 4 of A). */
const PACK_FLOATS = 256 * 128 + 256 * 4

// One control block (Int32) shared by every thread: 0 seq (the job), 1 claim (seq·2¹⁶ + next
// chunk), 2 completed (seq·2¹⁶ + chunks done), 3 op, 4 units, 5 units per chunk, 6 chunks. A job's
// arguments are words of a block in the shared memory (its address is fixed); every exported job
// does units lo..hi−1 of its work (rows of C for a product, batch rows × heads for attention).
// Chunks of units are claimed, not assigned: on a machine busy with other jobs a worker that is not
// scheduled in time leaves its chunks to the others (the caller included) instead of stalling them;
// a chunk is claimed only while the claim word still carries its job's seq, so a worker waking
// late never touches a later job.
const CTRL = 7
const JOBS = ["gemmNTRows", "gemmNNRows", "gemmTNRows", "attentionForward", "attentionBackward", "crossEntropy", "pickTargets", "adamw", "attentionBackwardBlocks", "attentionForwardBlocks"]
const ATT_FWD = 3
const ATT_BWD = 4
const CROSS_ENTROPY = 5
const PICK = 6
const ADAMW = 7
const ATT_BWD_BLOCKS = 8
const ATT_FWD_BLOCKS = 9
/** Up to this many tokens (squared: query × key blocks) attention runs as matrix products over whole blocks. */
const BLOCKS_MAX_T = 512
const claimAndRun = `
function claimAndRun(c, jobs, args, seq) {
  const tag = (seq & 0x7fff) << 16
  const op = c[3], units = c[4], per = c[5], chunks = c[6]
  for (;;) {
    const v = Atomics.load(c, 1)
    if ((v & ~0xffff) !== tag || (v & 0xffff) >= chunks) return
    if (Atomics.compareExchange(c, 1, v, v + 1) !== v) continue
    const i0 = (v & 0xffff) * per
    jobs[op](i0, Math.min(units, i0 + per), args)
    if (Atomics.add(c, 2, 1) + 1 === (tag | chunks)) Atomics.notify(c, 2)
  }
}
`
const workerSource = `
const { workerData } = require("node:worker_threads")
const { module, memory, ctrl, args, names, pack } = workerData
const inst = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error("wasm abort") } } })
inst.exports.setPack(pack)
const jobs = names.map((n) => inst.exports[n])
const c = new Int32Array(ctrl)
${claimAndRun}
let seen = 0
for (;;) {
  Atomics.wait(c, 0, seen)
  seen = Atomics.load(c, 0)
  if (seen < 0) break
  claimAndRun(c, jobs, args, seen)
}
`
type Job = (lo: number, hi: number, args: number) => void
const claimOnMain = new Function(`${claimAndRun}; return claimAndRun`)() as (c: Int32Array, jobs: ReadonlyArray<Job>, args: number, seq: number) => void

interface Block {
  off: number
  size: number
}

export interface WasmKernelOptions {
  /** Threads computing a product, the caller's included (default: the machine's cores, at most 8). */
  readonly threads?: number
  /** Work (multiply-adds, about) below which a job stays on the calling thread (default 2²⁰; tests set 0 to split everything). */
  readonly splitMin?: number
}

/** Loads the kernels; throws where WebAssembly SIMD, shared memory or worker threads are missing. */
export const wasmKernels = (options: WasmKernelOptions = {}): CpuKernels => {
  const threads = Math.max(1, Math.min(options.threads ?? availableParallelism(), 8))
  const splitMin = options.splitMin ?? SPLIT_MIN
  const module = new WebAssembly.Module(Buffer.from(gemmWasmBase64, "base64"))
  const memory = new WebAssembly.Memory({ initial: 256, maximum: MAX_PAGES, shared: true })
  const inst = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error("wasm abort") } } })
  const ops = [inst.exports.gemmNT, inst.exports.gemmNN, inst.exports.gemmTN] as Array<Gemm>
  const swiglu = inst.exports.swiglu as (gate: number, up: number, act: number, n: number) => void
  const swigluBack = inst.exports.swigluBack as (dact: number, gate: number, up: number, dgate: number, dup: number, n: number) => void
  type Fn = (...args: Array<number>) => void
  const rmsNorm = inst.exports.rmsNorm as Fn
  const rmsNormBack = inst.exports.rmsNormBack as Fn
  const rope = inst.exports.rope as Fn
  const dropoutMask = inst.exports.dropoutMask as Fn
  const mulInto = inst.exports.mulInto as Fn
  const zero = inst.exports.zero as (p: number, bytes: number) => void
  const jobs = JOBS.map((n) => inst.exports[n]) as Array<Job>
  const ctrl = new SharedArrayBuffer(CTRL * 4)
  const cw = new Int32Array(ctrl)
  // a job's arguments: 32 words in the first page (below the allocator's first block)
  const ARGS = PAGE / 2
  const aw = new Int32Array(memory.buffer, ARGS, 32)
  const af = new Float32Array(memory.buffer, ARGS, 32)
  let seq = 0

  /** Runs job `op` over `units` with the arguments already in aw/af: split over the threads when `work` (multiply-adds, about) is worth a hand-off. */
  const runJob = (op: number, units: number, work: number, align = 1) => {
    if (threads === 1 || work < splitMin || units < 2) {
      jobs[op]!(0, units, ARGS)
      return
    }
    // about four chunks per thread
    const per = Math.max(align, Math.ceil(units / (threads * 4) / align) * align)
    const chunks = Math.ceil(units / per)
    seq = (seq + 1) & 0x7fff
    const tag = seq << 16
    cw[3] = op
    cw[4] = units
    cw[5] = per
    cw[6] = chunks
    Atomics.store(cw, 2, tag)
    Atomics.store(cw, 1, tag)
    Atomics.store(cw, 0, seq)
    Atomics.notify(cw, 0)
    claimOnMain(cw, jobs, ARGS, seq)
    // only chunks a worker claimed and is still computing are waited for
    for (let v = Atomics.load(cw, 2); v !== (tag | chunks); v = Atomics.load(cw, 2)) Atomics.wait(cw, 2, v)
  }
  const setArgs = (...words: Array<number>) => {
    for (let i = 0; i < words.length; i++) aw[i] = words[i]!
  }

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

  // each thread's buffer for the products' packed panels (gemm.ts: KC × NC_AXPY values)
  const packs = Array.from({ length: threads }, () => allocBlock(PACK_FLOATS).off)
  ;(inst.exports.setPack as (p: number) => void)(packs[0]!)
  for (let t = 1; t < threads; t++) new Worker(workerSource, { eval: true, workerData: { module, memory, ctrl, args: ARGS, names: JOBS, pack: packs[t] } }).unref()

  const mirrors = new WeakMap<Float32Array, Float32Array>()
  const finalizer = new FinalizationRegistry<Block>((b) => release(b))

  const inMemory = (...xs: Array<ArrayBufferView>) => {
    for (const x of xs) if (x.buffer !== memory.buffer && !(x.buffer instanceof SharedArrayBuffer)) throw new Error("fleuve CPU kernels: an array outside their memory")
  }
  const run = (op: number, a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, alpha: number, accumulate: boolean, ld: Ld | undefined) => {
    inMemory(a, b, c)
    const acc = accumulate ? 1 : 0
    const { a: lda, b: ldb, c: ldc } = leading(op === 0 ? "NT" : op === 1 ? "NN" : "TN", m, n, k, ld)
    if (threads === 1 || m * n * k < splitMin || m < 8) {
      ops[op]!(a.byteOffset, b.byteOffset, c.byteOffset, m, n, k, alpha, acc, lda, ldb, ldc)
      return
    }
    setArgs(a.byteOffset, b.byteOffset, c.byteOffset, m, n, k, 0, acc, lda, ldb, ldc)
    af[6] = alpha
    runJob(op, m, m * n * k, 4)
  }
  /** Scratch blocks of one call, released at its end. */
  const scoped = <T>(f: (tmp: <A extends Float32Array | Int32Array | Float64Array>(make: new (b: ArrayBufferLike, off: number, n: number) => A, n: number) => A) => T): T => {
    const blocks: Array<Block> = []
    try {
      return f((make, n) => {
        const b = allocBlock(n * 2) // room for 8-byte elements
        blocks.push(b)
        return new make(memory.buffer, b.off, n)
      })
    } finally {
      for (const b of blocks) release(b)
    }
  }
  // keyed by the values array: a tensor's values change only by replacing its array (assign)
  const weights = (data: Float32Array): Float32Array => {
    const m = mirrors.get(data)
    if (m) return m
    const b = allocBlock(data.length)
    const v = view(b, data.length)
    v.set(data)
    mirrors.set(data, v)
    finalizer.register(data, b)
    return v
  }
  const fused: FusedKernels = {
    attentionForward(x) {
      const { b, t, nh, kv, d, total } = x
      inMemory(x.q, x.k, x.v, x.ctx, ...(x.probs ? [x.probs] : []))
      scoped((tmp) => {
        const valid = tmp(Float32Array, b * total)
        x.keyValid.forEach((row, r) => { for (let j = 0; j < total; j++) valid[r * total + j] = row[j] ? 1 : 0 })
        const blocks = t * total <= BLOCKS_MAX_T * BLOCKS_MAX_T
        const scratch = x.probs ? undefined : tmp(Float32Array, b * nh * total * (blocks ? t : 1))
        setArgs(x.q.byteOffset, x.k.byteOffset, x.v.byteOffset, x.ctx.byteOffset, x.probs?.byteOffset ?? 0, valid.byteOffset, scratch?.byteOffset ?? 0, t, nh, kv, d, total, x.past, 0)
        af[13] = x.scale
        runJob(blocks ? ATT_FWD_BLOCKS : ATT_FWD, b * nh, b * nh * t * total * d)
      })
    },
    attentionBackward(x) {
      const { b, t, nh, kv, d } = x
      inMemory(x.q, x.k, x.v, x.probs, x.dctx, x.dq, x.dk, x.dv)
      scoped((tmp) => {
        const valid = tmp(Float32Array, b * t)
        x.keyValid.forEach((row, r) => { for (let j = 0; j < t; j++) valid[r * t + j] = row[j] ? 1 : 0 })
        const blocks = t % 4 === 0 && t <= BLOCKS_MAX_T
        const scratch = tmp(Float32Array, blocks ? b * kv * t * t : b * kv * t)
        setArgs(x.q.byteOffset, x.k.byteOffset, x.v.byteOffset, x.probs.byteOffset, x.dctx.byteOffset, x.dq.byteOffset, x.dk.byteOffset, x.dv.byteOffset, valid.byteOffset, scratch.byteOffset, t, nh, kv, d, 0)
        af[14] = x.scale
        runJob(blocks ? ATT_BWD_BLOCKS : ATT_BWD, b * kv, 2 * b * nh * t * t * d)
      })
    },
    crossEntropy(logits, rows, n, targets, weights) {
      inMemory(logits)
      return scoped((tmp) => {
        const tg = tmp(Int32Array, rows)
        tg.set(targets)
        const wt = tmp(Float32Array, rows)
        wt.set(weights)
        const losses = tmp(Float64Array, rows)
        setArgs(logits.byteOffset, tg.byteOffset, wt.byteOffset, losses.byteOffset, n)
        runJob(CROSS_ENTROPY, rows, rows * n * 8)
        return losses.slice()
      })
    },
    swiglu(gate, up, act, n) {
      inMemory(gate, up, act)
      swiglu(gate.byteOffset, up.byteOffset, act.byteOffset, n)
    },
    swigluBack(dact, gate, up, dgate, dup, n) {
      inMemory(dact, gate, up, dgate, dup)
      swigluBack(dact.byteOffset, gate.byteOffset, up.byteOffset, dgate.byteOffset, dup.byteOffset, n)
    },
    rmsNorm(x, w, width, groups, eps, out, rstd) {
      inMemory(x, w, out, rstd)
      rmsNorm(x.byteOffset, w.byteOffset, width, groups, eps, out.byteOffset, rstd.byteOffset)
    },
    rmsNormBack(x, w, rstd, dy, width, groups, dx, dw, overwrite) {
      inMemory(x, w, rstd, dy, dx, ...(dw ? [dw] : []))
      rmsNormBack(x.byteOffset, w.byteOffset, rstd.byteOffset, dy.byteOffset, width, groups, dx.byteOffset, dw?.byteOffset ?? 0, overwrite ? 1 : 0)
    },
    rope(buf, cos, sin, rows, heads, d, back) {
      inMemory(buf, cos, sin)
      rope(buf.byteOffset, cos.byteOffset, sin.byteOffset, rows, heads, d, back ? 1 : 0)
    },
    adamw(p, g, m, v, h) {
      const n = p.length
      const pm = weights(p)
      const out = allocBlock(n)
      scoped((tmp) => {
        const gT = tmp(Float32Array, n)
        gT.set(g)
        const mT = tmp(Float32Array, n)
        mT.set(m)
        const vT = tmp(Float32Array, n)
        vT.set(v)
        setArgs(pm.byteOffset, gT.byteOffset, mT.byteOffset, vT.byteOffset, out.off, n)
        af.set([h.gradScale, h.beta1, h.beta2, h.eps, h.stepSize, h.sqrtBc2, h.decay], 6)
        runJob(ADAMW, Math.ceil(n / 256), n * 4)
        m.set(mT)
        v.set(vT)
      })
      // the new weights, with their copy in kernel memory already made (the next forward reads it)
      const kept = view(out, n)
      const p1 = kept.slice()
      mirrors.set(p1, kept)
      finalizer.register(p1, out)
      return p1
    },
    dropoutMask(out, st, keep) {
      inMemory(out)
      dropoutMask(out.byteOffset, out.length, st.s0, st.s1, st.s2, st.c, keep)
    },
    mulInto(a, b, out, n, accumulate) {
      inMemory(a, b, out)
      mulInto(a.byteOffset, b.byteOffset, out.byteOffset, n, accumulate ? 1 : 0)
    },
    pickTargets(logits, rows, n, targets) {
      return scoped((tmp) => {
        let x = logits
        if (!(x.buffer === memory.buffer || x.buffer instanceof SharedArrayBuffer)) {
          x = tmp(Float32Array, rows * n)
          x.set(logits.subarray(0, rows * n))
        }
        const tg = tmp(Int32Array, rows)
        tg.set(targets)
        const lp = tmp(Float32Array, rows)
        const am = tmp(Int32Array, rows)
        setArgs(x.byteOffset, tg.byteOffset, lp.byteOffset, am.byteOffset, n)
        runJob(PICK, rows, rows * n * 8)
        return { logprobs: lp.slice(), argmax: am.slice() }
      })
    }
  }

  return {
    name: `WebAssembly SIMD, ${threads} thread${threads > 1 ? "s" : ""}`,
    arena: true,
    fused,
    alloc(n, zeroed = true) {
      const b = allocBlock(n)
      live.push(b)
      if (zeroed) zero(b.off, n * 4)
      return view(b, n)
    },
    mark: () => live.length,
    release(mark) {
      while (live.length > mark) release(live.pop()!)
    },
    weights,
    gemmNT: (a, b, c, m, n, k, alpha, accumulate, ld) => run(0, a, b, c, m, n, k, alpha, accumulate, ld),
    gemmNN: (a, b, c, m, n, k, alpha, accumulate, ld) => run(1, a, b, c, m, n, k, alpha, accumulate, ld),
    gemmTN: (a, b, c, m, n, k, alpha, accumulate, ld) => run(2, a, b, c, m, n, k, alpha, accumulate, ld)
  }
}
