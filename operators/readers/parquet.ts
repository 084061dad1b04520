import { Stream } from "effect"
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import type { Envelope } from "../envelope.ts"
import { OperatorFailure } from "../operator.ts"
import { fields, type RawRecord } from "./raw-record.ts"

const ROW_GROUP_BATCH = 8192

/** Parquet, read in row slices so a large file is never held whole. Position line = row number. */
export const readParquet = (path: string, name = "read-parquet"): Stream.Stream<Envelope<RawRecord>, OperatorFailure> =>
  Stream.fromAsyncIterable(parquetRecords(path), (e) => new OperatorFailure({ operator: name, message: `cannot read Parquet ${path}: ${String(e)}` }))

async function* parquetRecords(path: string): AsyncGenerator<Envelope<RawRecord>> {
  const file = await asyncBufferFromFile(path)
  const metadata = await parquetMetadataAsync(file)
  const total = Number(metadata.num_rows)
  for (let start = 0; start < total; start += ROW_GROUP_BATCH) {
    const rows = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: Math.min(total, start + ROW_GROUP_BATCH) })
    for (let i = 0; i < rows.length; i++) {
      const line = start + i + 1
      yield { key: `${path}:${line}`, position: { _tag: "File", file: path, line }, value: fields(rows[i] as Record<string, unknown>) }
    }
  }
}
