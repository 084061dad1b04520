-- A corpus run's decisions on documents corpus_documents does not hold yet, as new rows (after
-- corpus_documents_updated.sql merged the others; re-merging the same run changes nothing).
-- Parameter: $run_id. corpus_retired then retires what the run did not see.
INSERT INTO corpus_documents (doc_id, content_hash, source, status, reason, duplicate_of, lang, lang_score, tokens, lsh_bands, similarity, first_run, last_run, retired, retired_run)
SELECT doc_id, content_hash, source, status, reason, duplicate_of, lang, lang_score, tokens, lsh_bands, similarity, $run_id, $run_id, false, NULL
FROM corpus_staging
WHERE doc_id NOT IN (SELECT doc_id FROM corpus_documents);
