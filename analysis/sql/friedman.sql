-- Friedman test per shot count over the systems of cell_ranks.sql, with Iman–Davenport's F and the
-- Nemenyi critical difference. Computed in TypeScript from friedman_stats.sql and appended.
CREATE OR REPLACE TABLE friedman (
  shots              INTEGER NOT NULL,
  k                  INTEGER NOT NULL,   -- systems
  n                  INTEGER NOT NULL,   -- tasks (blocks)
  chi2               DOUBLE NOT NULL,    -- tie-corrected, as scipy.stats.friedmanchisquare
  p_value            DOUBLE NOT NULL,
  iman_davenport_f   DOUBLE,             -- NULL when n < 2
  iman_davenport_p   DOUBLE,
  cd                 DOUBLE NOT NULL     -- Nemenyi critical difference at --alpha
);
