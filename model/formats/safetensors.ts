import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeSync } from "node:fs"
import { join } from "node:path"

/** One tensor as fleuve holds it on the host: f32 values in row-major order. */
export interface HostTensor {
  readonly shape: ReadonlyArray<number>
  readonly data: Float32Array
}

export type SafetensorsDtype = "F32" | "F16" | "BF16"

/** A file or header that does not follow the safetensors format; names the file and the tensor. */
export class SafetensorsError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`)
  }
}

// f16 → f32 without a lookup table: handles subnormals, infinities and NaN.
export const f16ToF32 = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24
  if (exp === 31) return frac ? NaN : sign * Infinity
  return sign * (1 + frac / 1024) * 2 ** (exp - 15)
}

/**
 * Refuses a tensor holding NaN or ±Infinity, naming it and the first bad element: such weights
 * turn every log-prob into NaN, and a model that scored NaN used to land plausible-looking scores
 * (ties resolved to the first option). One pass, next to the decoding it follows.
 */
export const assertFinite = (file: string, name: string, data: Float32Array): Float32Array => {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!
    if (v - v !== 0) {
      let bad = 0
      for (let j = i; j < data.length; j++) if (!Number.isFinite(data[j]!)) bad++
      throw new SafetensorsError(file, `tensor '${name}' holds ${bad} non-finite value(s) (the first, ${v}, at element ${i}); refusing to load a model with NaN or infinite weights`)
    }
  }
  return data
}

/** A tensor's bytes as f32 (F32 as is, BF16 and F16 converted), in a buffer of its own; NaN and infinities are refused (assertFinite). */
export const decodeF32 = (file: string, name: string, dtype: string, bytes: Uint8Array, count: number): Float32Array =>
  assertFinite(file, name, decodeF32Unchecked(file, name, dtype, bytes, count))

const decodeF32Unchecked = (file: string, name: string, dtype: string, bytes: Uint8Array, count: number): Float32Array => {
  // Bytes that fill a buffer of their own (a lazy read) are used in place; a slice of a whole file
  // is copied: its offset need not be 4-byte aligned, and a view would keep the whole file alive.
  // (new Uint8Array(bytes), not bytes.slice(): a Buffer's slice is a view.)
  const aligned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes)
  switch (dtype) {
    case "F32":
      return new Float32Array(aligned.buffer, 0, count)
    case "BF16": {
      // bf16 is the top half of an f32: shift it back into place.
      const src = new Uint16Array(aligned.buffer, 0, count)
      const out = new Uint32Array(count)
      for (let i = 0; i < count; i++) out[i] = src[i]! << 16
      return new Float32Array(out.buffer)
    }
    case "F16": {
      const src = new Uint16Array(aligned.buffer, 0, count)
      const out = new Float32Array(count)
      for (let i = 0; i < count; i++) out[i] = f16ToF32(src[i]!)
      return out
    }
    default:
      throw new SafetensorsError(file, `tensor '${name}' has dtype ${dtype}; fleuve reads F32, F16 and BF16`)
  }
}

/** Bytes per element of the dtypes whose sizes the header is checked against (U8: NF4 codes and quant states). */
const bytesPer: Record<string, number> = { U8: 1, F32: 4, F16: 2, BF16: 2 }

/** One tensor as the header describes it; offsets are absolute positions in the file. */
export interface SafetensorsEntry {
  readonly name: string
  readonly dtype: string
  readonly shape: ReadonlyArray<number>
  readonly start: number
  readonly end: number
}

export interface SafetensorsHeader {
  readonly entries: ReadonlyMap<string, SafetensorsEntry>
  /** The header's `__metadata__` (string to string). */
  readonly metadata: Record<string, string>
}

const MAX_HEADER_BYTES = 100_000_000

export const elementCount = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/**
 * The one safetensors header parser (whole-file and lazy readers alike): u64 LE header length,
 * JSON header {name: {dtype, shape, data_offsets}}, data after it. `readAt` returns `length`
 * bytes at `position`, so a reader need not hold the file; every tensor is checked to lie inside
 * the file's `fileSize` bytes and, for known dtypes, to hold exactly shape × element size bytes.
 */
export const parseSafetensorsHeader = (file: string, fileSize: number, readAt: (position: number, length: number) => Uint8Array): SafetensorsHeader => {
  if (fileSize < 8) throw new SafetensorsError(file, "shorter than the 8-byte header length")
  const lengthBytes = readAt(0, 8)
  const headerLength = Number(new DataView(lengthBytes.buffer, lengthBytes.byteOffset, 8).getBigUint64(0, true))
  if (8 + headerLength > fileSize) throw new SafetensorsError(file, `header length ${headerLength} runs past the end of the file`)
  // The safetensors library refuses headers over 100 MB; so do we, before allocating one.
  if (headerLength > MAX_HEADER_BYTES) throw new SafetensorsError(file, `header length ${headerLength} is implausible (over ${MAX_HEADER_BYTES} bytes)`)
  let header: Record<string, unknown>
  try {
    header = JSON.parse(Buffer.from(readAt(8, headerLength)).toString("utf8"))
  } catch (e) {
    throw new SafetensorsError(file, `header is not JSON (${e instanceof Error ? e.message : String(e)})`)
  }
  const base = 8 + headerLength
  const entries = new Map<string, SafetensorsEntry>()
  let metadata: Record<string, string> = {}
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = raw as Record<string, string>
      continue
    }
    const { dtype, shape, data_offsets } = raw as { dtype: string; shape: Array<number>; data_offsets: [number, number] }
    const [start, end] = data_offsets
    const per = bytesPer[dtype]
    if (per !== undefined && end - start !== elementCount(shape) * per) {
      throw new SafetensorsError(file, `tensor '${name}' holds ${end - start} bytes, shape ${JSON.stringify(shape)} of ${dtype} needs ${elementCount(shape) * per}`)
    }
    if (base + end > fileSize) throw new SafetensorsError(file, `tensor '${name}' runs past the end of the file`)
    entries.set(name, { name, dtype, shape, start: base + start, end: base + end })
  }
  return { entries, metadata }
}

/** Reads every tensor of one .safetensors file as f32, plus the header's `__metadata__`. */
export const readSafetensors = (file: string): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } => {
  // Read tensor by tensor, not the whole file at once: Node reads at most 2 GiB into one buffer,
  // and a 0.6B checkpoint in f32 is 2.4 GB.
  const fd = openSync(file, "r")
  try {
    const readAt = (position: number, length: number) => {
      const out = Buffer.allocUnsafe(length)
      let done = 0
      while (done < length) {
        const n = readSync(fd, out, done, length - done, position + done)
        if (n === 0) break
        done += n
      }
      return out.subarray(0, done)
    }
    const { entries, metadata } = parseSafetensorsHeader(file, fstatSync(fd).size, readAt)
    const tensors = new Map<string, HostTensor>()
    for (const e of entries.values()) {
      tensors.set(e.name, { shape: e.shape, data: decodeF32(file, e.name, e.dtype, readAt(e.start, e.end - e.start), elementCount(e.shape)) })
    }
    return { tensors, metadata }
  } finally {
    closeSync(fd)
  }
}

// f32 → bf16 with round-to-nearest-even, as torch's `.to(torch.bfloat16)` does.
const f32ToBf16 = (data: Float32Array): Uint16Array => {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length)
  const out = new Uint16Array(data.length)
  for (let i = 0; i < data.length; i++) {
    const b = bits[i]!
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = (b >> 16) | 0x40 // keep NaN a NaN
    else out[i] = (b + 0x7fff + ((b >> 16) & 1)) >>> 16
  }
  return out
}

/** Writes tensors in the safetensors layout (names sorted, as the Python library does). */
export const writeSafetensors = (
  file: string,
  tensors: ReadonlyMap<string, HostTensor>,
  options: { readonly dtype?: "F32" | "BF16"; readonly metadata?: Record<string, string> } = {}
): void => {
  const dtype = options.dtype ?? "F32"
  const names = [...tensors.keys()].sort()
  const header: Record<string, unknown> = {}
  if (options.metadata) header.__metadata__ = options.metadata
  const chunks: Array<Uint8Array> = []
  let offset = 0
  for (const name of names) {
    const t = tensors.get(name)!
    const bytes = dtype === "F32"
      ? new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
      : new Uint8Array(f32ToBf16(t.data).buffer)
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] }
    chunks.push(bytes)
    offset += bytes.byteLength
  }
  let json = JSON.stringify(header)
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8) // pad so the data starts 8-byte aligned
  const head = Buffer.alloc(8)
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)))
  // Chunk by chunk: one buffer of the whole file would be over Node's 2 GiB limit for a 0.6B
  // checkpoint in f32 (seen on the GPU host: "The value of "length" is out of range").
  const fd = openSync(file, "w")
  try {
    const write = (bytes: Uint8Array) => {
      for (let done = 0; done < bytes.byteLength;) done += writeSync(fd, bytes, done, bytes.byteLength - done)
    }
    write(head)
    write(Buffer.from(json, "utf8"))
    for (const c of chunks) write(c)
  } finally {
    closeSync(fd)
  }
}

/**
 * Reads a checkpoint folder's weights: `model.safetensors`, or the shards that
 * `model.safetensors.index.json` lists (its `weight_map` names one shard per tensor).
 */
export const readCheckpointWeights = (dir: string): Map<string, HostTensor> => {
  const single = join(dir, "model.safetensors")
  const index = join(dir, "model.safetensors.index.json")
  if (existsSync(single)) return readSafetensors(single).tensors
  if (!existsSync(index)) throw new SafetensorsError(dir, "has neither model.safetensors nor model.safetensors.index.json")
  const weightMap: Record<string, string> = JSON.parse(readFileSync(index, "utf8")).weight_map ?? {}
  const all = new Map<string, HostTensor>()
  for (const shard of [...new Set(Object.values(weightMap))].sort()) {
    for (const [name, t] of readSafetensors(join(dir, shard)).tensors) all.set(name, t)
  }
  const missing = Object.keys(weightMap).filter((n) => !all.has(n))
  if (missing.length > 0) throw new SafetensorsError(index, `lists tensors absent from their shards: ${missing.slice(0, 5).join(", ")}`)
  return all
}
