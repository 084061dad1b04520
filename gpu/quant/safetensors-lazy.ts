import { closeSync, openSync, readSync } from "node:fs"
import { f16ToF32 } from "../safetensors.ts"

/**
 * A safetensors file read tensor by tensor through a file descriptor: a 14B checkpoint (28 GB
 * in bf16) never has to fit in memory at once. Knows the dtypes NF4 files use (U8, F32, F16,
 * BF16).
 */
export interface LazyEntry {
  readonly name: string
  readonly dtype: string
  readonly shape: ReadonlyArray<number>
  /** absolute byte offsets in the file */
  readonly start: number
  readonly end: number
}

export class SafetensorsFileError extends Error {
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`)
  }
}

const bytesPer: Record<string, number> = { U8: 1, F32: 4, F16: 2, BF16: 2 }

export interface LazySafetensors {
  readonly file: string
  readonly entries: ReadonlyMap<string, LazyEntry>
  readonly metadata: Readonly<Record<string, string>>
  readBytes(name: string): Uint8Array
  /** The tensor as f32 (U8 widened, BF16/F16 converted). */
  readF32(name: string): Float32Array
  close(): void
}

export const openSafetensors = (file: string): LazySafetensors => {
  const fd = openSync(file, "r")
  const read = (position: number, length: number): Uint8Array => {
    const out = new Uint8Array(length)
    let done = 0
    while (done < length) {
      const n = readSync(fd, out, done, length - done, position + done)
      if (n === 0) throw new SafetensorsFileError(file, `ends at byte ${position + done}, expected ${position + length}`)
      done += n
    }
    return out
  }
  try {
    const lenBytes = read(0, 8)
    const headerLength = Number(new DataView(lenBytes.buffer).getBigUint64(0, true))
    if (headerLength > 100_000_000) throw new SafetensorsFileError(file, `header length ${headerLength} is implausible`)
    let header: Record<string, unknown>
    try {
      header = JSON.parse(Buffer.from(read(8, headerLength)).toString("utf8"))
    } catch (e) {
      throw new SafetensorsFileError(file, `header is not JSON (${e instanceof Error ? e.message : String(e)})`)
    }
    const base = 8 + headerLength
    const entries = new Map<string, LazyEntry>()
    let metadata: Record<string, string> = {}
    for (const [name, raw] of Object.entries(header)) {
      if (name === "__metadata__") {
        metadata = raw as Record<string, string>
        continue
      }
      const { dtype, shape, data_offsets } = raw as { dtype: string; shape: Array<number>; data_offsets: [number, number] }
      const count = shape.reduce((a, b) => a * b, 1)
      const per = bytesPer[dtype]
      if (per !== undefined && data_offsets[1] - data_offsets[0] !== count * per) {
        throw new SafetensorsFileError(file, `tensor '${name}' holds ${data_offsets[1] - data_offsets[0]} bytes; shape [${shape}] of ${dtype} needs ${count * per}`)
      }
      entries.set(name, { name, dtype, shape, start: base + data_offsets[0], end: base + data_offsets[1] })
    }
    const entry = (name: string) => {
      const e = entries.get(name)
      if (!e) throw new SafetensorsFileError(file, `has no tensor '${name}'`)
      return e
    }
    return {
      file,
      entries,
      metadata,
      readBytes: (name) => {
        const e = entry(name)
        return read(e.start, e.end - e.start)
      },
      readF32: (name) => {
        const e = entry(name)
        const bytes = read(e.start, e.end - e.start)
        const count = e.shape.reduce((a, b) => a * b, 1)
        switch (e.dtype) {
          case "F32":
            return new Float32Array(bytes.buffer, 0, count)
          case "U8":
            return Float32Array.from(bytes)
          case "BF16": {
            const src = new Uint16Array(bytes.buffer, 0, count)
            const out = new Uint32Array(count)
            for (let i = 0; i < count; i++) out[i] = src[i]! << 16
            return new Float32Array(out.buffer)
          }
          case "F16": {
            const src = new Uint16Array(bytes.buffer, 0, count)
            return Float32Array.from(src, f16ToF32)
          }
          default:
            throw new SafetensorsFileError(file, `tensor '${name}' has dtype ${e.dtype}; readable: U8, F32, F16, BF16`)
        }
      },
      close: () => closeSync(fd)
    }
  } catch (e) {
    closeSync(fd)
    throw e
  }
}
