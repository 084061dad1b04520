-- A corpus run's decisions, from the newline-delimited JSON file CorpusState.save wrote as the
-- ledger was read: one array of corpus_staging's columns per line. Parameter: $documents, its path.
INSERT INTO corpus_staging
SELECT r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8]::DOUBLE, r[9]::INTEGER, r[10], r[11]::DOUBLE
FROM (SELECT json_transform(json, '["VARCHAR"]') AS r FROM read_ndjson_objects($documents))
