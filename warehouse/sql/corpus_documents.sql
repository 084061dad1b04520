-- Merge a run's decisions into corpus_documents (idempotent: re-merging the same run changes
-- nothing). Parameter: $run_id. corpus_retired then retires what the run did not see.
INSERT INTO corpus_documents (doc_id, content_hash, source, status, reason, duplicate_of, lang, lang_score, tokens, lsh_bands, similarity, first_run, last_run, retired, retired_run)
SELECT doc_id, content_hash, source, status, reason, duplicate_of, lang, lang_score, tokens, lsh_bands, similarity, $run_id, $run_id, false, NULL
FROM corpus_staging
ON CONFLICT (doc_id) DO UPDATE SET
  content_hash = excluded.content_hash, source = excluded.source, status = excluded.status,
  reason = excluded.reason, duplicate_of = excluded.duplicate_of, lang = excluded.lang,
  lang_score = excluded.lang_score, tokens = excluded.tokens, lsh_bands = excluded.lsh_bands, similarity = excluded.similarity,
  last_run = excluded.last_run, retired = false, retired_run = NULL, updated_at = now();
