-- The ids a corpus run saw, from the newline-delimited JSON file CorpusState.save wrote: one JSON
-- string per line. Parameter: $seen, its path.
INSERT INTO corpus_seen SELECT json_extract_string(json, '$') FROM read_ndjson_objects($seen)
