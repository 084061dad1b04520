import { Field, Int32, List, makeData, makeVector, Table, tableFromIPC, tableToIPC, Utf8 } from "apache-arrow"
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import type { PackedSequence } from "../../schemas/corpus-document.ts"

/**
 * Writes packed sequences as Arrow IPC files of `perShard` sequences each, with columns
 * seq (int32), input_ids (list<int32>) and doc_ids (list<utf8>). Each shard is written to a
 * temporary name and renamed, so a reader never sees half a shard.
 */
export class ArrowShardWriter {
  private pending: Array<PackedSequence> = []
  private shardIndex = 0
  readonly written: Array<string> = []
  /** Per shard written: its sequences and the documents with tokens in them (for the manifest). */
  readonly contents = new Map<string, { sequences: number; documents: Set<string> }>()

  constructor(readonly dir: string, readonly prefix: string, readonly perShard = 1024) {
    mkdirSync(dir, { recursive: true })
  }

  /** The shard the next sequence will land in (so records on the topic can name it). */
  get currentShard(): string {
    return join(this.dir, `${this.prefix}-${String(this.shardIndex).padStart(5, "0")}.arrow`)
  }

  add(sequences: ReadonlyArray<PackedSequence>) {
    for (const s of sequences) {
      this.pending.push(s)
      if (this.pending.length >= this.perShard) this.writeShard()
    }
  }

  close() {
    if (this.pending.length > 0) this.writeShard()
  }

  private writeShard() {
    const path = this.currentShard
    const rows = this.pending
    writeFileSync(`${path}.tmp`, tableToIPC(shardTable(rows), "file"))
    renameSync(`${path}.tmp`, path)
    this.written.push(path)
    this.contents.set(path, { sequences: rows.length, documents: new Set(rows.flatMap((r) => r.docIds)) })
    this.pending = []
    this.shardIndex++
  }
}

const utf8 = new TextEncoder()

/**
 * The shard's table, its columns' buffers filled directly: list offsets and values (a token id
 * or a document id's UTF-8 bytes) in typed arrays. apache-arrow's builders (vectorFromArray)
 * wrote every token id through a generic per-value setter and validity bitmap: 5% of the 100 MB
 * run's CPU (issue 23). The IPC bytes are the builders' (test/corpus/fast-paths.test.ts compares
 * them with test/helpers/corpus-reference.ts's builder version).
 */
export const shardTable = (rows: ReadonlyArray<PackedSequence>): Table => {
  const n = rows.length
  const seq = new Int32Array(n)
  const idOffsets = new Int32Array(n + 1)
  const docOffsets = new Int32Array(n + 1)
  let tokens = 0
  let docs = 0
  for (let i = 0; i < n; i++) {
    const r = rows[i]!
    seq[i] = r.seq
    idOffsets[i + 1] = tokens += r.ids.length
    docOffsets[i + 1] = docs += r.docIds.length
  }
  const ids = new Int32Array(tokens)
  const docBytes: Array<Uint8Array> = []
  const byteOffsets = new Int32Array(docs + 1)
  let bytes = 0
  for (let i = 0, at = 0, d = 0; i < n; i++) {
    const r = rows[i]!
    for (let j = 0; j < r.ids.length; j++) ids[at++] = r.ids[j]!
    for (const id of r.docIds) {
      const b = utf8.encode(id)
      docBytes.push(b)
      byteOffsets[++d] = bytes += b.length
    }
  }
  const text = new Uint8Array(bytes)
  for (let d = 0; d < docBytes.length; d++) text.set(docBytes[d]!, byteOffsets[d]!)
  const idList = new List(new Field("item", new Int32(), false))
  const docList = new List(new Field("item", new Utf8(), false))
  return new Table({
    seq: makeVector(seq),
    input_ids: makeVector(makeData({ type: idList, length: n, nullCount: 0, valueOffsets: idOffsets, child: makeData({ type: new Int32(), length: tokens, nullCount: 0, data: ids }) })),
    doc_ids: makeVector(makeData({ type: docList, length: n, nullCount: 0, valueOffsets: docOffsets, child: makeData({ type: new Utf8(), length: docs, nullCount: 0, valueOffsets: byteOffsets, data: text }) }))
  })
}

/** Reads a shard back (tests, the trainer's loader): one row per sequence. */
export const readArrowShard = (path: string): Array<PackedSequence> => {
  const table = tableFromIPC(readFileSync(path))
  const out: Array<PackedSequence> = []
  for (const row of table) {
    const r = row.toJSON() as { seq: number; input_ids: { toArray(): Int32Array }; doc_ids: { toArray(): Array<string> } }
    out.push({ seq: r.seq, ids: Array.from(r.input_ids.toArray()), docIds: [...r.doc_ids.toArray()] })
  }
  return out
}
