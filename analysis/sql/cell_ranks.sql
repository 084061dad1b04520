-- Ranks of systems within each (shots, task) by cell mean: 1 = best, ties (means equal to 12
-- decimals) averaged. Only the tasks of each shot count's shared grid and the systems that have
-- all of them take part (ranking_coverage.sql, scope 'friedman'), so that Friedman's blocks are
-- complete; the systems and tasks left out are named in friedman.note.
CREATE OR REPLACE TEMP TABLE cell_ranks AS
WITH cells AS (
  SELECT c.task, c.shots, c.system,
         round(CASE WHEN m.higher_is_better THEN c.mean ELSE -c.mean END, 12) AS goodness
  FROM cell_scores c
  JOIN analysis_metrics m USING (task)
  JOIN ranking_grid g ON g.scope = 'friedman' AND g.task = c.task AND g.shots = c.shots
  JOIN ranking_coverage r ON r.scope = 'friedman' AND r.shots = c.shots AND r.system = c.system AND r.ranked
)
SELECT shots, task, system, goodness,
       rank() OVER (PARTITION BY shots, task ORDER BY goodness DESC)
         + (count(*) OVER (PARTITION BY shots, task, goodness) - 1) / 2.0 AS rank
FROM cells;
