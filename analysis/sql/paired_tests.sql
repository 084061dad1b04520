-- One row per candidate × cell × test (t, wilcoxon, mcnemar, bootstrap). The statistics come from
-- paired_stats.sql and paired_differences.sql; p-values, adjustments and the bootstrap are
-- computed in TypeScript (analysis/stats/) and appended. Columns a test does not use are NULL.
CREATE OR REPLACE TABLE paired_tests (
  task          VARCHAR NOT NULL,
  shots         INTEGER NOT NULL,
  system        VARCHAR NOT NULL,     -- the candidate
  reference     VARCHAR NOT NULL,
  test          VARCHAR NOT NULL,     -- t | wilcoxon | mcnemar | bootstrap
  n             INTEGER NOT NULL,     -- items both systems have
  mean_diff     DOUBLE,               -- mean of candidate − reference
  statistic     DOUBLE,               -- t; Wilcoxon min(W+, W−); McNemar b
  df            DOUBLE,               -- t only: n − 1
  p_value       DOUBLE,
  ci_low        DOUBLE,               -- t: t-quantile CI; bootstrap: percentile CI (95%)
  ci_high       DOUBLE,
  p_bh          DOUBLE,               -- Benjamini–Hochberg over the family (per test)
  p_bonferroni  DOUBLE,               -- min(1, m·p) over the family
  nonzero       INTEGER,              -- wilcoxon: non-zero differences
  b             INTEGER,              -- mcnemar: candidate right, reference wrong
  c             INTEGER,              -- mcnemar: candidate wrong, reference right
  note          VARCHAR               -- the degenerate-cell rule that applied, else NULL
);
