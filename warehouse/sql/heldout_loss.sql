-- Records a system's loss on held-out text; measuring the same system on the same texts and
-- sequence length again replaces the row. $1 system, $2 texts_hash, $3 seq_len, $4 texts_source,
-- $5 model_id, $6 model_revision, $7 adapter_hash, $8 texts, $9 sequences, $10 tokens,
-- $11 mean_nll, $12 perplexity, $13 run_id.
INSERT INTO heldout_loss (system, texts_hash, seq_len, texts_source, model_id, model_revision, adapter_hash, texts, sequences, tokens, mean_nll, perplexity, run_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT DO UPDATE SET texts_source = excluded.texts_source, model_id = excluded.model_id, model_revision = excluded.model_revision,
  adapter_hash = excluded.adapter_hash, texts = excluded.texts, sequences = excluded.sequences, tokens = excluded.tokens,
  mean_nll = excluded.mean_nll, perplexity = excluded.perplexity, run_id = excluded.run_id, created_at = now();
