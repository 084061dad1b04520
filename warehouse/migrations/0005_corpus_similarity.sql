-- Duplicates record how similar they are to the document they duplicate: 1 for exact
-- duplicates, the MinHash LSH band estimate for near duplicates (issue 21).
ALTER TABLE corpus_documents ADD COLUMN similarity DOUBLE;
