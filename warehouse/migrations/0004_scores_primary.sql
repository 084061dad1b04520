-- Each task's primary metric, and `scores` restricted to it: one row per (system, task, shots,
-- item), so `avg(score)` never mixes acc with acc_norm, hamming, emr or a 1–5 judge. Preference
-- when a task has several metrics: acc, then f1, then judge, then score, then the alphabetically
-- first metric (the rule `fleuve analyze` uses when no --metric overrides it).
CREATE VIEW task_primary_metrics AS
WITH present AS (SELECT DISTINCT task, metric FROM scores),
ranked AS (
  SELECT task, metric,
         row_number() OVER (
           PARTITION BY task
           ORDER BY CASE metric WHEN 'acc' THEN 1 WHEN 'f1' THEN 2 WHEN 'judge' THEN 3 WHEN 'score' THEN 4 ELSE 5 END, metric
         ) AS preference
  FROM present
)
SELECT r.task, r.metric, m.higher_is_better
FROM ranked r LEFT JOIN metrics m USING (metric)
WHERE r.preference = 1;

CREATE VIEW scores_primary AS
SELECT s.system, s.task, s.shots, s.item_id, s.dataset_version, s.metric, s.score, s.judge, s.run_id, s.source, s.created_at
FROM scores s
JOIN task_primary_metrics p ON p.task = s.task AND p.metric = s.metric;
