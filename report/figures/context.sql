-- Axes shared by every figure: systems in global-rank order (ties by name), tasks with the metric
-- they were analysed on and its direction, shot counts. Reads the tables `fleuve analyze` writes;
-- `analysis_metrics` is the temp table of analysis/sql/analysis_metrics.sql, created just before.
SELECT 'system' AS kind, system AS name, rank AS ord, NULL AS metric, NULL AS higher_is_better FROM global_ranking
UNION ALL
SELECT 'task', c.task, NULL, m.metric, m.higher_is_better
FROM (SELECT DISTINCT task FROM cell_scores) c LEFT JOIN analysis_metrics m USING (task)
UNION ALL
SELECT DISTINCT 'shots', CAST(shots AS VARCHAR), shots, NULL, NULL FROM cell_scores
ORDER BY kind, ord NULLS LAST, name
