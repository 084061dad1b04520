import * as Config from "effect/Config"
import { Flag } from "effect/cli"

export const DEFAULT_WAREHOUSE = "./fleuve.duckdb"

/** `--warehouse PATH`, else $FLEUVE_WAREHOUSE, else ./fleuve.duckdb. */
export const warehouseFlag = Flag.String("warehouse").pipe(
  Flag.withDescription("DuckDB warehouse file (default ./fleuve.duckdb, or $FLEUVE_WAREHOUSE)"),
  Flag.withFallbackConfig(Config.String("FLEUVE_WAREHOUSE")),
  Flag.withDefault(DEFAULT_WAREHOUSE)
)
