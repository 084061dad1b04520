-- A corpus run's decisions on documents corpus_documents already holds, merged into their rows
-- (corpus_documents.sql then adds the others). Parameter: $run_id. An UPDATE and an anti-join
-- INSERT rather than one INSERT … ON CONFLICT DO UPDATE: DuckDB holds all of the latter's rows in
-- memory (+0.8 GB for 1.1 M new rows; Out of Memory under a limit), while these two run within
-- the memory_limit CorpusState.saveStaged sets (issue 23, memory), and faster (1.1 M rows
-- replaced: 5 s against 11 s). A DELETE and re-INSERT of the same keys took minutes.
UPDATE corpus_documents AS d SET
  content_hash = s.content_hash, source = s.source, status = s.status, reason = s.reason, duplicate_of = s.duplicate_of,
  lang = s.lang, lang_score = s.lang_score, tokens = s.tokens, lsh_bands = s.lsh_bands, similarity = s.similarity,
  last_run = $run_id, retired = false, retired_run = NULL, updated_at = now()
FROM corpus_staging AS s
WHERE d.doc_id = s.doc_id;
