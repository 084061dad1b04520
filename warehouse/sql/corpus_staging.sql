-- A corpus run's decisions and the ids it saw, as views over the newline-delimited JSON files
-- CorpusState.save wrote as the ledger was read (one array of the columns below per line; one
-- JSON string per line): the merge reads them as it goes, with no copy in memory. {{documents}}
-- and {{seen}} stand for the files' paths, as SQL string literals.
CREATE OR REPLACE TEMP VIEW corpus_staging AS
SELECT r[1] AS doc_id, r[2] AS content_hash, r[3] AS source, r[4] AS status, r[5] AS reason, r[6] AS duplicate_of,
       r[7] AS lang, r[8]::DOUBLE AS lang_score, r[9]::INTEGER AS tokens, r[10] AS lsh_bands, r[11]::DOUBLE AS similarity
FROM (SELECT json_transform(json, '["VARCHAR"]') AS r FROM read_ndjson_objects({{documents}}));
CREATE OR REPLACE TEMP VIEW corpus_seen AS SELECT json_extract_string(json, '$') AS doc_id FROM read_ndjson_objects({{seen}});
