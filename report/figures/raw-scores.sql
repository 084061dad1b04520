-- Figure 1: each cell's mean score, and the reference's score at its lowest shot count (0-shot
-- in the EnMed grid) in the same task, drawn as a dotted line.
SELECT c.task, c.shots, c.system, c.n, c.mean, r.mean AS reference_zero_shot
FROM cell_scores c
LEFT JOIN (SELECT task, arg_min(mean, shots) AS mean FROM cell_scores WHERE system = $reference GROUP BY task) r USING (task)
ORDER BY c.task, c.shots, c.system
