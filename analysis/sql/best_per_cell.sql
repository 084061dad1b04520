-- The best system of each cell by cell mean (direction from the metric); every tied system
-- (means equal to 12 decimals) gets a row.
CREATE OR REPLACE TABLE best_per_cell AS
SELECT c.task, c.shots, c.system, c.mean AS score
FROM cell_scores c JOIN analysis_metrics m USING (task)
QUALIFY rank() OVER (PARTITION BY c.task, c.shots ORDER BY round(CASE WHEN m.higher_is_better THEN c.mean ELSE -c.mean END, 12) DESC) = 1
ORDER BY c.task, c.shots, c.system;
