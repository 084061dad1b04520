-- A corpus run's decisions as rows of corpus_documents, after corpus_documents_updated.sql took
-- out the rows of the documents it held (their first_run kept in corpus_first_runs).
-- Re-merging the same run changes nothing. Parameter: $run_id. corpus_retired then retires what
-- the run did not see.
INSERT INTO corpus_documents (doc_id, content_hash, source, status, reason, duplicate_of, lang, lang_score, tokens, lsh_bands, similarity, first_run, last_run, retired, retired_run)
SELECT s.doc_id, content_hash, source, status, reason, duplicate_of, lang, lang_score, tokens, lsh_bands, similarity, coalesce(f.first_run, $run_id), $run_id, false, NULL
FROM corpus_staging AS s LEFT JOIN corpus_first_runs AS f ON s.doc_id = f.doc_id;
