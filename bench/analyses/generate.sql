-- 10,000,000 item-level scores: 50 systems × 4 tasks × 5 shot counts (20 cells) × 10,000 items.
-- Two binary accuracy tasks, one F1 task (2 decimals) and one 1–5 judge task, EnMed-shaped.
-- Deterministic: every value comes from hash() of its coordinates.
COPY (
  WITH systems AS (
    SELECT i AS s, printf('sys%02d', i) AS system, (i % 10) * 0.02 - 0.05 AS skill FROM range(50) t(i)
  ),
  tasks AS (SELECT * FROM (VALUES ('mcqa', 'acc'), ('mediqal', 'acc'), ('extqa', 'f1'), ('absqa', 'judge')) t(task, metric)),
  shot_counts AS (SELECT unnest([0, 1, 3, 5, 10]) AS shots),
  items AS (SELECT i AS item FROM range(10000) t(i)),
  grid AS (
    SELECT system, task, metric, shots, item,
           (hash(task, item) % 1000003) / 1000003.0 * 2 - 1 AS difficulty,
           (hash(system, task, shots, item, 1) % 1000003) / 1000003.0 AS u1,
           (hash(system, task, shots, item, 2) % 1000003) / 1000003.0 AS u2,
           skill
    FROM systems, tasks, shot_counts, items
  ),
  p AS (
    SELECT *, greatest(0.02, least(0.98, 0.55 + skill + 0.01 * shots - 0.3 * difficulty + 0.4 * (u1 - 0.5))) AS p FROM grid
  )
  SELECT system, task, shots, 'q' || item AS item_id, 'v1' AS dataset_version, metric,
         CASE metric
           WHEN 'acc' THEN CASE WHEN u2 < p THEN 1.0 ELSE 0.0 END
           WHEN 'f1' THEN round(greatest(0, least(1, p + (u2 - 0.5) * 0.5)), 2)
           ELSE greatest(1, least(5, round(1 + 4 * p + (u2 - 0.5) * 1.5)))
         END AS score
  FROM p
) TO '$OUT' (FORMAT parquet, COMPRESSION zstd);
