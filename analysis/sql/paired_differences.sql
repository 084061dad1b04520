-- Histogram of the paired differences d = candidate − reference over the items both systems have
-- in a cell: one row per (cell, candidate, distinct d). Every paired test's sufficient statistics
-- (and the bootstrap) come from it, so the per-item join is done once. `is_binary` is true when both
-- scores of every pair behind this d are 0 or 1 (McNemar's condition).
CREATE OR REPLACE TEMP TABLE paired_differences AS
WITH ref AS (
  SELECT task, shots, item_id, dataset_version, score AS ref_score
  FROM analysis_scores
  WHERE system = $reference
)
SELECT c.task, c.shots, c.system, c.score - r.ref_score AS d, count(*) AS n,
       bool_and(c.score IN (0, 1) AND r.ref_score IN (0, 1)) AS is_binary
FROM analysis_scores c
JOIN ref r USING (task, shots, item_id, dataset_version)
WHERE c.system <> $reference
GROUP BY c.task, c.shots, c.system, d;
