import { Effect } from "effect"
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { WarehouseError } from "./errors.ts"
import { sqlFile, Warehouse } from "./warehouse.ts"

/** One document's row of `corpus_documents`, as a run reads or writes it. */
export interface CorpusDocumentRow {
  readonly docId: string
  readonly contentHash: string
  readonly source: string
  readonly status: string
  readonly reason?: string | undefined
  readonly duplicateOf?: string | undefined
  readonly lang?: string | undefined
  readonly langScore?: number | undefined
  readonly similarity?: number | undefined
  readonly tokens?: number | undefined
  /** Base-36 LSH band keys. */
  readonly bands?: ReadonlyArray<string> | undefined
}

export interface KnownRow {
  readonly docId: string
  readonly contentHash: string
  readonly status: string
  readonly bands: ReadonlyArray<string>
}

/** The corpus pipeline's memory across runs, in the warehouse's `corpus_documents` table. */
export const CorpusState = {
  /** Every document an earlier run saw and did not retire. */
  load: Effect.gen(function*() {
    const w = yield* Warehouse
    const rows = yield* w.query<{ doc_id: string; content_hash: string; status: string; lsh_bands: string | null }>(
      "SELECT doc_id, content_hash, status, lsh_bands FROM corpus_documents WHERE NOT retired"
    )
    return rows.map((r): KnownRow => ({ docId: r.doc_id, contentHash: r.content_hash, status: r.status, bands: r.lsh_bands ? r.lsh_bands.split(",") : [] }))
  }),

  /**
   * Merges a run's decisions and retires what it did not see, in one transaction. The rows are
   * written as newline-delimited JSON to two files in a temporary folder beside the warehouse, in
   * slices as the ledger is read, and the merge reads them through two views
   * (corpus_staging.sql), with no copy of them in memory: 1.1 M rows appended value by value through the DuckDB appender took 60 s and
   * 4.6 GB on 1 GB of input (issue 23); through the files, 11-15 s and 1.0 GB (synthetic rows, a
   * copy in temporary tables: 1.3 GB). DuckDB's memory_limit is not set: the ON CONFLICT merge
   * cannot spill, and under a limit it fails (Out of Memory) instead of slowing down.
   */
  save: (runId: string, decisions: Iterable<CorpusDocumentRow>, seen: Iterable<string>) =>
    Effect.acquireUseRelease(
      // Beside the warehouse file (a disk, where /tmp may be memory: ~0.3 GB for 1 GB of input),
      // in the OS temporary folder for an in-memory warehouse.
      Effect.flatMap(Warehouse, (w) =>
        Effect.try({
          try: () => mkdtempSync(join(w.path === "" || w.path === ":memory:" ? tmpdir() : dirname(resolve(w.path)), ".fleuve-corpus-state-")),
          catch: (e) => new WarehouseError({ message: `cannot stage the corpus state: ${e instanceof Error ? e.message : String(e)}` })
        })),
      (dir) =>
        Effect.gen(function*() {
          const w = yield* Warehouse
          const documents = join(dir, "documents.jsonl")
          const seenFile = join(dir, "seen.jsonl")
          yield* Effect.try({
            try: () => {
              writeLines(documents, decisions, (d) => JSON.stringify([
                d.docId, d.contentHash, d.source, d.status, d.reason ?? null, d.duplicateOf ?? null, d.lang ?? null, d.langScore ?? null,
                d.tokens ?? null, d.bands ? d.bands.join(",") : null, d.similarity ?? null
              ]))
              writeLines(seenFile, seen, (id) => JSON.stringify(id))
            },
            catch: (e) => new WarehouseError({ message: `staging the corpus state in ${dir}: ${e instanceof Error ? e.message : String(e)}` })
          })
          yield* w.exec(sqlFile("corpus_staging").replaceAll("{{documents}}", sqlString(documents)).replaceAll("{{seen}}", sqlString(seenFile)))
          yield* w.transaction(Effect.gen(function*() {
            yield* w.exec(sqlFile("corpus_documents"), { run_id: runId })
            yield* w.exec(sqlFile("corpus_retired"), { run_id: runId })
          }))
          yield* w.exec("DROP VIEW IF EXISTS corpus_staging; DROP VIEW IF EXISTS corpus_seen")
        }),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
}

/** A path as an SQL string literal (a table function's argument in a view cannot be a parameter). */
const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`

const SLICE = 8192

/** Writes one line per item, a slice of lines per write: the items are never all in memory at once. */
const writeLines = <A>(path: string, items: Iterable<A>, line: (a: A) => string) => {
  const fd = openSync(path, "w")
  try {
    let chunk: Array<string> = []
    for (const item of items) {
      chunk.push(line(item))
      if (chunk.length === SLICE) {
        writeSync(fd, chunk.join("\n") + "\n")
        chunk = []
      }
    }
    if (chunk.length > 0) writeSync(fd, chunk.join("\n") + "\n")
  } finally {
    closeSync(fd)
  }
}
