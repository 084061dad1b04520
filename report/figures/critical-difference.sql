-- Figure 10: average ranks per shot count with the Friedman test and the Nemenyi CD.
SELECT a.shots, a.system, a.avg_rank, f.k, f.n, f.chi2, f.p_value, f.iman_davenport_p, f.cd
FROM avg_ranks a
JOIN friedman f USING (shots)
ORDER BY a.shots, a.avg_rank, a.system
