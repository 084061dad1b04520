-- The one metric each task is analysed on, with its direction. Preference when a task has several:
-- acc, then f1, then judge, then score, then the alphabetically first metric. `fleuve analyze
-- --metric TASK=METRIC` overrides the choice for a task. higher_is_better comes from `metrics`;
-- NULL means the metric is unknown there, and analyze refuses to guess.
CREATE OR REPLACE TEMP TABLE analysis_metrics AS
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
