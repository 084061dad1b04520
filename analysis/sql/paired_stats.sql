-- Sufficient statistics of every paired test, per cell and candidate, from paired_differences:
-- n, mean and sd (ddof = 1) of d, number of distinct d, Wilcoxon rank sums (ranks of |d| among
-- non-zero d, ties averaged) with the tie term Σ(t³ − t), and McNemar's b (candidate right,
-- reference wrong) and c. Candidates present in a cell but sharing no item with the reference get
-- n = 0. Cells the reference is absent from have no rows.
WITH candidates AS (
  SELECT c.task, c.shots, c.system
  FROM cell_scores c
  WHERE c.system <> $reference
    AND EXISTS (SELECT 1 FROM cell_scores r WHERE r.system = $reference AND r.task = c.task AND r.shots = c.shots)
),
moments AS (
  SELECT task, shots, system, sum(n)::BIGINT AS n, sum(n * d) / sum(n) AS mean_diff, count(*)::BIGINT AS distinct_values,
         bool_and(is_binary) AS is_binary,
         coalesce(sum(n) FILTER (WHERE d = 1), 0)::BIGINT AS plus_one,
         coalesce(sum(n) FILTER (WHERE d = -1), 0)::BIGINT AS minus_one
  FROM paired_differences
  GROUP BY task, shots, system
),
spread AS (
  SELECT p.task, p.shots, p.system,
         CASE WHEN m.n > 1 THEN sqrt(sum(p.n * (p.d - m.mean_diff) * (p.d - m.mean_diff)) / (m.n - 1)) END AS sd_diff
  FROM paired_differences p JOIN moments m USING (task, shots, system)
  GROUP BY p.task, p.shots, p.system, m.n
),
magnitudes AS (
  SELECT task, shots, system, abs(d) AS magnitude, sum(n)::DOUBLE AS t,
         coalesce(sum(n) FILTER (WHERE d > 0), 0)::DOUBLE AS positive
  FROM paired_differences
  WHERE d <> 0
  GROUP BY task, shots, system, abs(d)
),
ranked AS (
  SELECT *, coalesce(sum(t) OVER (PARTITION BY task, shots, system ORDER BY magnitude ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
            + (t + 1) / 2 AS avg_rank
  FROM magnitudes
),
signed_ranks AS (
  SELECT task, shots, system, sum(positive * avg_rank) AS w_plus, sum((t - positive) * avg_rank) AS w_minus,
         sum(t)::BIGINT AS nonzero, sum(t * t * t - t) AS tie_term
  FROM ranked
  GROUP BY task, shots, system
)
SELECT k.task, k.shots, k.system,
       coalesce(m.n, 0) AS n, coalesce(m.mean_diff, 0) AS mean_diff, s.sd_diff, coalesce(m.distinct_values, 0) AS distinct_values,
       coalesce(w.w_plus, 0) AS w_plus, coalesce(w.w_minus, 0) AS w_minus, coalesce(w.nonzero, 0) AS nonzero,
       coalesce(w.tie_term, 0) AS tie_term,
       coalesce(m.is_binary, false) AS is_binary,
       CASE WHEN a.higher_is_better THEN m.plus_one ELSE m.minus_one END AS b,
       CASE WHEN a.higher_is_better THEN m.minus_one ELSE m.plus_one END AS c
FROM candidates k
JOIN analysis_metrics a USING (task)
LEFT JOIN moments m USING (task, shots, system)
LEFT JOIN spread s USING (task, shots, system)
LEFT JOIN signed_ranks w USING (task, shots, system)
ORDER BY k.task, k.shots, k.system;
