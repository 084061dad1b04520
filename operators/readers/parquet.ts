import { Stream } from "effect"
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import { statSync } from "node:fs"
import { open } from "node:fs/promises"
import type { Envelope } from "../envelope.ts"
import { OperatorFailure } from "../operator.ts"
import { fields, type RawRecord } from "./raw-record.ts"

const ROW_GROUP_BATCH = 8192

/** Parquet, read in row slices so a large file is never held whole. Position line = row number. */
export const readParquet = (path: string, name = "read-parquet"): Stream.Stream<Envelope<RawRecord>, OperatorFailure> =>
  Stream.fromAsyncIterable(parquetRecords(path), (e) => new OperatorFailure({ operator: name, message: `cannot read Parquet ${path}: ${e instanceof Error ? e.message : String(e)}` }))

/** Why a file cannot be Parquet, before hyparquet reads offsets out of it (an empty file gave "RangeError: Offset is outside the bounds of the DataView"). */
const notParquet = async (path: string): Promise<string | undefined> => {
  const size = statSync(path).size
  if (size === 0) return "the file is empty"
  if (size < 12) return `the file has ${size} bytes, too few for Parquet (magic PAR1, footer, PAR1)`
  const handle = await open(path, "r")
  try {
    const head = Buffer.alloc(4)
    const tail = Buffer.alloc(4)
    await handle.read(head, 0, 4, 0)
    await handle.read(tail, 0, 4, size - 4)
    if (head.toString("latin1") !== "PAR1" || tail.toString("latin1") !== "PAR1") return "not a Parquet file (it does not start and end with PAR1)"
  } finally {
    await handle.close()
  }
  return undefined
}

async function* parquetRecords(path: string): AsyncGenerator<Envelope<RawRecord>> {
  const problem = await notParquet(path)
  if (problem) throw new Error(problem)
  const file = await asyncBufferFromFile(path)
  let metadata
  try {
    metadata = await parquetMetadataAsync(file)
  } catch (e) {
    throw new Error(`unreadable Parquet footer (${e instanceof Error ? e.message : String(e)})`)
  }
  const total = Number(metadata.num_rows)
  for (let start = 0; start < total; start += ROW_GROUP_BATCH) {
    const rows = await parquetReadObjects({ file, metadata, rowStart: start, rowEnd: Math.min(total, start + ROW_GROUP_BATCH) })
    for (let i = 0; i < rows.length; i++) {
      const line = start + i + 1
      yield { key: `${path}:${line}`, position: { _tag: "File", file: path, line }, value: fields(rows[i] as Record<string, unknown>) }
    }
  }
}
