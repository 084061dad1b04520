import { DuckDBConnection, DuckDBInstance, type DuckDBValue } from "@duckdb/node-api"
import { Context, Effect, Layer, Schedule } from "effect"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { createHash } from "node:crypto"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { commentStatements } from "./schema-docs.ts"
import { WarehouseError } from "./errors.ts"
import { type Row, toPlain } from "./values.ts"

const here = dirname(fileURLToPath(import.meta.url))
export const sqlDir = join(here, "sql")
const migrationsDir = join(here, "migrations")

/** A reader of one room's SQL folder: each query is a file named after what it produces. */
export const sqlReader = (dir: string) => (name: string): string => readFileSync(join(dir, `${name}.sql`), "utf8")

/** Reads `warehouse/sql/<name>.sql`: the warehouse's own landing and state queries. */
export const sqlFile = sqlReader(sqlDir)

/**
 * A landing query that reads one staged write: `{{staging}}` in the file stands for the staging
 * table, whose name is fresh for each write (warehouse/staging.ts says why).
 */
export const stagedSql = (name: string, staging: string): string => sqlFile(name).replaceAll("{{staging}}", staging)

type Params = ReadonlyArray<DuckDBValue> | Record<string, DuckDBValue>

export interface WarehouseApi {
  readonly path: string
  /** Runs statements for their effect. */
  readonly exec: (sql: string, params?: Params) => Effect.Effect<void, WarehouseError>
  /** Runs a query and returns plain rows (numbers, strings, booleans, null). */
  readonly query: <A extends Row = Row>(sql: string, params?: Params) => Effect.Effect<ReadonlyArray<A>, WarehouseError>
  /** Bulk-appends rows (arrays in the table's column order) through the DuckDB appender. */
  readonly append: (table: string, rows: ReadonlyArray<ReadonlyArray<DuckDBValue>>) => Effect.Effect<void, WarehouseError>
  /** Runs `body` in one transaction: all of it lands, or none. */
  readonly transaction: <A, E, R>(body: Effect.Effect<A, E, R>) => Effect.Effect<A, E | WarehouseError, R>
  /** The raw connection, for Arrow or other bulk paths. */
  readonly connection: DuckDBConnection
}

export interface OpenOptions {
  /**
   * Open without the write lock (DuckDB's READ_ONLY access mode): several read-only processes
   * may share a file, and no migration is applied. Statements that change data fail.
   */
  readonly readOnly?: boolean
  /** Refuse to create a new file: commands that only read (or analyse) need an existing warehouse. */
  readonly mustExist?: boolean
}

export class Warehouse extends Context.Service<Warehouse, WarehouseApi>()("fleuve/warehouse/Warehouse") {
  /** Opens (or creates) the DuckDB file at `path`, applies pending migrations, closes at scope end. */
  static readonly layer = (path: string, options: OpenOptions = {}) => Layer.effect(Warehouse, openWarehouse(path, options))
  /**
   * Like `layer`, but while another process holds the file's write lock it waits (a standby),
   * retrying every `everyMs`, and opens once the holder is gone (its lock dies with it, SIGKILL
   * included). Other failures end it at once. `onWait` hears the first refusal and the take-over.
   */
  static readonly layerWhenFree = (path: string, onWait: (line: string) => void, everyMs = 1000) =>
    Layer.effect(Warehouse, Effect.suspend(() => {
      let since: number | undefined
      return openWarehouse(path).pipe(
        Effect.tapError((e) => Effect.sync(() => {
          if (isLockConflict(e) && since === undefined) {
            since = Date.now()
            onWait(`warehouse ${path} is held by another process (${lockHolderOf(e)}): standing by until its lock is released`)
          }
        })),
        Effect.retry({ while: isLockConflict, schedule: Schedule.spaced(everyMs) }),
        Effect.tap(() => Effect.sync(() => since !== undefined && onWait(`warehouse ${path}: lock taken after ${((Date.now() - since) / 1000).toFixed(1)}s of standby`)))
      )
    }))
}

/** DuckDB's refusal when another process holds the file's write lock. */
export const isLockConflict = (e: WarehouseError) => /Conflicting lock|Could not set lock/i.test(e.message)
const lockHolderOf = (e: WarehouseError) => /\(PID (\d+)\)/.exec(e.message)?.[0]?.slice(1, -1) ?? "lock held"

// Uninterruptible: a DuckDB statement, once started, runs to its end on DuckDB's threads whatever
// happens to the fiber that asked for it. An interruptible wait let an interrupted fiber (e.g. a
// stage landing dead letters when the pipeline's source failed) return at once while its
// statement still ran; the layer then closed the connection and instance under it, and the
// process hung at exit (issue 20, item 1). Interruption now takes effect once the statement ended.
const attempt = <A>(sql: string, f: () => Promise<A>) =>
  Effect.uninterruptible(Effect.tryPromise({
    try: f,
    catch: (e) => new WarehouseError({ message: e instanceof Error ? e.message : String(e), sql: sql.slice(0, 500) })
  }))

