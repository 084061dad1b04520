-- Per cell, min–max normalisation of the systems' cell means: worst 0, best 1 (direction from
-- the metric). When every system of a cell ties (including a single system), all get 1.
CREATE OR REPLACE TABLE normalized_scores AS
WITH cells AS (
  SELECT c.task, c.shots, c.system, c.mean AS score, m.higher_is_better
  FROM cell_scores c JOIN analysis_metrics m USING (task)
),
bounds AS (
  SELECT task, shots, min(score) AS lo, max(score) AS hi FROM cells GROUP BY task, shots
)
SELECT task, shots, system, score,
       CASE WHEN hi = lo THEN 1.0
            WHEN higher_is_better THEN (score - lo) / (hi - lo)
            ELSE (hi - score) / (hi - lo) END AS normalized
FROM cells JOIN bounds USING (task, shots)
ORDER BY task, shots, system;
