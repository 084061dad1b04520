-- Figure 5 and the ranking table: mean ± std (ddof=1) of normalised scores over the shared grid,
-- with each system's coverage; systems left out of the grid (rank NULL) come last.
SELECT system, mean, std, rank, cells, grid_cells, grid_size, ranked
FROM global_ranking
ORDER BY rank NULLS LAST, system
