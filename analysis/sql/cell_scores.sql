-- Per cell (task, shots) and system: item count, mean and standard deviation (ddof = 1; NULL when
-- a system has a single item in the cell).
CREATE OR REPLACE TABLE cell_scores AS
SELECT task, shots, system, count(*)::INTEGER AS n, avg(score) AS mean, stddev_samp(score) AS std
FROM analysis_scores
GROUP BY task, shots, system
ORDER BY task, shots, system;
