-- Mean and std (ddof = 1; NULL over a single cell) of each ranked system's normalised scores over
-- the shared grid of ranking_coverage.sql (scope 'global'); the normalisation (per cell worst 0,
-- best 1, all tied → 1) is taken among the ranked systems only, so a system left out cannot move
-- the others. rank 1 = highest mean, ties (means equal to 12 decimals) averaged. Systems left out
-- of the grid get a row with their coverage and NULL mean, std and rank.
CREATE OR REPLACE TABLE global_ranking AS
WITH ranked AS (
  SELECT system FROM ranking_coverage WHERE scope = 'global' AND ranked
),
cells AS (
  SELECT c.task, c.shots, c.system, c.mean AS score, m.higher_is_better
  FROM cell_scores c
  JOIN analysis_metrics m USING (task)
  JOIN ranking_grid g ON g.scope = 'global' AND g.task = c.task AND g.shots = c.shots
  JOIN ranked USING (system)
),
bounds AS (
  SELECT task, shots, min(score) AS lo, max(score) AS hi FROM cells GROUP BY task, shots
),
normalized AS (
  SELECT system, CASE WHEN hi = lo THEN 1.0
                      WHEN higher_is_better THEN (score - lo) / (hi - lo)
                      ELSE (hi - score) / (hi - lo) END AS normalized
  FROM cells JOIN bounds USING (task, shots)
),
per_system AS (
  SELECT system, avg(normalized) AS mean, stddev_samp(normalized) AS std FROM normalized GROUP BY system
),
ranks AS (
  SELECT system, mean, std,
         rank() OVER (ORDER BY round(mean, 12) DESC) + (count(*) OVER (PARTITION BY round(mean, 12)) - 1) / 2.0 AS rank
  FROM per_system
)
SELECT r.system, k.mean, k.std, k.rank, r.cells, r.grid_cells, r.grid_size, r.ranked
FROM ranking_coverage r LEFT JOIN ranks k USING (system)
WHERE r.scope = 'global'
ORDER BY k.rank NULLS LAST, r.system;
