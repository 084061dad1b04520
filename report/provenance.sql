-- The report's provenance, one row per cell: the metric analysed (analysis_metrics, created just
-- before), how many systems and items (n per system: min–max over systems, from cell_scores) and
-- the dataset versions the items came from (scores of that metric).
WITH versions AS (
  SELECT s.task, s.shots, string_agg(DISTINCT s.dataset_version, ', ' ORDER BY s.dataset_version) AS dataset_versions
  FROM scores s JOIN analysis_metrics m ON m.task = s.task AND m.metric = s.metric
  GROUP BY s.task, s.shots
)
SELECT c.task, c.shots, m.metric, m.higher_is_better, count(*)::INTEGER AS systems,
       min(c.n)::INTEGER AS n_min, max(c.n)::INTEGER AS n_max, v.dataset_versions
FROM cell_scores c
JOIN analysis_metrics m USING (task)
LEFT JOIN versions v USING (task, shots)
GROUP BY c.task, c.shots, m.metric, m.higher_is_better, v.dataset_versions
ORDER BY c.task, c.shots
