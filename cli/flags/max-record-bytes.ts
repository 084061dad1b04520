import { Flag } from "effect/cli"
import { Option } from "effect"

/**
 * `--max-record-bytes N`, on every command that reads records: a JSONL line, a CSV record or a
 * `.json` QA file (read whole) longer than N bytes is a bad row (or, for the .json file, an error
 * naming it) instead of a stall. The environment variable stays the default source.
 */
export const maxRecordBytesFlag = Flag.String("max-record-bytes").pipe(
  Flag.mapTryCatch(
    (text) => {
      if (!/^\s*[1-9][0-9]*\s*$/.test(text)) throw new Error(`--max-record-bytes must be a positive decimal integer of bytes, got '${text}'`)
      return Number(text)
    },
    (e) => (e instanceof Error ? e.message : String(e))
  ),
  Flag.withMetavar("bytes"),
  Flag.withDescription(
    "Maximum size of one record in bytes: a longer JSONL line or CSV record is a bad row (a dead letter), a larger .json QA file (read whole) an error naming it " +
      "(default: $FLEUVE_MAX_RECORD_BYTES, else 16777216 = 16 MiB)"
  ),
  Flag.optional
)

export const maxRecordBytesOf = (flag: Option.Option<number>): number | undefined => Option.getOrUndefined(flag)
