-- For each shot count, the systems' ranks within each task (cell_ranks.sql) averaged over tasks.
CREATE OR REPLACE TABLE avg_ranks AS
SELECT shots, system, avg(rank) AS avg_rank
FROM cell_ranks
GROUP BY shots, system
ORDER BY shots, avg_rank, system;
