-- The cells (task, shots) where the reference system has no score: no paired test can run there.
-- $reference: the reference system.
SELECT DISTINCT task, shots
FROM cell_scores c
WHERE NOT EXISTS (SELECT 1 FROM cell_scores r WHERE r.system = $reference AND r.task = c.task AND r.shots = c.shots)
ORDER BY task, shots
