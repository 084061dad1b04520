-- Lands one dataset's staged items: new and changed items (un-retired), and each content hash
-- an item has had. $1: the run.
INSERT INTO items (task, item_id, dataset_version, content_hash, payload, retired)
SELECT task, item_id, dataset_version, content_hash, payload, false FROM {{staging}}
ON CONFLICT DO UPDATE SET content_hash = excluded.content_hash, payload = excluded.payload, retired = false;

INSERT INTO item_history (dataset, item_id, content_hash, run_id)
SELECT dataset_version, item_id, content_hash, $1 FROM {{staging}}
ON CONFLICT DO NOTHING;
