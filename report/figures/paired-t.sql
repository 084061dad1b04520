-- Figures 6 and 7: the paired t-test of every system against the reference in every cell.
SELECT task, shots, system, n, mean_diff, ci_low, ci_high, p_value, p_bh
FROM paired_tests
WHERE test = 't' AND reference = $reference
ORDER BY task, shots, system
