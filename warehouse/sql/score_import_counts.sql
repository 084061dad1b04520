-- Before the merge: how many staged keys are new, how many the warehouse already holds
-- identically, and how many staged rows repeat a key within the import.
SELECT
  count(*) FILTER (WHERE w.system IS NULL)      AS new_keys,
  count(*) FILTER (WHERE w.system IS NOT NULL)  AS existing_keys,
  coalesce(sum(k.n - 1), 0)                     AS repeated_rows
FROM (
  SELECT system, task, shots, item_id, dataset_version, metric, count(*) AS n
  FROM score_staging
  WHERE seq NOT IN (SELECT seq FROM score_rejected)
  GROUP BY ALL
) k
LEFT JOIN scores w USING (system, task, shots, item_id, dataset_version, metric);
