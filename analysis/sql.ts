import { join } from "node:path"
import { sqlReader } from "../warehouse/warehouse.ts"

/** Reads `analysis/sql/<name>.sql`: each analysis table is produced by the file named after it. */
export const analysisSql = sqlReader(join(import.meta.dirname, "sql"))
