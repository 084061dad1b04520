-- Cells with the number of systems that have them and whether they are in the global shared grid
-- (more than half of the systems have them, as analysis/sql/ranking_coverage.sql decides).
SELECT task, shots, count(*)::INTEGER AS systems,
       2 * count(*) > (SELECT count(DISTINCT system) FROM cell_scores) AS in_grid
FROM cell_scores
GROUP BY task, shots
ORDER BY task, shots
