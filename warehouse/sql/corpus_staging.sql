-- Decisions of one corpus run, staged before they are merged into corpus_documents.
CREATE OR REPLACE TEMP TABLE corpus_staging (
  doc_id        VARCHAR,
  content_hash  VARCHAR,
  source        VARCHAR,
  status        VARCHAR,
  reason        VARCHAR,
  duplicate_of  VARCHAR,
  lang          VARCHAR,
  lang_score    DOUBLE,
  tokens        INTEGER,
  lsh_bands     VARCHAR,
  similarity    DOUBLE
);
CREATE OR REPLACE TEMP TABLE corpus_seen (doc_id VARCHAR);
