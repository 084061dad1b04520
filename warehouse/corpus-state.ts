import { Effect } from "effect"
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join, resolve } from "node:path"
import { FingerprintSet } from "../lib/fingerprint-set.ts"
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
   * A folder beside the warehouse (a disk, where /tmp may be memory: ~0.3 GB for 1 GB of input),
   * or in the OS temporary folder for an in-memory warehouse, where a run stages its decisions as
   * it takes them (StagedDecisions). The caller removes it (`remove`), saved or not.
   */
  stage: Effect.flatMap(Warehouse, (w) =>
    Effect.try({
      try: () => {
        const inMemory = w.path === "" || w.path === ":memory:"
        const beside = inMemory ? tmpdir() : dirname(resolve(w.path))
        const prefix = inMemory ? STAGED_PREFIX : `${STAGED_PREFIX}${basename(w.path)}-`
        // Another staged folder of the same warehouse file is a killed run's: DuckDB locks the
        // file to one process, so no other run can be using it. (Not in the shared temporary folder.)
        if (!inMemory) {
          for (const name of readdirSync(beside)) if (name.startsWith(prefix) && name.length === prefix.length + 6) rmSync(join(beside, name), { recursive: true, force: true })
        }
        return new StagedDecisions(mkdtempSync(join(beside, prefix)))
      },
      catch: (e) => new WarehouseError({ message: `cannot stage the corpus state: ${e instanceof Error ? e.message : String(e)}` })
    })),

  /**
   * Merges a run's decisions and retires what it did not see, in one transaction. The rows are
   * written as newline-delimited JSON to two files in a temporary folder beside the warehouse, and
   * the merge reads them through two views (corpus_staging.sql), with no copy of them in memory:
   * 1.1 M rows appended value by value through the DuckDB appender took 60 s and 4.6 GB on 1 GB of
   * input (issue 23); through the files, 11-15 s and 1.0 GB. The merge is an UPDATE of the rows
   * the warehouse holds and an anti-join INSERT of the others, under SAVE_MEMORY_LIMIT: an INSERT …
   * ON CONFLICT holds all its rows (it fails under a limit, Out of Memory, instead of spilling).
   */
  save: (runId: string, decisions: Iterable<CorpusDocumentRow>, seen: Iterable<string>) =>
    Effect.acquireUseRelease(
      CorpusState.stage,
      (staged) =>
        Effect.gen(function*() {
          yield* Effect.try({
            try: () => {
              let order = 0
              for (const d of decisions) staged.put(order++, d)
            },
            catch: (e) => new WarehouseError({ message: `staging the corpus state in ${staged.dir}: ${e instanceof Error ? e.message : String(e)}` })
          })
          yield* CorpusState.saveStaged(runId, staged, seen)
        }),
      (staged) => Effect.sync(() => staged.remove())
    ),

  /** save's merge, of the decisions a run put into `staged` as it took them (the folder stays: remove it). */
  saveStaged: (runId: string, staged: StagedDecisions, seen: Iterable<string>) =>
    Effect.gen(function*() {
      const w = yield* Warehouse
      const seenFile = join(staged.dir, "seen.jsonl")
      yield* Effect.try({
        try: () => {
          staged.close()
          writeLines(seenFile, seen, (id) => JSON.stringify(id))
        },
        catch: (e) => new WarehouseError({ message: `staging the corpus state in ${staged.dir}: ${e instanceof Error ? e.message : String(e)}` })
      })
      // One line a document (the usual case) is read as it stands; a document decided twice needs
      // its last line picked, which holds every line in DuckDB's memory at once.
      yield* w.exec(sqlFile(staged.repeated ? "corpus_staging_last" : "corpus_staging").replaceAll("{{documents}}", sqlString(staged.path)).replaceAll("{{seen}}", sqlString(seenFile)))
      const merge = w.transaction(Effect.gen(function*() {
        yield* w.exec(sqlFile("corpus_documents_updated"), { run_id: runId })
        yield* w.exec(sqlFile("corpus_documents"), { run_id: runId })
        yield* w.exec(sqlFile("corpus_retired"), { run_id: runId })
      }))
      // DuckDB's memory bounded for the merge (by default it keeps blocks cached up to 80% of the
      // machine's memory), the setting put back after it. Updating ~1 M rows it already holds in
      // one run does not fit (500,000 do): DuckDB keeps the updates in memory until the commit;
      // the merge then runs again without the limit.
      const limit = (yield* w.query<{ limit: string }>("SELECT current_setting('memory_limit') AS \"limit\""))[0]!.limit
      const restore = w.exec(`SET memory_limit = '${limit.replaceAll("'", "''")}'`).pipe(Effect.ignore)
      yield* w.exec(`SET memory_limit = '${SAVE_MEMORY_LIMIT}'`).pipe(
        Effect.andThen(merge),
        Effect.ensuring(restore),
        Effect.catchIf((e) => e.message.includes("Out of Memory"), () => merge)
      )
      yield* w.exec("DROP VIEW IF EXISTS corpus_staging; DROP VIEW IF EXISTS corpus_seen")
    })
}

