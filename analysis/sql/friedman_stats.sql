-- Friedman's sufficient statistics per shot count from cell_ranks: k systems, n tasks (blocks),
-- Σ_j R_j² over the systems' rank sums, and Σ (t³ − t) over groups of tied systems within a task.
WITH rank_sums AS (
  SELECT shots, system, sum(rank) AS r FROM cell_ranks GROUP BY shots, system
),
tie_groups AS (
  SELECT shots, task, goodness, count(*)::DOUBLE AS t FROM cell_ranks GROUP BY shots, task, goodness
)
SELECT s.shots, s.k, s.n, s.sum_rank_squares, t.tie_term
FROM (
  SELECT r.shots, count(*)::INTEGER AS k, (SELECT count(DISTINCT task) FROM cell_ranks c WHERE c.shots = r.shots)::INTEGER AS n,
         sum(r.r * r.r) AS sum_rank_squares
  FROM rank_sums r GROUP BY r.shots
) s
JOIN (SELECT shots, sum(t * t * t - t) AS tie_term FROM tie_groups GROUP BY shots) t USING (shots)
ORDER BY s.shots;
