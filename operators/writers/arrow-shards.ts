import { Field, Int32, List, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from "apache-arrow"
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
    const table = new Table({
      seq: vectorFromArray(Int32Array.from(rows.map((r) => r.seq))),
      input_ids: vectorFromArray(rows.map((r) => Int32Array.from(r.ids)), new List(new Field("item", new Int32(), false))),
      doc_ids: vectorFromArray(rows.map((r) => [...r.docIds]), new List(new Field("item", new Utf8(), false)))
    })
    writeFileSync(`${path}.tmp`, tableToIPC(table, "file"))
    renameSync(`${path}.tmp`, path)
    this.written.push(path)
    this.contents.set(path, { sequences: rows.length, documents: new Set(rows.flatMap((r) => r.docIds)) })
    this.pending = []
    this.shardIndex++
  }
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
