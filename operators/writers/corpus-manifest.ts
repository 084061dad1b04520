/**
 * The manifest of a corpus output folder (`<out>/manifest.json`): which shards and documents files
 * hold the *current* version of each document. Incremental runs append shards holding only new or
 * changed documents, so the old version of a changed document and retired documents stay in earlier
 * files; the manifest says, per file, which documents are still current there and which sequences
 * are stale (hold a document that is not current any more). `compact` (pipelines/corpus-compact.ts)
 * rewrites the current documents into full shards and removes the files the manifest listed.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { basename, join } from "node:path"
import { readArrowShard } from "./arrow-shards.ts"

export const MANIFEST_FORMAT = "fleuve-corpus-manifest/1"

export interface ShardEntry {
  /** File name inside the output folder. */
  readonly file: string
  readonly run: string
  readonly sequences: number
  /** Documents whose current version has tokens in this shard. */
  readonly documents: ReadonlyArray<string>
  /** Sequences (the `seq` column) holding a document that is no longer current: skip them to train on current text only. */
  readonly staleSequences: ReadonlyArray<number>
}

export interface DocumentsFileEntry {
  readonly file: string
  readonly run: string
  /** Documents whose current version is a line of this file. */
  readonly documents: ReadonlyArray<string>
  /** Lines in the file, current or not. */
  readonly lines: number
}

export interface CorpusManifest {
  readonly format: typeof MANIFEST_FORMAT
  readonly updatedByRun: string
  /** What the shards were packed with: compaction repacks with the same. */
  readonly tokenizer: string
  readonly sequenceLength: number
  readonly shards: ReadonlyArray<ShardEntry>
  readonly documentsFiles: ReadonlyArray<DocumentsFileEntry>
  /** Current documents and the sequences that hold only current documents. */
  readonly current: { readonly documents: number; readonly sequences: number }
}

export const manifestPath = (outDir: string) => join(outDir, "manifest.json")

export const readManifest = (outDir: string): CorpusManifest | undefined => {
  const path = manifestPath(outDir)
  if (!existsSync(path)) return undefined
  const m = JSON.parse(readFileSync(path, "utf8")) as CorpusManifest
  if (m.format !== MANIFEST_FORMAT) throw new Error(`${path}: unknown manifest format ${JSON.stringify(m.format)} (expected ${MANIFEST_FORMAT})`)
  return m
}

/** Written to a temporary name and renamed: a reader sees the old manifest or the new one. */
export const writeManifest = (outDir: string, m: CorpusManifest) => {
  const path = manifestPath(outDir)
  writeFileSync(`${path}.tmp`, `${JSON.stringify(m, null, 1)}\n`)
  renameSync(`${path}.tmp`, path)
}

export interface RunOutputs {
  readonly runId: string
  readonly tokenizer: string
  readonly sequenceLength: number
  readonly shards: ReadonlyMap<string, { sequences: number; documents: ReadonlySet<string> }>
  readonly documentsFile: { readonly path: string; readonly ids: ReadonlyArray<string> } | undefined
  /**
   * Documents whose earlier versions are no longer current: those the run (re)processed and
   * those it retired. `"all"` for a full (non-incremental) run, which supersedes everything.
   */
  readonly superseded: ReadonlySet<string> | "all"
}

/** The manifest after a run: earlier entries lose the superseded documents, the run's files are added. */
export const updateManifest = (outDir: string, previous: CorpusManifest | undefined, run: RunOutputs): CorpusManifest => {
  const gone = (id: string) => run.superseded === "all" || run.superseded.has(id)
  const shards: Array<ShardEntry> = (previous?.shards ?? []).map((s) => {
    const documents = s.documents.filter((d) => !gone(d))
    if (documents.length === s.documents.length) return s
    return { ...s, documents, staleSequences: staleSequences(join(outDir, s.file), new Set(documents)) }
  })
  for (const [path, c] of run.shards) {
    shards.push({ file: basename(path), run: run.runId, sequences: c.sequences, documents: [...c.documents], staleSequences: [] })
  }
  const documentsFiles: Array<DocumentsFileEntry> = (previous?.documentsFiles ?? []).map((f) => ({ ...f, documents: f.documents.filter((d) => !gone(d)) }))
  if (run.documentsFile) documentsFiles.push({ file: basename(run.documentsFile.path), run: run.runId, documents: [...run.documentsFile.ids], lines: run.documentsFile.ids.length })
  return {
    format: MANIFEST_FORMAT,
    updatedByRun: run.runId,
    tokenizer: run.tokenizer,
    sequenceLength: run.sequenceLength,
    shards,
    documentsFiles,
    current: {
      documents: new Set(documentsFiles.flatMap((f) => f.documents)).size,
      sequences: shards.reduce((a, s) => a + s.sequences - s.staleSequences.length, 0)
    }
  }
}

/** Sequences of a shard holding a document outside `current` (read from the shard itself). */
const staleSequences = (path: string, current: ReadonlySet<string>): Array<number> => {
  if (!existsSync(path)) return []
  return readArrowShard(path).filter((s) => s.docIds.some((d) => !current.has(d))).map((s) => s.seq)
}
