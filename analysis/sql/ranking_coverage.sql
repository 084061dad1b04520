-- Which cells each ranking runs on, and which systems it ranks (docs/analyses.md, "Partial grids").
-- Rule: a cell belongs to the shared grid when more than half of the systems have it; a system is
-- ranked when it has every cell of that grid; the others are listed here with their coverage and
-- reported apart (no rank), so that one system with a cell nobody else has can neither top the
-- ranking (a cell where a system is alone normalises to 1) nor empty the ranking of the others.
-- scope 'global': cells are (task, shots) over all systems (global_ranking).
-- scope 'friedman': per shot count, cells are the tasks, over the systems with that shot count
-- (avg_ranks, friedman, the CD diagrams).
CREATE OR REPLACE TABLE ranking_coverage AS
WITH everyone AS (SELECT count(DISTINCT system) AS s FROM cell_scores),
global_grid AS (
  SELECT task, shots FROM cell_scores GROUP BY task, shots
  HAVING 2 * count(*) > (SELECT s FROM everyone)
),
global_rows AS (
  SELECT 'global' AS scope, NULL::INTEGER AS shots, c.system, count(*)::INTEGER AS cells,
         count(g.task)::INTEGER AS grid_cells, (SELECT count(*) FROM global_grid)::INTEGER AS grid_size
  FROM cell_scores c LEFT JOIN global_grid g USING (task, shots)
  GROUP BY c.system
),
per_shots AS (SELECT shots, count(DISTINCT system) AS s FROM cell_scores GROUP BY shots),
shots_grid AS (
  SELECT c.shots, c.task FROM cell_scores c JOIN per_shots p USING (shots)
  GROUP BY c.shots, c.task, p.s HAVING 2 * count(*) > p.s
),
shots_rows AS (
  SELECT 'friedman' AS scope, c.shots, c.system, count(*)::INTEGER AS cells, count(g.task)::INTEGER AS grid_cells,
         (SELECT count(*) FROM shots_grid x WHERE x.shots = c.shots)::INTEGER AS grid_size
  FROM cell_scores c LEFT JOIN shots_grid g USING (shots, task)
  GROUP BY c.shots, c.system
)
SELECT scope, shots, system, cells, grid_cells, grid_size, grid_size > 0 AND grid_cells = grid_size AS ranked
FROM (SELECT * FROM global_rows UNION ALL SELECT * FROM shots_rows)
ORDER BY scope DESC, shots NULLS FIRST, system;

-- The cells of each shared grid (temporary: the rankings below read it).
CREATE OR REPLACE TEMP TABLE ranking_grid AS
WITH everyone AS (SELECT count(DISTINCT system) AS s FROM cell_scores),
per_shots AS (SELECT shots, count(DISTINCT system) AS s FROM cell_scores GROUP BY shots)
SELECT 'global' AS scope, task, shots FROM cell_scores GROUP BY task, shots HAVING 2 * count(*) > (SELECT s FROM everyone)
UNION ALL
SELECT 'friedman', c.task, c.shots FROM cell_scores c JOIN per_shots p USING (shots) GROUP BY c.task, c.shots, p.s HAVING 2 * count(*) > p.s;
