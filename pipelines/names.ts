/**
 * Names and defaults that command-line help lists, with nothing heavy behind them (no DuckDB, no
 * tfjs): `fleuve --help` and every command's help load only this side of pipelines/.
 */
export { ANALYSIS_TABLES } from "../analysis/analysis-tables.ts"
export { SAMPLE_MANIFEST } from "../operators/qa/loaders/sample-manifest.ts"
