-- A corpus run's decisions and the ids it saw, as views over the newline-delimited JSON files the
-- run wrote as it took its decisions (StagedDecisions: one array `[n, order, doc_id, …]` per line,
-- one line a document) and CorpusState.saveStaged wrote at its end (one JSON string per line):
-- the merge reads them as it goes, with no copy in memory. Where a document may have been decided
-- twice, corpus_staging_last.sql stands in for this file. {{documents}} and {{seen}} stand for the
-- files' paths, as SQL string literals.
CREATE OR REPLACE TEMP VIEW corpus_staging AS
SELECT r[3] AS doc_id, r[4] AS content_hash, r[5] AS source, r[6] AS status, r[7] AS reason, r[8] AS duplicate_of,
       r[9] AS lang, r[10]::DOUBLE AS lang_score, r[11]::INTEGER AS tokens, r[12] AS lsh_bands, r[13]::DOUBLE AS similarity
FROM (SELECT json_transform(json, '["VARCHAR"]') AS r FROM read_ndjson_objects({{documents}}));
CREATE OR REPLACE TEMP VIEW corpus_seen AS SELECT json_extract_string(json, '$') AS doc_id FROM read_ndjson_objects({{seen}});
