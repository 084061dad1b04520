-- Axes shared by every figure: systems in global-rank order (ties by name), tasks with their
-- metric, shot counts. Reads the tables `fleuve analyze` writes, plus `scores` for metric names.
SELECT 'system' AS kind, system AS name, rank AS ord, NULL AS metric FROM global_ranking
UNION ALL
SELECT 'task', c.task, NULL, (SELECT string_agg(DISTINCT s.metric, '/' ORDER BY s.metric) FROM scores s WHERE s.task = c.task)
FROM (SELECT DISTINCT task FROM cell_scores) c
UNION ALL
SELECT DISTINCT 'shots', CAST(shots AS VARCHAR), shots, NULL FROM cell_scores
ORDER BY kind, ord NULLS LAST, name
