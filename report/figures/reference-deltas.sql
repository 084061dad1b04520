-- Figure 3: cell mean minus the reference's cell mean, for every other system.
SELECT c.task, c.shots, c.system, c.mean - r.mean AS delta
FROM cell_scores c
JOIN cell_scores r ON r.task = c.task AND r.shots = c.shots AND r.system = $reference
WHERE c.system <> $reference
ORDER BY c.task, c.shots, c.system
