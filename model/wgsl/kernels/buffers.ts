/** Host ↔ GPU helpers: f16 packing, storage buffers, read-back, one-shot dispatches. */

import { f16ToF32 } from "../../formats/safetensors.ts"

/** f16 bits → f32: the one conversion the safetensors reader uses too. */
export const f16BitsToF32 = f16ToF32

const f32 = new Float32Array(1)
const u32 = new Uint32Array(f32.buffer)

/** f32 → IEEE f16 bits, round to nearest even (subnormals and overflow handled). */
export const f32ToF16Bits = (x: number): number => {
  f32[0] = x
  const b = u32[0]!
  const sign = (b >>> 16) & 0x8000
  const exp = (b >>> 23) & 0xff
  const mant = b & 0x7fffff
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0)
  const e = exp - 127 + 15
  if (e >= 31) return sign | 0x7c00
  if (e <= 0) {
    if (e < -10) return sign
    const m = mant | 0x800000
    const shift = 14 - e
    const half = 1 << (shift - 1)
    let r = m >>> shift
    const rest = m & ((1 << shift) - 1)
    if (rest > half || (rest === half && (r & 1))) r++
    return sign | r
  }
  let r = (e << 10) | (mant >>> 13)
  const rest = mant & 0x1fff
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++
  return sign | r
}


export const toF16 = (values: Float32Array): Uint16Array => {
  const out = new Uint16Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!)
  return out
}

/** The values an f16 buffer really holds, as f32 (for CPU references). */
export const roundF16 = (values: Float32Array): Float32Array => {
  // a loop, not Float32Array.from(iterable, map): that collects into a plain array first, which
  // V8 caps at ~134M elements ("invalid array length" on a 151936 × 1024 embedding)
  const out = new Float32Array(values.length)
  for (let i = 0; i < values.length; i++) out[i] = f16BitsToF32(f32ToF16Bits(values[i]!))
  return out
}

/** Random values in [-scale, scale) from a fixed seed: the device probes' operands (their values change a check, not the work). */
export const seededRandoms = (n: number, seed: number, scale: number): Float32Array => {
  let x = seed >>> 0
  return Float32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    return ((x / 2 ** 32) * 2 - 1) * scale
  })
}

const STORAGE = 0x80 | 0x4 | 0x8 // STORAGE | COPY_SRC | COPY_DST (GPUBufferUsage without the global)

export const storageBuffer = (device: GPUDevice, data: ArrayBufferView | number): GPUBuffer => {
  const size = typeof data === "number" ? data : data.byteLength
  const buffer = device.createBuffer({ size: Math.max(16, Math.ceil(size / 16) * 16), usage: STORAGE, mappedAtCreation: typeof data !== "number" })
  if (typeof data !== "number") {
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    buffer.unmap()
  }
  return buffer
}

/** A uniform struct's bytes: u32 words then f32s, padded to 16 bytes (for uniformBuffer, or rewriting one with writeBuffer). */
export const uniformData = (words: ReadonlyArray<number>, floats: ReadonlyArray<number> = []): ArrayBuffer => {
  const data = new ArrayBuffer(Math.max(16, Math.ceil((words.length + floats.length) * 4 / 16) * 16))
  new Uint32Array(data).set(words)
  new Float32Array(data, words.length * 4).set(floats)
  return data
}

export const uniformBuffer = (device: GPUDevice, words: ReadonlyArray<number>, floats: ReadonlyArray<number> = []): GPUBuffer => {
  const data = uniformData(words, floats)
  const buffer = device.createBuffer({ size: data.byteLength, usage: 0x40 | 0x8, mappedAtCreation: true }) // UNIFORM | COPY_DST
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data))
  buffer.unmap()
  return buffer
}

