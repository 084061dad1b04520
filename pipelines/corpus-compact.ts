/**
 * `fleuve corpus … --compact`: rewrites the current documents of an output folder into full shards
 * and one documents file, then removes the files the old manifest listed. Incremental runs leave
 * the old version of changed documents, retired documents and a small remainder shard per run;
 * after compaction the folder holds each current document once, packed as one run would pack it.
 * Crash-safe order: new files first, then the manifest (renamed into place), then the old files.
 */
import { Effect } from "effect"
import { existsSync, rmSync } from "node:fs"
import { join } from "node:path"
import { loadTokenizer, type TextTokenizer } from "../model/index.ts"
import { pack } from "../operators/corpus/pack.ts"
import { OperatorFailure } from "../operators/operator.ts"
import { ArrowShardWriter } from "../operators/writers/arrow-shards.ts"
import { type CorpusManifest, readManifest, updateManifest, writeManifest } from "../operators/writers/corpus-manifest.ts"
import { DocumentsWriter, readDocumentsFile } from "../operators/writers/documents-jsonl.ts"
import type { CorpusDocument, PackedSequence, TokenizedDocument } from "../schemas/corpus-document.ts"
import { Runs } from "../warehouse/runs.ts"

export interface CompactionSummary {
  readonly before: { readonly shards: number; readonly documentsFiles: number; readonly sequences: number; readonly staleSequences: number }
  readonly after: { readonly shards: number; readonly sequences: number; readonly documents: number }
  readonly removed: ReadonlyArray<string>
  readonly manifest: CorpusManifest
}

const fail = (message: string) => new OperatorFailure({ operator: "compact", message })

export const compactCorpus = (outDir: string, options: { readonly tokenizer?: TextTokenizer; readonly sequencesPerShard?: number } = {}) =>
  Effect.gen(function*() {
    const old = yield* Effect.try({ try: () => readManifest(outDir), catch: (e) => fail(e instanceof Error ? e.message : String(e)) })
    if (!old) return yield* fail(`${outDir}: no manifest.json; run \`fleuve corpus INPUT --out ${outDir}\` first`)
    const tok = options.tokenizer ?? loadTokenizer(old.tokenizer)
    if (tok.eosId === undefined) return yield* fail(`${old.tokenizer}: the tokenizer defines no EOS token`)

    // Current documents, in the order the runs wrote them: each is current in exactly one file.
    const docs: Array<CorpusDocument> = []
    for (const f of old.documentsFiles) {
      const current = new Set(f.documents)
      if (current.size === 0) continue
      const path = join(outDir, f.file)
      if (!existsSync(path)) return yield* fail(`${path}: listed in manifest.json with ${current.size} current documents but missing`)
      for (const line of readDocumentsFile(path)) {
        if (!current.has(line.id)) continue
        docs.push({
          id: line.id, text: line.text, source: line.source, contentHash: line.content_hash,
          ...(line.lang === null ? {} : { lang: line.lang }), ...(line.lang_score === null ? {} : { langScore: line.lang_score }), meta: { pii: line.pii, ...(line.quality ? { quality: line.quality } : {}) }
        })
      }
    }

    const runId = `compact-${Runs.newId()}`
    const writer = new ArrowShardWriter(outDir, runId, options.sequencesPerShard ?? 1024)
    const documents = new DocumentsWriter(outDir, runId)
    const packer = pack({ sequenceLength: old.sequenceLength, eosId: tok.eosId })
    const position = (i: number) => ({ _tag: "Generated" as const, generator: "compact", seq: i })
    const sequences: Array<PackedSequence> = []
    const batch = 256
    for (let i = 0; i < docs.length; i += batch) {
      const slice = docs.slice(i, i + batch)
      documents.add(slice)
      const tokenized = slice.map((d, j) => ({ key: d.id, value: { id: d.id, ids: tok.encode(d.text) } satisfies TokenizedDocument, position: position(i + j) }))
      for (const o of yield* packer.process(tokenized)) if (o._tag === "Emit") sequences.push(...o.values.map((v) => v.value))
      writer.add(sequences.splice(0))
    }
    writer.add((yield* packer.flush!()).map((e) => e.value))
    yield* Effect.try({ try: () => writer.close(), catch: (e) => fail(String(e)) })
    const documentsFile = documents.close()

    const manifest = updateManifest(outDir, undefined, {
      runId,
      tokenizer: old.tokenizer,
      sequenceLength: old.sequenceLength,
      shards: writer.contents,
      documentsFile: documentsFile === undefined ? undefined : { path: documentsFile, ids: documents.ids },
      superseded: new Set()
    })
    yield* Effect.try({ try: () => writeManifest(outDir, manifest), catch: (e) => fail(`${outDir}/manifest.json: ${String(e)}`) })
    const removed = [...old.shards.map((s) => s.file), ...old.documentsFiles.map((f) => f.file)]
    for (const file of removed) rmSync(join(outDir, file), { force: true })
    return {
      before: {
        shards: old.shards.length,
        documentsFiles: old.documentsFiles.length,
        sequences: old.shards.reduce((a, s) => a + s.sequences, 0),
        staleSequences: old.shards.reduce((a, s) => a + s.staleSequences.length, 0)
      },
      after: { shards: writer.written.length, sequences: manifest.current.sequences, documents: documents.count },
      removed,
      manifest
    } satisfies CompactionSummary
  })
