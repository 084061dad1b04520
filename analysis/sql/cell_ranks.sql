-- Ranks of systems within each (shots, task) by cell mean: 1 = best, ties (means equal to 12
-- decimals) averaged. Only systems present in every task of that shot count take part, so that
-- Friedman's blocks are complete.
CREATE OR REPLACE TEMP TABLE cell_ranks AS
WITH cells AS (
  SELECT c.task, c.shots, c.system,
         round(CASE WHEN m.higher_is_better THEN c.mean ELSE -c.mean END, 12) AS goodness
  FROM cell_scores c JOIN analysis_metrics m USING (task)
),
tasks_per_shots AS (
  SELECT shots, count(DISTINCT task) AS tasks FROM cells GROUP BY shots
),
complete AS (
  SELECT c.shots, c.system
  FROM cells c JOIN tasks_per_shots t USING (shots)
  GROUP BY c.shots, c.system, t.tasks
  HAVING count(DISTINCT c.task) = t.tasks
)
SELECT c.shots, c.task, c.system, c.goodness,
       rank() OVER (PARTITION BY c.shots, c.task ORDER BY c.goodness DESC)
         + (count(*) OVER (PARTITION BY c.shots, c.task, c.goodness) - 1) / 2.0 AS rank
FROM cells c JOIN complete USING (shots, system);
