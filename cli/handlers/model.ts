import { Effect, Option } from "effect"
import { generateFromFile, scoreContinuationsFile } from "../../pipelines/model.ts"
import type { GenerateArgs, LogprobsArgs } from "../flags/model.ts"
import { reportFailure } from "../common.ts"
import { maxRecordBytesOf } from "../flags/max-record-bytes.ts"

const failure = (e: unknown) => ({ message: e instanceof Error ? e.message : String(e) })

export const logprobsHandler = (a: LogprobsArgs) =>
  Effect.tryPromise({ try: () => scoreContinuationsFile({ ...a, engine: Option.getOrUndefined(a.engine), maxRecordBytes: maxRecordBytesOf(a.maxRecordBytes) }), catch: failure }).pipe(Effect.catch(reportFailure))

export const generateHandler = (a: GenerateArgs) =>
  Effect.tryPromise({ try: () => generateFromFile({ ...a, engine: Option.getOrUndefined(a.engine), maxRecordBytes: maxRecordBytesOf(a.maxRecordBytes) }), catch: failure }).pipe(Effect.catch(reportFailure))
