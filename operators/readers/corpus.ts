import { Stream } from "effect"
import { createHash } from "node:crypto"
import { readdirSync, readlinkSync, realpathSync, statSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { join, relative } from "node:path"
import type { CorpusDocument } from "../../schemas/corpus-document.ts"
import type { Envelope } from "../envelope.ts"
import { OperatorFailure } from "../operator.ts"
import { formatOf, readTable } from "./index.ts"
import { type RawRecord, unreadable } from "./raw-record.ts"

/** What the corpus reader yields: a document, or a record it could not turn into one (kept as a dead letter downstream). */
export type CorpusRead =
  | { readonly _tag: "Document"; readonly document: CorpusDocument }
  | Extract<RawRecord, { _tag: "Unreadable" }>

export interface CorpusReaderOptions {
  /** Field holding the text in table rows (default "text"). */
  readonly textField?: string
  /** Field holding a stable document id (default "id"; else the file:line). */
  readonly idField?: string
  /** A single .txt file larger than this is refused rather than read (default 64 MiB). */
  readonly maxTextFileBytes?: number
}

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

/**
 * Reads a corpus: a JSONL (plain or .gz), CSV or Parquet file of rows with a text field, or a
 * folder holding such files and/or .txt files (one document each, id = path inside the folder).
 * Streams with bounded memory; each document carries its source (file:line) and the sha256 of
 * its text as read.
 */
export const readCorpus = (path: string, options: CorpusReaderOptions = {}): Stream.Stream<Envelope<CorpusRead>, OperatorFailure> => {
  let info
  try {
    info = statSync(path)
  } catch {
    return Stream.fail(new OperatorFailure({ operator: "read-corpus", message: `${path}: no such file or folder` }))
  }
  if (!info.isDirectory()) return readCorpusFile(path, path, options)
  let files: Array<string>
  try {
    files = listFiles(path)
  } catch (e) {
    return Stream.fail(new OperatorFailure({ operator: "read-corpus", message: e instanceof Error ? e.message : String(e) }))
  }
  return Stream.fromIterable(files).pipe(
    Stream.flatMap((file) => (file.endsWith(".txt") ? readTextFile(file, path, options) : readCorpusFile(file, path, options)), { concurrency: 1 })
  )
}

/**
 * How many documents `readCorpus` will yield, when that is known without reading: a .txt file or a
 * folder of .txt files (one document each). Table files hold an unknown number of rows: undefined.
 */
export const expectedDocuments = (path: string): number | undefined => {
  try {
    if (!statSync(path).isDirectory()) return path.endsWith(".txt") ? 1 : undefined
    const files = listFiles(path)
    return files.every((f) => f.endsWith(".txt")) ? files.length : undefined
  } catch {
    return undefined
  }
}

/** UTF-8 bytes of the text a corpus record carries (0 for an unreadable one): MB/s in progress lines. */
export const corpusReadBytes = (read: CorpusRead): number => (read._tag === "Document" ? Buffer.byteLength(read.document.text) : 0)

/**
 * Files under a folder, sorted for a deterministic order; only formats the reader knows.
 * Symbolic links are followed (they used to be skipped silently); a link back to a folder already
 * being walked is a loop, reported as an error naming the link.
 */
const listFiles = (dir: string, walking: ReadonlySet<string> = new Set([realpathSync(dir)])): Array<string> =>
  readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => {
      const p = join(dir, e.name)
      let isDir = e.isDirectory()
      let isFile = e.isFile()
      if (e.isSymbolicLink()) {
        let target
        try {
          target = statSync(p)
        } catch {
          throw new Error(`${p}: broken symbolic link (to ${readlinkSync(p)})`)
        }
        isDir = target.isDirectory()
        isFile = target.isFile()
      }
      if (isDir) {
        const real = realpathSync(p)
        if (walking.has(real)) throw new Error(`${p}: symbolic link loop (it leads back to ${real}, which is being read)`)
        return listFiles(p, new Set([...walking, real]))
      }
      return isFile && (p.endsWith(".txt") || formatOf(p) !== undefined) ? [p] : []
    })

const readCorpusFile = (file: string, root: string, options: CorpusReaderOptions): Stream.Stream<Envelope<CorpusRead>, OperatorFailure> => {
  if (!formatOf(file)) {
    return Stream.fail(new OperatorFailure({ operator: "read-corpus", message: `${file}: unknown format (expected .jsonl, .csv, .parquet, optionally .gz, or a folder of .txt files)` }))
  }
  const textField = options.textField ?? "text"
  const idField = options.idField ?? "id"
  const prefix = root === file ? "" : `${relative(root, file)}:`
  return readTable(file).pipe(
    Stream.map((e): Envelope<CorpusRead> => {
      if (e.value._tag === "Unreadable") return { ...e, value: e.value }
      const f = e.value.fields
      const text = f[textField]
      const source = `${file}:${e.position._tag === "File" ? e.position.line : 0}`
      if (typeof text !== "string") {
        return { ...e, value: unreadable(`field '${textField}' is ${text === undefined ? "missing" : `a ${typeof text}, not a string`}`, JSON.stringify(f).slice(0, 2000)) as CorpusRead }
      }
      const rawId = f[idField]
      const id = typeof rawId === "string" || typeof rawId === "number" ? `${prefix}${rawId}` : source
      const { [textField]: _t, [idField]: _i, ...rest } = f
      const document: CorpusDocument = { id, text, source, contentHash: sha256(text), ...(Object.keys(rest).length > 0 ? { meta: rest } : {}) }
      return { key: id, position: e.position, value: { _tag: "Document", document } }
    })
  )
}

const readTextFile = (file: string, root: string, options: CorpusReaderOptions): Stream.Stream<Envelope<CorpusRead>, OperatorFailure> =>
  Stream.fromAsyncIterable(
      (async function*() {
        const id = relative(root, file)
        const position = { _tag: "File" as const, file, line: 1 }
        const size = statSync(file).size
        const max = options.maxTextFileBytes ?? 64 * 1024 * 1024
        if (size > max) {
          yield { key: id, position, value: unreadable(`text file of ${size} bytes is larger than the ${max}-byte limit for one document`, "") } as Envelope<CorpusRead>
          return
        }
        const bytes = await readFile(file)
        let text: string
        try {
          text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
        } catch {
          yield { key: id, position, value: unreadable("invalid UTF-8", bytes.subarray(0, 2000).toString("latin1")) } as Envelope<CorpusRead>
          return
        }
        const document: CorpusDocument = { id, text, source: `${file}:1`, contentHash: sha256(text) }
        yield { key: id, position, value: { _tag: "Document", document } } as Envelope<CorpusRead>
      })(),
    (e) => new OperatorFailure({ operator: "read-corpus", message: `cannot read ${file}: ${String(e)}` })
  )
