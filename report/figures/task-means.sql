-- Figure 4 and the per-task table: mean and sample std (ddof=1) of each system's cell means over
-- the shot counts of a task. Rounded so that parallel float sums cannot change the last bits.
SELECT task, system, count(*) AS cells,
       round(avg(mean), 12) AS mean,
       round(coalesce(stddev_samp(mean), 0), 12) AS std
FROM cell_scores
GROUP BY task, system
ORDER BY task, system
