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

/**
 * What the corpus reader produces (topic `corpus.raw`): a document, or a row it could not read
 * (bad UTF-8, malformed JSON, a missing text field) with the reason, which the first stage turns
 * into a dead letter. Defined here so that Kafka carries the same union the embedded runtime does.
 */
export const CorpusRead = Schema.Union([
  Schema.TaggedStruct("Document", { document: CorpusDocument }),
  Schema.TaggedStruct("Unreadable", { reason: Schema.String, raw: Schema.String })
])
export type CorpusRead = typeof CorpusRead.Type

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

/** One line of `<run id>-documents.jsonl.gz`: a kept document as it leaves the cleaning steps. */
export const CleanedDocument = Schema.Struct({
  id: Schema.String,
  /** The text after normalisation and PII scrubbing: what was tokenized. */
  text: Schema.String,
  lang: Schema.NullOr(Schema.String),
  lang_score: Schema.NullOr(Schema.Finite),
  source: Schema.String,
  /** sha256 of the normalised text before scrubbing (corpus_documents.content_hash). */
  content_hash: Schema.String,
  /** PII replacements by type. */
  pii: Schema.Record(Schema.String, Schema.Finite),
  /** What the quality rules measured: words, mean_word_length, alpha_words_ratio, stop_words. */
  quality: Schema.NullOr(Schema.Record(Schema.String, Schema.Finite))
})
export type CleanedDocument = typeof CleanedDocument.Type

/**
 * What one stage learned about one document (operators/corpus/ledger.ts DocumentLedger): seen,
 * (re)processed, its decision, the facts of a kept one. On Kafka each corpus stage writes these to
 * `corpus.decisions` in the transaction of the batch that made them, and the process that closes
 * the run lands them in its ledger, so decisions made by any worker reach `corpus_documents`.
 */
export const CorpusLedgerEntry = Schema.Struct({
  docId: Schema.String,
  seen: Schema.optional(Schema.Boolean),
  processed: Schema.optional(Schema.Boolean),
  decision: Schema.optional(Schema.Struct({
    contentHash: Schema.String,
    source: Schema.String,
    status: Schema.Literals(["kept", "dropped", "duplicate", "rejected"]),
    reason: Schema.optional(Schema.String),
    duplicateOf: Schema.optional(Schema.String),
    lang: Schema.optional(Schema.String),
    langScore: Schema.optional(Schema.Finite),
    similarity: Schema.optional(Schema.Finite)
  })),
  bands: Schema.optional(Schema.Array(Schema.String)),
  tokens: Schema.optional(Schema.Int),
  /**
   * A kept document as the cleaned-documents file holds it (written by the dedup stage's tap): on
   * Kafka it travels here so that the process that closes the run writes the run's one file.
   */
  document: Schema.optional(CleanedDocument)
})
export type CorpusLedgerEntry = typeof CorpusLedgerEntry.Type


/**
 * What an earlier run remembered of one document (a row of `corpus_documents`): on Kafka, the
 * process that starts a corpus run publishes these right after the run's begin marker, so that
 * stage workers (which have no warehouse) start from the same state as the embedded run.
 */
export const CorpusKnownDocument = Schema.Struct({
  docId: Schema.String,
  contentHash: Schema.String,
  status: Schema.String,
  /** Base-36 LSH band keys (kept documents). */
  bands: Schema.Array(Schema.String)
})
export type CorpusKnownDocument = typeof CorpusKnownDocument.Type
