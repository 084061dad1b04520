-- The documents of a corpus run that corpus_documents already holds: their rows leave, the run's
-- take their place (corpus_documents.sql inserts them, keeping each one's first_run from here).
-- A DELETE and an INSERT rather than an UPDATE or INSERT … ON CONFLICT DO UPDATE: DuckDB holds
-- all of those's rows in memory (~0.8 GB for 1.1 M rows, Out of Memory under a limit), while these
-- run within the memory_limit CorpusState.saveStaged sets (issue 23, memory).
CREATE OR REPLACE TEMP TABLE corpus_first_runs AS
SELECT d.doc_id, d.first_run FROM corpus_documents AS d SEMI JOIN corpus_staging AS s ON d.doc_id = s.doc_id;
DELETE FROM corpus_documents WHERE doc_id IN (SELECT doc_id FROM corpus_first_runs);
