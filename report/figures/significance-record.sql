-- Figure 8 and the record table: wins and losses against the reference over all cells.
SELECT r.system, r.sig_wins, r.sig_losses, r.bh_wins, r.bh_losses, r.numeric_wins, r.numeric_losses,
       (SELECT count(*) FROM paired_tests p WHERE p.test = 't' AND p.reference = $reference AND p.system = r.system) AS cells
FROM significance_record r
WHERE r.system <> $reference
ORDER BY r.system