/** `bytes` of `buffer` from byte `offset` (a multiple of 4), read back to the host. */
export const readBuffer = async (device: GPUDevice, buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> => {
  const staging = device.createBuffer({ size: Math.ceil(bytes / 4) * 4, usage: 0x1 | 0x8 }) // MAP_READ | COPY_DST
  const enc = device.createCommandEncoder()
  enc.copyBufferToBuffer(buffer, offset, staging, 0, Math.ceil(bytes / 4) * 4)
  device.queue.submit([enc.finish()])
  await staging.mapAsync(0x1)
  const out = staging.getMappedRange().slice(0, bytes)
  staging.unmap()
  staging.destroy()
  return out
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>()

const cacheOf = (device: GPUDevice) => {
  let cache = pipelines.get(device)
  if (!cache) pipelines.set(device, (cache = new Map()))
  return cache
}

/**
 * Compiles once per device and WGSL source, synchronously, for callers that cannot wait (a tfjs
 * kernel function); WGSL errors surface as the device's validation errors, not here.
 */
export const pipelineNow = (device: GPUDevice, code: string, label: string): GPUComputePipeline => {
  const cache = cacheOf(device)
  let p = cache.get(code)
  if (!p) {
    p = device.createComputePipeline({ layout: "auto", compute: { module: device.createShaderModule({ code, label }), entryPoint: "main" }, label })
    cache.set(code, p)
  }
  return p
}

const compiling = new WeakMap<GPUDevice, Promise<unknown>>()

/**
 * Compiles once per device and WGSL source; shader errors come back with the source's first lines.
 * Compilations on one device run one after the other: error scopes are a per-device stack, and
 * two compilations interleaved by Promise.all would each pop the other's errors (seen: a WGSL
 * error of one kernel reported against another).
 */
export const pipeline = (device: GPUDevice, code: string, label: string): Promise<GPUComputePipeline> => {
  const hit = cacheOf(device).get(code)
  if (hit) return Promise.resolve(hit)
  const run = (compiling.get(device) ?? Promise.resolve()).catch(() => undefined).then(() => compile(device, code, label))
  compiling.set(device, run)
  return run
}

const compile = async (device: GPUDevice, code: string, label: string): Promise<GPUComputePipeline> => {
  const cache = cacheOf(device)
  const hit = cache.get(code)
  if (hit) return hit
  device.pushErrorScope("validation")
  const module = device.createShaderModule({ code, label })
  const info = await module.getCompilationInfo()
  const moduleError = await device.popErrorScope()
  const errors = info.messages.filter((m) => m.type === "error")
  if (errors.length > 0 || moduleError) {
    const detail = errors.length > 0 ? errors.map((m) => `line ${m.lineNum}: ${m.message}`).join("; ") : moduleError!.message.split("\n").filter((l) => /error/.test(l)).join("; ")
    throw new Error(`${label}: WGSL does not compile: ${detail}`)
  }
  device.pushErrorScope("validation")
  // Synchronous creation, so a failure surfaces here. (On the device VM both this and the async
  // path aborted the process with std::system_error "Invalid argument": see docs/gpu.md.)
  const p = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label })
  const err = await device.popErrorScope()
  if (err) throw new Error(`${label}: ${err.message}`)
  cache.set(code, p)
  return p
}

/** A whole buffer, or a window of one (offset a multiple of 256: minStorageBufferOffsetAlignment). */
export type Binding = GPUBuffer | { readonly buffer: GPUBuffer; readonly offset: number; readonly size: number }

/** One recorded dispatch: pipeline, buffers in binding order, workgroup counts. */
export interface Dispatch {
  readonly pipeline: GPUComputePipeline
  readonly buffers: ReadonlyArray<Binding>
  readonly groups: readonly [number, number?, number?]
}

/**
 * A dispatch's bind group, made once per Dispatch object: an engine or decoder encodes the same
 * dispatches again and again (a decoding step is ~340 of them), and making bind groups anew each
 * time cost more than encoding.
 */
const bindGroups = new WeakMap<Dispatch, GPUBindGroup>()

/** The bind group of a dispatch's buffers, made once per dispatch (cached). */
export const bindGroupOf = (device: GPUDevice, d: Dispatch): GPUBindGroup => {
  let bind = bindGroups.get(d)
  if (!bind) {
    bind = device.createBindGroup({
      layout: d.pipeline.getBindGroupLayout(0),
      entries: d.buffers.map((b, binding) => ({ binding, resource: "buffer" in b ? { buffer: b.buffer, offset: b.offset, size: b.size } : { buffer: b } }))
    })
    bindGroups.set(d, bind)
  }
  return bind
}

