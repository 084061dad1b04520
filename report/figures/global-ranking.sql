-- Figure 5 and the ranking table: mean ± std (ddof=1) of normalised scores over all cells.
SELECT system, mean, std, rank
FROM global_ranking
ORDER BY rank, system