/**
 * A run's decisions as newline-delimited JSON, appended as they are taken (a slice of lines per
 * write), so a run holds none of them: one line per decision, `[n, order, doc_id, …]` where n
 * counts the lines and order is the document's first decision's position (corpus_staging.sql keeps
 * each document's last line, at its first order: an id repeated in the input is decided twice).
 */
export class StagedDecisions {
  readonly path: string
  private lines: Array<string> = []
  private written = 0
  private fd: number | undefined
  /** The documents put, by fingerprint: whether one may have been put twice. */
  private readonly docs = new FingerprintSet()
  /** A document may have been put twice (a fingerprint match, which a collision also gives). */
  repeated = false

  constructor(readonly dir: string) {
    this.path = join(dir, "documents.jsonl")
    this.fd = openSync(this.path, "w")
  }

  put(order: number, d: CorpusDocumentRow) {
    if (this.docs.add(d.docId)) this.repeated = true
    this.lines.push(JSON.stringify([
      this.written + this.lines.length, order, d.docId, d.contentHash, d.source, d.status, d.reason ?? null, d.duplicateOf ?? null, d.lang ?? null,
      d.langScore ?? null, d.tokens ?? null, d.bands ? d.bands.join(",") : null, d.similarity ?? null
    ]))
    if (this.lines.length === SLICE) this.flush()
  }

  private flush() {
    if (this.lines.length === 0) return
    if (this.fd === undefined) this.fd = openSync(this.path, "a")
    writeSync(this.fd, this.lines.join("\n") + "\n")
    this.written += this.lines.length
    this.lines = []
  }

  /** Writes what is buffered and closes the file (put opens it again). */
  close() {
    this.flush()
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }

  /** Every document's last decision, by first order, read back from the file (tests and small runs). */
  read(): Array<CorpusDocumentRow> {
    this.flush()
    const byDoc = new Map<string, { order: number; row: CorpusDocumentRow }>()
    for (const line of readFileSync(this.path, "utf8").split("\n")) {
      if (line.length === 0) continue
      const [, order, docId, contentHash, source, status, reason, duplicateOf, lang, langScore, tokens, bands, similarity] = JSON.parse(line) as [
        number, number, string, string, string, string, string | null, string | null, string | null, number | null, number | null, string | null, number | null
      ]
      const row: CorpusDocumentRow = {
        docId, contentHash, source, status,
        ...(reason === null ? {} : { reason }),
        ...(duplicateOf === null ? {} : { duplicateOf }),
        ...(lang === null ? {} : { lang }),
        ...(langScore === null ? {} : { langScore }),
        ...(similarity === null ? {} : { similarity }),
        ...(tokens === null ? {} : { tokens }),
        ...(bands === null ? {} : { bands: bands.split(",") })
      }
      const before = byDoc.get(docId)
      byDoc.set(docId, { order: before?.order ?? order, row })
    }
    return [...byDoc.values()].sort((a, b) => a.order - b.order).map((e) => e.row)
  }

  remove() {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
    this.lines = []
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** A path as an SQL string literal (a table function's argument in a view cannot be a parameter). */
const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`

const SLICE = 8192
const STAGED_PREFIX = ".fleuve-corpus-state-"

/**
 * DuckDB's memory_limit during the state save: what its buffer pool may hold (1.1 M rows merged
 * within it in ~2 s; the process's RSS rises by ~0.3 GB, not the ~0.8 GB of no limit).
 */
export const SAVE_MEMORY_LIMIT = "256MB"

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
