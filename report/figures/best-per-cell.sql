-- Figure 9 and the best-per-cell grid: tied winners of a cell are listed together, by name.
SELECT task, shots, string_agg(system, ' = ' ORDER BY system) AS system, max(score) AS score, count(*) AS winners
FROM best_per_cell
GROUP BY task, shots
ORDER BY task, shots
