import { Schema } from "effect"

/** One document of a text corpus as it flows from readers to the packer. */
export const CorpusDocument = Schema.Struct({
  id: Schema.String,
  text: Schema.String,
  /** Origin, e.g. the file it was read from; kept so rejects and duplicates can be traced. */
  source: Schema.String,
  /** sha256 of the normalised text, used by exact dedup and incremental reprocessing. */
  contentHash: Schema.String,
  lang: Schema.optional(Schema.String),
  langScore: Schema.optional(Schema.Finite),
  meta: Schema.optional(Schema.Record(Schema.String, Schema.Unknown))
})
export type CorpusDocument = typeof CorpusDocument.Type

/** A document turned into token ids, on its way to the packer. */
export const TokenizedDocument = Schema.Struct({
  id: Schema.String,
  ids: Schema.Array(Schema.Int)
})
export type TokenizedDocument = typeof TokenizedDocument.Type

/**
 * One fixed-length training sequence (the record on topic `corpus.packed`, which the trainer
 * reads): documents' token ids back to back, each followed by EOS, cut at `length`.
 */
export const PackedSequence = Schema.Struct({
  /** Position of the sequence in this run's output, from 0. */
  seq: Schema.Int,
  ids: Schema.Array(Schema.Int),
  /** Documents with at least one token in this sequence, in order. */
  docIds: Schema.Array(Schema.String),
  /** Arrow IPC shard the sequence was written to, once written. */
  shard: Schema.optional(Schema.String)
})
export type PackedSequence = typeof PackedSequence.Type
