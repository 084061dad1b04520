-- Figure 2: normalised score of every system in every cell (worst 0, best 1).
SELECT task, shots, system, score, normalized
FROM normalized_scores
ORDER BY task, shots, system
