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
