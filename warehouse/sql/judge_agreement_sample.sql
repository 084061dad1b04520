-- The answers a judge panel re-judges to measure agreement: one system's current AbsQA predictions
-- at one shot count, with each item's question, context and reference (first $3 items by id).
SELECT p.item_id, p.output, CAST(i.payload AS VARCHAR) AS payload
FROM predictions p
JOIN items i ON i.task = p.task AND i.item_id = p.item_id AND i.dataset_version = p.dataset_version AND NOT i.retired
WHERE p.system = $1 AND p.task = 'absqa' AND p.shots = $2
ORDER BY p.item_id
LIMIT $3
