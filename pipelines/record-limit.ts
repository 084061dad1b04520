import { Effect } from "effect"
import { MaxRecordBytes } from "../operators/readers/limits.ts"

export { DEFAULT_MAX_RECORD_BYTES } from "../operators/readers/limits.ts"

/**
 * Runs a command's effect with the maximum record size its `--max-record-bytes` gave: every
 * reader of its pipeline (JSONL lines, CSV records, `.json` QA files) uses it. Without the flag
 * (undefined) the readers keep their default source, FLEUVE_MAX_RECORD_BYTES, else 16 MiB.
 */
export const withMaxRecordBytes = (bytes: number | undefined) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  bytes === undefined ? effect : Effect.provideService(effect, MaxRecordBytes, bytes)
