-- Retire the documents a corpus run did not see (they disappeared from the input). Parameter:
-- $run_id. The rows the run itself merged were seen: corpus_seen need only hold the ids of earlier
-- runs' documents it saw (an incremental run keeps no others).
UPDATE corpus_documents SET retired = true, retired_run = $run_id, updated_at = now()
WHERE NOT retired AND last_run <> $run_id AND doc_id NOT IN (SELECT doc_id FROM corpus_seen);
