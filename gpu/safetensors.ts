import { existsSync, readFileSync, writeFileSync } from "node:fs"
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

const decode = (file: string, name: string, dtype: string, bytes: Uint8Array, count: number): Float32Array => {
  // Copy into an aligned buffer: tensor data offsets in a safetensors file need not be 4-byte aligned.
  const aligned = new Uint8Array(bytes.byteLength)
  aligned.set(bytes)
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

const bytesPer: Record<string, number> = { F32: 4, F16: 2, BF16: 2 }

/** Reads every tensor of one .safetensors file as f32, plus the header's `__metadata__`. */
export const readSafetensors = (file: string): { tensors: Map<string, HostTensor>; metadata: Record<string, string> } => {
  const buf = readFileSync(file)
  if (buf.byteLength < 8) throw new SafetensorsError(file, "shorter than the 8-byte header length")
  const headerLength = Number(buf.readBigUInt64LE(0))
  if (8 + headerLength > buf.byteLength) throw new SafetensorsError(file, `header length ${headerLength} runs past the end of the file`)
  let header: Record<string, { dtype: string; shape: Array<number>; data_offsets: [number, number] } | Record<string, string>>
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLength).toString("utf8"))
  } catch (e) {
    throw new SafetensorsError(file, `header is not JSON (${String(e)})`)
  }
  const base = 8 + headerLength
  const tensors = new Map<string, HostTensor>()
  let metadata: Record<string, string> = {}
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>
      continue
    }
    const { dtype, shape, data_offsets } = entry as { dtype: string; shape: Array<number>; data_offsets: [number, number] }
    const count = shape.reduce((a, b) => a * b, 1)
    const [start, end] = data_offsets
    if (bytesPer[dtype] !== undefined && end - start !== count * bytesPer[dtype]!) {
      throw new SafetensorsError(file, `tensor '${name}' holds ${end - start} bytes, shape ${JSON.stringify(shape)} of ${dtype} needs ${count * bytesPer[dtype]!}`)
    }
    if (base + end > buf.byteLength) throw new SafetensorsError(file, `tensor '${name}' runs past the end of the file`)
    tensors.set(name, { shape, data: decode(file, name, dtype, buf.subarray(base + start, base + end), count) })
  }
  return { tensors, metadata }
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
  writeFileSync(file, Buffer.concat([head, Buffer.from(json, "utf8"), ...chunks]))
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
