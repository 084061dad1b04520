-- The item explorer's items: per cell (task, shots), on the metric each task was analysed on
-- (analysis_metrics, created just before), the items where systems disagree most — spread = the
-- population standard deviation of the systems' scores, then the range — with the item itself
-- (items.payload) when the warehouse has it. At most $per_cell items per cell; unanimous items
-- (range 0) are left out.
WITH s AS (
  SELECT sc.task, sc.shots, sc.item_id, sc.dataset_version, sc.system, sc.score
  FROM scores sc JOIN analysis_metrics m ON m.task = sc.task AND m.metric = sc.metric
),
spread AS (
  SELECT task, shots, item_id, dataset_version, count(*)::INTEGER AS systems,
         stddev_pop(score) AS spread, max(score) - min(score) AS range
  FROM s GROUP BY task, shots, item_id, dataset_version
  HAVING count(*) >= 2 AND max(score) > min(score)
),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY task, shots ORDER BY spread DESC, range DESC, item_id, dataset_version) AS place
  FROM spread
)
SELECT r.task, r.shots, r.item_id, r.dataset_version, r.systems, r.spread, r.range, r.place, i.payload::VARCHAR AS payload
FROM ranked r
LEFT JOIN items i ON i.task = r.task AND i.item_id = r.item_id AND i.dataset_version = r.dataset_version
WHERE r.place <= $per_cell
ORDER BY r.task, r.shots, r.place
