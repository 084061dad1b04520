-- Mean and std (ddof = 1; NULL over a single cell) of each system's normalized scores over the
-- cells it has; rank 1 = highest mean, ties (means equal to 12 decimals) get the average rank.
CREATE OR REPLACE TABLE global_ranking AS
WITH per_system AS (
  SELECT system, avg(normalized) AS mean, stddev_samp(normalized) AS std
  FROM normalized_scores
  GROUP BY system
)
SELECT system, mean, std,
       rank() OVER (ORDER BY round(mean, 12) DESC) + (count(*) OVER (PARTITION BY round(mean, 12)) - 1) / 2.0 AS rank
FROM per_system
ORDER BY rank, system;
