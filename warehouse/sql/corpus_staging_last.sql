-- corpus_staging.sql's views where a document may have been decided twice (its id repeated in the
-- input, or its decision received twice on Kafka): its lines' last (highest n) stands, at the
-- order of its first. DuckDB holds every line at once to pick them, so the usual case (one line a
-- document) reads the file as it stands instead.
CREATE OR REPLACE TEMP VIEW corpus_staging AS
SELECT doc_id, content_hash, source, status, reason, duplicate_of, lang, lang_score, tokens, lsh_bands, similarity
FROM (
  SELECT r[3] AS doc_id, r[4] AS content_hash, r[5] AS source, r[6] AS status, r[7] AS reason, r[8] AS duplicate_of,
         r[9] AS lang, r[10]::DOUBLE AS lang_score, r[11]::INTEGER AS tokens, r[12] AS lsh_bands, r[13]::DOUBLE AS similarity,
         row_number() OVER (PARTITION BY r[3] ORDER BY r[1]::BIGINT DESC) AS latest,
         min(r[2]::BIGINT) OVER (PARTITION BY r[3]) AS first_order
  FROM (SELECT json_transform(json, '["VARCHAR"]') AS r FROM read_ndjson_objects({{documents}}))
)
WHERE latest = 1
ORDER BY first_order;
CREATE OR REPLACE TEMP VIEW corpus_seen AS SELECT json_extract_string(json, '$') AS doc_id FROM read_ndjson_objects({{seen}});
