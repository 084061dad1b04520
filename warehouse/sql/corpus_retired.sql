-- Retire the documents a corpus run did not see (they disappeared from the input). Parameter: $run_id.
UPDATE corpus_documents SET retired = true, retired_run = $run_id, updated_at = now()
WHERE NOT retired AND doc_id NOT IN (SELECT doc_id FROM corpus_seen);
