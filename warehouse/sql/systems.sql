-- Records a system and what it is: its model, revision and adapter, and a description. A system
-- named again takes the newer identity. $1 system, $2 model_id, $3 model_revision, $4 adapter_hash, $5 description.
INSERT INTO systems (system, model_id, model_revision, adapter_hash, description) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO UPDATE SET model_id = excluded.model_id, model_revision = excluded.model_revision,
  adapter_hash = excluded.adapter_hash, description = excluded.description;
