-- Figure 10: average ranks per shot count with the Friedman test and the Nemenyi CD; shot counts
-- without a test (fewer than 2 systems share a task) are left out, their note is in the caveats.
SELECT a.shots, a.system, a.avg_rank, f.k, f.n, f.chi2, f.p_value, f.iman_davenport_p, f.cd, f.note
FROM avg_ranks a
JOIN friedman f USING (shots)
WHERE f.chi2 IS NOT NULL
ORDER BY a.shots, a.avg_rank, a.system
