import { createReadStream } from "node:fs"
import { createGunzip } from "node:zlib"
import { maxRecordBytes } from "./limits.ts"

export interface Line {
  /** 1-based line number. */
  readonly line: number
  /** The decoded text, or undefined when the bytes are not valid UTF-8 or the line is too long. */
  readonly text: string | undefined
  /** The line's bytes; for a line over the limit, only its first bytes (a sample for the dead letter). */
  readonly bytes: Buffer
  /** Set when the line was longer than the maximum record size: how many bytes were seen before giving up on it. */
  readonly tooLong?: number
}

export interface LineOptions {
  /** Lines longer than this are not kept: they come back with `tooLong` (default: maxRecordBytes()). */
  readonly maxLineBytes?: number
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })
const SAMPLE_BYTES = 2000

/**
 * Streams a file's lines with bounded memory (plain or .gz, decompressed as a stream). Invalid
 * UTF-8 is reported per line rather than replaced, so a bad byte is an error with a line number,
 * never a silent �. A line longer than `maxLineBytes` is skipped to its end and reported with
 * `tooLong`: memory stays bounded and a 600 MB line no longer stalls the reader.
 */
export async function* readLines(path: string, options: LineOptions = {}): AsyncGenerator<Line> {
  const max = options.maxLineBytes ?? maxRecordBytes()
  const raw = createReadStream(path, { highWaterMark: 1 << 20 })
  const input: AsyncIterable<Buffer> = path.endsWith(".gz") ? raw.pipe(createGunzip()) : raw
  // The pieces of the current line, joined once at its end: concatenating each chunk onto the
  // carry copied a long line over and over (quadratic in its length).
  let pieces: Array<Buffer> = []
  let pending = 0
  let skipped = 0 // > 0 while skipping the rest of an over-long line
  let sample: Buffer | undefined
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
  const emitTooLong = (): Line => {
    line++
    const l = { line, text: undefined, bytes: sample ?? Buffer.alloc(0), tooLong: skipped }
    skipped = 0
    sample = undefined
    return l
  }
  const take = (piece: Buffer) => {
    if (skipped > 0) {
      skipped += piece.length
      return
    }
    if (pending + piece.length > max) {
      sample = Buffer.concat([...pieces, piece]).subarray(0, SAMPLE_BYTES)
      skipped = pending + piece.length
      pieces = []
      pending = 0
      return
    }
    pieces.push(piece)
    pending += piece.length
  }
  const flush = (): Line => {
    if (skipped > 0) return emitTooLong()
    const bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces)
    pieces = []
    pending = 0
    return emit(bytes)
  }
  try {
    for await (const chunk of input) {
      let start = 0
      let nl = chunk.indexOf(0x0a, start)
      while (nl !== -1) {
        take(chunk.subarray(start, nl))
        yield flush()
        start = nl + 1
        nl = chunk.indexOf(0x0a, start)
      }
      // Copied: the stream may reuse its chunk's memory.
      if (start < chunk.length) take(Buffer.from(chunk.subarray(start)))
    }
    if (pending > 0 || skipped > 0) yield flush()
  } finally {
    raw.destroy()
  }
}

/**
 * Where the first invalid UTF-8 byte of a line is (0-based), for the error message; -1 if none.
 * One pass over the bytes (decoding ever longer prefixes was quadratic in the line's length).
 */
export const firstInvalidByte = (b: Uint8Array): number => {
  let i = 0
  while (i < b.length) {
    const c = b[i]!
    if (c < 0x80) {
      i++
      continue
    }
    // Lead byte → continuation count and the allowed range of the second byte (RFC 3629).
    let n: number
    let lo = 0x80
    let hi = 0xbf
    if (c >= 0xc2 && c <= 0xdf) n = 1
    else if (c >= 0xe0 && c <= 0xef) {
      n = 2
      if (c === 0xe0) lo = 0xa0
      if (c === 0xed) hi = 0x9f
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3
      if (c === 0xf0) lo = 0x90
      if (c === 0xf4) hi = 0x8f
    } else return i
    for (let k = 1; k <= n; k++) {
      const d = b[i + k]
      if (d === undefined) return i
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return i + k
    }
    i += n + 1
  }
  return -1
}
