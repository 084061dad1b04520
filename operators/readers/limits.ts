import { Context, Effect } from "effect"

/**
 * Bounds every reader keeps, so one bad input cannot stall or crash a run: a record (a line of
 * JSONL, a CSV record, a .txt document) longer than the maximum record size and JSON nested deeper
 * than the maximum depth become dead letters with their line, not a minutes-long stall or a stack
 * overflow. Documented in README.md ("Input limits").
 */

/** 16 MiB: far above any real QA item, score row or corpus document line. */
export const DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024

/** JSON deeper than this is refused before anything recursive (JSON.stringify, Kafka serde) sees it. */
export const MAX_JSON_DEPTH = 512

/** The maximum record size: FLEUVE_MAX_RECORD_BYTES when set (a positive integer of bytes), else 16 MiB. */
export const maxRecordBytes = (): number => {
  const raw = process.env.FLEUVE_MAX_RECORD_BYTES
  if (raw === undefined || raw === "") return DEFAULT_MAX_RECORD_BYTES
  if (!/^[1-9][0-9]*$/.test(raw.trim())) throw new Error(`FLEUVE_MAX_RECORD_BYTES must be a positive integer of bytes, got '${raw}'`)
  return Number(raw.trim())
}

/**
 * The maximum record size a command was given (`--max-record-bytes`), for the readers its
 * pipeline runs; unset, they fall back to the environment (maxRecordBytes()). A Reference, so a
 * handler sets it once around its pipeline and every reader below sees it, Kafka sources included.
 */
export const MaxRecordBytes = Context.Reference<number | undefined>("fleuve/MaxRecordBytes", { defaultValue: () => undefined })

/**
 * An explicit option, else the command's flag; undefined leaves the reader to the environment
 * (maxRecordBytes(), read inside the reader so a bad value fails the read naming the file).
 */
export const givenMaxRecordBytes = (explicit?: number): Effect.Effect<number | undefined> =>
  Effect.gen(function*() {
    return explicit ?? (yield* MaxRecordBytes)
  })

export const tooLongReason = (bytes: number, max: number) =>
  `record of ${bytes} bytes or more is longer than the maximum record size of ${max} bytes (--max-record-bytes, FLEUVE_MAX_RECORD_BYTES)`

/**
 * The deepest nesting of arrays and objects in a JSON text, counted in one pass (strings
 * skipped), stopping as soon as it passes `limit`.
 */
export const jsonDepthExceeds = (text: string, limit = MAX_JSON_DEPTH): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}
