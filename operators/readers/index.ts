import { Stream } from "effect"
import { extname } from "node:path"
import type { Envelope } from "../envelope.ts"
import { OperatorFailure } from "../operator.ts"
import { readCsv } from "./csv.ts"
import { readJsonl } from "./jsonl.ts"
import { readParquet } from "./parquet.ts"
import type { RawRecord } from "./raw-record.ts"

export type TableFormat = "csv" | "jsonl" | "parquet"

/** Picks the format from the extension (.csv, .jsonl/.ndjson/.json, .parquet; .gz allowed on text). */
export const formatOf = (path: string): TableFormat | undefined => {
  const ext = extname(path.replace(/\.gz$/, "")).toLowerCase()
  if (ext === ".csv") return "csv"
  if (ext === ".jsonl" || ext === ".ndjson" || ext === ".json") return "jsonl"
  if (ext === ".parquet" || ext === ".pq") return "parquet"
  return undefined
}

export const readTable = (path: string, format = formatOf(path)): Stream.Stream<Envelope<RawRecord>, OperatorFailure> => {
  switch (format) {
    case "csv":
      return readCsv(path)
    case "jsonl":
      return readJsonl(path)
    case "parquet":
      return readParquet(path)
    default:
      return Stream.fail(new OperatorFailure({ operator: "read", message: `${path}: unknown format (expected .csv, .jsonl or .parquet)` }))
  }
}

export type { RawRecord } from "./raw-record.ts"
