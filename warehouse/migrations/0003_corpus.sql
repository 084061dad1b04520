-- Corpus pipeline state (issue #5): one row per document ever seen, so a re-run processes only
-- new or changed documents, keeps dedup state across runs and retires documents that disappeared.

CREATE TABLE corpus_documents (
  doc_id        VARCHAR PRIMARY KEY,
  content_hash  VARCHAR NOT NULL,          -- sha256 of the normalised text
  source        VARCHAR,                   -- file:line it was last read from
  status        VARCHAR NOT NULL,          -- kept | dropped | duplicate | rejected
  reason        VARCHAR,                   -- why it was dropped ("language en", "near duplicate", ...)
  duplicate_of  VARCHAR,                   -- the kept document it duplicates
  lang          VARCHAR,
  lang_score    DOUBLE,
  tokens        INTEGER,
  lsh_bands     VARCHAR,                   -- MinHash LSH band keys (base 36, comma-separated), kept documents only
  first_run     VARCHAR NOT NULL,
  last_run      VARCHAR NOT NULL,          -- the run that last (re)processed it
  retired       BOOLEAN NOT NULL DEFAULT false,
  retired_run   VARCHAR,
  updated_at    TIMESTAMP DEFAULT current_timestamp
);
