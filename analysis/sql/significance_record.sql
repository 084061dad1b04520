-- Per candidate, over its t-test rows: wins and losses at p < $alpha (raw and BH-adjusted) and by
-- the sign of the mean difference alone. A win is a difference in the metric's better direction.
CREATE OR REPLACE TABLE significance_record AS
WITH t AS (
  SELECT p.system, p.p_value, p.p_bh, CASE WHEN m.higher_is_better THEN p.mean_diff ELSE -p.mean_diff END AS gain
  FROM paired_tests p JOIN analysis_metrics m USING (task)
  WHERE p.test = 't'
)
SELECT system,
       count(*) FILTER (WHERE p_value < $alpha AND gain > 0)::INTEGER AS sig_wins,
       count(*) FILTER (WHERE p_value < $alpha AND gain < 0)::INTEGER AS sig_losses,
       count(*) FILTER (WHERE p_bh < $alpha AND gain > 0)::INTEGER AS bh_wins,
       count(*) FILTER (WHERE p_bh < $alpha AND gain < 0)::INTEGER AS bh_losses,
       count(*) FILTER (WHERE gain > 0)::INTEGER AS numeric_wins,
       count(*) FILTER (WHERE gain < 0)::INTEGER AS numeric_losses
FROM t
GROUP BY system
ORDER BY bh_wins DESC, sig_wins DESC, numeric_wins DESC, system;
