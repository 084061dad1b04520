-- Lands one staged batch of predictions: each answer once in the prediction cache (by its key),
-- and as the current prediction of its system and cell (a newer answer replaces the older).
INSERT INTO prediction_cache BY NAME
SELECT DISTINCT ON (cache_key) * EXCLUDE (system) FROM {{staging}}
ON CONFLICT DO NOTHING;

INSERT INTO predictions (system, task, shots, item_id, dataset_version, cache_key, model_id, model_revision, adapter_hash, prompt_hash, decoding_hash, output, options)
SELECT DISTINCT ON (system, task, shots, item_id, dataset_version)
       system, task, shots, item_id, dataset_version, cache_key, model_id, model_revision, adapter_hash, prompt_hash, decoding_hash, output, options
FROM {{staging}}
ON CONFLICT DO UPDATE SET cache_key = excluded.cache_key, model_id = excluded.model_id, model_revision = excluded.model_revision,
  adapter_hash = excluded.adapter_hash, prompt_hash = excluded.prompt_hash, decoding_hash = excluded.decoding_hash,
  output = excluded.output, options = excluded.options, created_at = now();
