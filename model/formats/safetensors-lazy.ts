import { closeSync, fstatSync, openSync, readSync } from "node:fs"
import { decodeF32, elementCount, parseSafetensorsHeader, SafetensorsError, type SafetensorsEntry } from "./safetensors.ts"

/**
 * A safetensors file read tensor by tensor through a file descriptor: a 14B checkpoint (28 GB
 * in bf16) never has to fit in memory at once. The header is parsed by model/formats/safetensors.ts, as
 * for whole-file reads; this module only reads the bytes on demand. Knows the dtypes NF4 files
 * use (U8, F32, F16, BF16).
 */
export type LazyEntry = SafetensorsEntry

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
      if (n === 0) throw new SafetensorsError(file, `ends at byte ${position + done}, expected ${position + length}`)
      done += n
    }
    return out
  }
  try {
    const { entries, metadata } = parseSafetensorsHeader(file, fstatSync(fd).size, read)
    const entry = (name: string) => {
      const e = entries.get(name)
      if (!e) throw new SafetensorsError(file, `has no tensor '${name}'`)
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
        return e.dtype === "U8" ? Float32Array.from(bytes) : decodeF32(file, name, e.dtype, bytes, elementCount(e.shape))
      },
      close: () => closeSync(fd)
    }
  } catch (e) {
    closeSync(fd)
    throw e
  }
}
