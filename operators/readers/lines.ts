import { createReadStream } from "node:fs"
import { createGunzip } from "node:zlib"

export interface Line {
  /** 1-based line number. */
  readonly line: number
  /** The decoded text, or undefined when the bytes are not valid UTF-8. */
  readonly text: string | undefined
  readonly bytes: Buffer
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

/**
 * Streams a file's lines with bounded memory (plain or .gz). Invalid UTF-8 is reported per
 * line rather than replaced, so a bad byte is an error with a line number, never a silent �.
 */
export async function* readLines(path: string): AsyncGenerator<Line> {
  const raw = createReadStream(path, { highWaterMark: 1 << 20 })
  const input: AsyncIterable<Buffer> = path.endsWith(".gz") ? raw.pipe(createGunzip()) : raw
  let carry: Buffer | undefined
  let line = 0
  const emit = (bytes: Buffer): Line => {
    line++
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length
    const body = bytes.subarray(0, end)
    let text: string | undefined
    try {
      text = strictUtf8.decode(body)
    } catch {
      text = undefined
    }
    if (line === 1 && text !== undefined && text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    return { line, text, bytes: body }
  }
  for await (const chunk of input) {
    let start = 0
    let nl = chunk.indexOf(0x0a, start)
    while (nl !== -1) {
      const piece = chunk.subarray(start, nl)
      yield emit(carry ? Buffer.concat([carry, piece]) : piece)
      carry = undefined
      start = nl + 1
      nl = chunk.indexOf(0x0a, start)
    }
    if (start < chunk.length) carry = carry ? Buffer.concat([carry, chunk.subarray(start)]) : Buffer.from(chunk.subarray(start))
  }
  if (carry && carry.length > 0) yield emit(carry)
}

/** Where the first invalid UTF-8 byte of a line is, for the error message. */
export const firstInvalidByte = (bytes: Buffer): number => {
  for (let end = 1; end <= bytes.length; end++) {
    try {
      strictUtf8.decode(bytes.subarray(0, end))
    } catch {
      // A truncated multi-byte sequence only fails at the end; look a few bytes further.
      let ok = false
      for (let k = 1; k <= 3 && end + k <= bytes.length; k++) {
        try {
          strictUtf8.decode(bytes.subarray(0, end + k))
          ok = true
          break
        } catch { /* keep looking */ }
      }
      if (!ok) return end - 1
    }
  }
  return -1
}