export const openWarehouse = (path: string, options: OpenOptions = {}) =>
  Effect.gen(function*() {
    // ":memory:" and "" are DuckDB's in-memory databases: nothing to find on disk.
    if ((options.mustExist || options.readOnly) && path !== ":memory:" && path !== "" && !existsSync(path)) {
      return yield* new WarehouseError({ message: `no warehouse at ${path} (check --warehouse or $FLEUVE_WAREHOUSE; a command that only reads never creates one)` })
    }
    const instance = yield* Effect.tryPromise({
      try: () => DuckDBInstance.create(path, options.readOnly ? { access_mode: "READ_ONLY" } : undefined),
      catch: (e) => new WarehouseError({ message: `cannot open warehouse ${path}: ${e instanceof Error ? e.message : String(e)}` })
    })
    const connection = yield* Effect.acquireRelease(
      attempt("connect", () => instance.connect()),
      (c) => Effect.sync(() => {
        c.closeSync()
        instance.closeSync()
      })
    )
    const exec = (sql: string, params?: Params) =>
      attempt(sql, () => (params ? connection.run(sql, params as DuckDBValue[]) : connection.run(sql))).pipe(Effect.asVoid)
    const query = <A extends Row = Row>(sql: string, params?: Params) =>
      attempt(sql, async () => {
        const reader = params ? await connection.runAndReadAll(sql, params as DuckDBValue[]) : await connection.runAndReadAll(sql)
        return reader.getRowObjectsJS().map((r) => toPlain(r) as A)
      })
    const append = (table: string, rows: ReadonlyArray<ReadonlyArray<DuckDBValue>>) =>
      attempt(`append ${table}`, async () => {
        const appender = await connection.createAppender(table)
        try {
          const types = Array.from({ length: appender.columnCount }, (_, i) => appender.columnType(i))
          for (const row of rows) {
            for (let i = 0; i < types.length; i++) {
              const v = row[i]
              if (v === null || v === undefined) appender.appendNull()
              else appender.appendValue(v, types[i])
            }
            appender.endRow()
          }
          appender.flushSync()
        } finally {
          appender.closeSync()
        }
      })
    const transaction = <A, E, R>(body: Effect.Effect<A, E, R>) =>
      Effect.acquireUseRelease(
        exec("BEGIN TRANSACTION"),
        () => body,
        (_, exit) => (exit._tag === "Success" ? exec("COMMIT") : exec("ROLLBACK")).pipe(Effect.orDie)
      )
    const api: WarehouseApi = { path, exec, query, append, transaction, connection }
    // A read-only connection cannot migrate (nor document the schema): it reads the file as the
    // last writer left it.
    if (!options.readOnly) {
      yield* migrate(api)
      yield* applySchemaDocs(api)
      // DuckDB (node-api 1.5.6) cannot replay a COMMENT ON from its write-ahead log: a process killed before
      // the next checkpoint left a warehouse that no longer opened ("Failure while replaying WAL
      // file: Calling DatabaseManager::GetDefaultDatabase with no default database set"), which a
      // standby sink met after a SIGKILL. Checkpoint the schema and its comments at once.
      yield* exec("CHECKPOINT")
    }
    return Warehouse.of(api)
  })

const PRESENT_COMMENTS = `
SELECT table_name AS "table", NULL AS "column", 'table' AS kind, comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'
UNION ALL
SELECT view_name, NULL, 'view', comment FROM duckdb_views() WHERE NOT internal AND database_name = current_database() AND schema_name = 'main'
UNION ALL
SELECT table_name, column_name, 'column', comment FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main'`

/**
 * Brings the COMMENT ON of every table, view and column to warehouse/schema-docs.ts, so any SQL
 * client shows what a column means. Only differences are written: a documented warehouse costs one
 * catalog query. `fleuve analyze` calls it again after replacing its tables.
 */
export const applySchemaDocs = (w: Pick<WarehouseApi, "exec" | "query">) =>
  Effect.gen(function*() {
    const present = yield* w.query<{ table: string; column: string | null; kind: string; comment: string | null }>(PRESENT_COMMENTS)
    const statements = commentStatements(present)
    // One transaction: DuckDB commits each statement of a script on its own otherwise, and ~200
    // comments of a fresh warehouse took 66 ms that way against 16 ms in one (issue 23, start-up).
    if (statements.length > 0) yield* w.exec(`BEGIN TRANSACTION;\n${statements.join(";\n")};\nCOMMIT`)
  })

/** Applies `warehouse/migrations/NNNN_*.sql` in order, once each, recording a checksum. */
const migrate = (w: WarehouseApi) =>
  Effect.gen(function*() {
    yield* w.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL,
      applied_at TIMESTAMP DEFAULT current_timestamp)`)
    // The corpus migration was numbered 0005 until the migrations were numbered without gaps:
    // a warehouse that applied it under that number has it as 0003 now.
    yield* w.exec("UPDATE schema_migrations SET version = 3, name = '0003_corpus.sql' WHERE version = 5 AND name = '0005_corpus.sql'")
    const applied = new Map(
      (yield* w.query<{ version: number; checksum: string }>("SELECT version, checksum FROM schema_migrations")).map((r) => [r.version, r.checksum])
    )
    const files = readdirSync(migrationsDir).filter((f) => /^\d{4}_.*\.sql$/.test(f)).sort()
    for (const file of files) {
      const version = Number(file.slice(0, 4))
      const sql = readFileSync(join(migrationsDir, file), "utf8")
      const checksum = createHash("sha256").update(sql).digest("hex").slice(0, 16)
      const known = applied.get(version)
      if (known !== undefined) {
        if (known !== checksum) {
          return yield* new WarehouseError({ message: `migration ${file} changed after it was applied (checksum ${known} → ${checksum}); add a new migration instead` })
        }
        continue
      }
      yield* w.transaction(
        Effect.gen(function*() {
          yield* w.exec(sql)
          yield* w.exec("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [version, file, checksum])
        })
      )
    }
  })
