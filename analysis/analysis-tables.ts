/**
 * The tables `fleuve analyze` writes, in the order it writes them. A module of its own: the CLI
 * names them in its help without loading the analyses (and DuckDB).
 */
export const ANALYSIS_TABLES = [
  "cell_scores",
  "paired_tests",
  "normalized_scores",
  "ranking_coverage",
  "global_ranking",
  "best_per_cell",
  "avg_ranks",
  "friedman",
  "significance_record"
] as const
