import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs"
import { join } from "node:path"
import { gunzipSync, gzipSync } from "node:zlib"
import { Effect } from "effect"
import type { CleanedDocument, CorpusDocument } from "../../schemas/corpus-document.ts"
import { type Operator, Outcome } from "../operator.ts"

/** One line of `<run id>-documents.jsonl.gz` (schemas/corpus-document.ts). */
export type CleanedDocumentLine = CleanedDocument

/**
 * Writes the kept, cleaned documents of a run as gzipped JSON lines beside its shards, so anyone
 * can read what normalisation and PII scrubbing did, or re-tokenize for another model. Each batch
 * is one gzip member appended to a temporary file (a gzip file may hold several members; gunzip,
 * Python and DuckDB read them as one stream), renamed when the run closes: a reader never sees
 * half a file. No kept document, no file.
 */
export class DocumentsWriter {
  readonly path: string
  private readonly tmp: string
  count = 0
  /** Ids written, in order (for the manifest). */
  readonly ids: Array<string> = []

  constructor(readonly dir: string, readonly prefix: string) {
    mkdirSync(dir, { recursive: true })
    this.path = join(dir, `${prefix}-documents.jsonl.gz`)
    this.tmp = `${this.path}.tmp`
  }

  add(docs: ReadonlyArray<CorpusDocument>) {
    this.addLines(docs.map(cleanedLine))
  }

  /**
   * The batch's JSON lines as UTF-8, kept from batch to batch: each line is written into it as it
   * is made, instead of joining the lines into one string and encoding that (two copies of the
   * batch, 9% of what the 10 MB run allocated: issue 23). The bytes, so the gzip member, are
   * the same (test/corpus/fast-paths.test.ts).
   */
  private bytes = Buffer.allocUnsafe(1 << 20)

  /** Writes lines made elsewhere (on Kafka, by the dedup stage's worker: see `tap`'s `divert`). */
  addLines(lines: ReadonlyArray<CleanedDocumentLine>) {
    if (lines.length === 0) return
    let bytes = this.bytes
    let n = 0
    for (const l of lines) {
      const json = JSON.stringify(l)
      // A UTF-16 unit is at most 3 bytes of UTF-8 (JSON.stringify escapes lone surrogates).
      if (n + json.length * 3 + 1 > bytes.length) {
        const bigger = Buffer.allocUnsafe(Math.max(bytes.length * 2, n + json.length * 3 + 1))
        bytes.copy(bigger, 0, 0, n)
        bytes = this.bytes = bigger
      }
      n += bytes.write(json, n, "utf8")
      bytes[n++] = 10
    }
    appendFileSync(this.tmp, gzipSync(bytes.subarray(0, n)))
    this.count += lines.length
    for (const l of lines) this.ids.push(l.id)
  }

  /** The file written, or undefined when the run kept no document. */
  close(): string | undefined {
    if (!existsSync(this.tmp)) return undefined
    renameSync(this.tmp, this.path)
    return this.path
  }

  abandon() {
    rmSync(this.tmp, { force: true })
  }

  /**
   * Passes documents through unchanged, writing each one: placed right before tokenization.
   * `divert(lines)`, when it returns true, took the lines instead (a Kafka stage worker sends them
   * to the process that closes the run, which writes the run's one file).
   */
  tap(divert: (lines: ReadonlyArray<CleanedDocumentLine>) => boolean = () => false): Operator<CorpusDocument, CorpusDocument> {
    return {
      name: "write-documents",
      process: (batch) =>
        Effect.sync(() => {
          const lines = batch.map((e) => cleanedLine(e.value))
          if (!divert(lines)) this.addLines(lines)
          return batch.map((e) => Outcome.emit(e))
        })
    }
  }
}

export const cleanedLine = (d: CorpusDocument): CleanedDocumentLine => ({
  id: d.id,
  text: d.text,
  lang: d.lang ?? null,
  lang_score: d.langScore ?? null,
  source: d.source,
  content_hash: d.contentHash,
  pii: (d.meta?.pii as Record<string, number> | undefined) ?? {},
  quality: (d.meta?.quality as Record<string, number> | undefined) ?? null
})

/** Reads a documents file back (tests, compaction). */
export const readDocumentsFile = (path: string): Array<CleanedDocumentLine> =>
  gunzipSync(readFileSync(path)).toString("utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as CleanedDocumentLine)