export const encodeDispatches = (device: GPUDevice, dispatches: ReadonlyArray<Dispatch>): GPUCommandBuffer => {
  const enc = device.createCommandEncoder()
  const pass = enc.beginComputePass()
  for (const d of dispatches) {
    const bind = bindGroupOf(device, d)
    pass.setPipeline(d.pipeline)
    pass.setBindGroup(0, bind)
    pass.dispatchWorkgroups(d.groups[0], d.groups[1] ?? 1, d.groups[2] ?? 1)
  }
  pass.end()
  return enc.finish()
}

/** The GPU ran out of memory: an allocation or a submission reported it to an error scope. */
export class OutOfGpuMemory extends Error {}

/**
 * Whether an error is the GPU running out of memory: an OutOfGpuMemory, or an error whose message
 * says so (a buffer mapped at creation that cannot be allocated throws instead of reporting).
 */
export const isOutOfMemory = (e: unknown): boolean =>
  e instanceof OutOfGpuMemory || (e instanceof Error && /out of memory|OutOfMemory|failed to allocate|allocation failed/i.test(e.message))

/**
 * Runs `make` (allocations) inside an out-of-memory error scope: an allocation that failed
 * silently becomes an OutOfGpuMemory, after `undo` has freed what `make` made.
 */
export const withOomScope = async <A>(device: GPUDevice, make: () => Promise<A>, undo: (a: A) => void): Promise<A> => {
  device.pushErrorScope("out-of-memory")
  let made: A
  try {
    made = await make()
  } catch (e) {
    await device.popErrorScope()
    throw e
  }
  const oom = await device.popErrorScope()
  if (oom) {
    undo(made)
    throw new OutOfGpuMemory(`GPU out of memory: ${oom.message}`)
  }
  return made
}

/**
 * Wall milliseconds of each dispatch list on the device, the best of `rounds` submissions after a
 * warm-up each (runDispatches: it compiles and validates). The lists take turns round by round, so
 * clocks still rising or a queue still busy with uploads weigh on all of them alike rather than on
 * whichever came first. What the tuners time candidates with (matmul tiles, attention forms,
 * decoder GEMV layouts).
 */
export const bestWallMs = async (device: GPUDevice, lists: ReadonlyArray<ReadonlyArray<Dispatch>>, rounds: number): Promise<Array<number>> => {
  for (const ds of lists) await runDispatches(device, ds)
  const best = lists.map(() => Infinity)
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < lists.length; i++) {
      const t0 = performance.now()
      device.queue.submit([encodeDispatches(device, lists[i]!)])
      await device.queue.onSubmittedWorkDone()
      best[i] = Math.min(best[i]!, performance.now() - t0)
    }
  }
  return best
}

/**
 * Submits dispatches inside error scopes without waiting for the GPU: the promise settles once the
 * submission's errors are known (validation, out of memory), which may be before the work is done.
 * A caller that reads results back can wait for that read alone (one wait, not two).
 */
export const submitChecked = (device: GPUDevice, dispatches: ReadonlyArray<Dispatch>): Promise<void> => {
  device.pushErrorScope("validation")
  device.pushErrorScope("out-of-memory")
  device.queue.submit([encodeDispatches(device, dispatches)])
  const oom = device.popErrorScope()
  const val = device.popErrorScope()
  return Promise.all([oom, val]).then(([o, v]) => {
    if (o) throw new OutOfGpuMemory(`GPU out of memory: ${o.message}`)
    if (v) throw new Error(`GPU validation: ${v.message}`)
  })
}

/** Runs dispatches and waits until the GPU has finished them; throws on validation errors or device loss. */
export const runDispatches = async (device: GPUDevice, dispatches: ReadonlyArray<Dispatch>): Promise<void> => {
  const checked = submitChecked(device, dispatches)
  await device.queue.onSubmittedWorkDone()
  await checked
}
