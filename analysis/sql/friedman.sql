-- Friedman test per shot count over the systems of cell_ranks.sql, with Iman–Davenport's F and the
-- Nemenyi critical difference. Computed in TypeScript from friedman_stats.sql and appended. Every
-- shot count gets a row: where fewer than 2 systems share a task the statistics are NULL, and
-- `note` says why; it also says when N < 3 tasks (too few blocks for the χ² approximation: read
-- the ranks as descriptive) and which systems and tasks were left out of incomplete blocks.
CREATE OR REPLACE TABLE friedman (
  shots              INTEGER NOT NULL,
  k                  INTEGER NOT NULL,   -- systems ranked
  n                  INTEGER NOT NULL,   -- tasks (blocks)
  chi2               DOUBLE,             -- tie-corrected, as scipy.stats.friedmanchisquare; NULL when k < 2
  p_value            DOUBLE,
  iman_davenport_f   DOUBLE,             -- NULL when n < 2
  iman_davenport_p   DOUBLE,
  cd                 DOUBLE,             -- Nemenyi critical difference at --alpha
  note               VARCHAR             -- caveats: N < 3, incomplete blocks, no test; NULL for a full result
);
