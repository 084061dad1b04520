/**
 * The Score record's columns in the warehouse, in table order: each one a field of the Score
 * Schema (schemas/evaluation.ts) with its SQL name and type. Staging tables, appender rows and
 * column lists are built from this list, and a test checks it against the Schema's fields and
 * against the columns of `scores` and `score_history` as the migrations made them.
 */
import type { Score } from "../schemas/evaluation.ts"

export const scoreColumns = [
  { field: "system", column: "system", type: "VARCHAR NOT NULL" },
  { field: "task", column: "task", type: "VARCHAR NOT NULL" },
  { field: "shots", column: "shots", type: "INTEGER NOT NULL" },
  { field: "itemId", column: "item_id", type: "VARCHAR NOT NULL" },
  { field: "datasetVersion", column: "dataset_version", type: "VARCHAR NOT NULL" },
  { field: "metric", column: "metric", type: "VARCHAR NOT NULL" },
  { field: "score", column: "score", type: "DOUBLE NOT NULL" },
  { field: "judge", column: "judge", type: "VARCHAR" }
] as const satisfies ReadonlyArray<{ readonly field: keyof Score; readonly column: string; readonly type: string }>

/** The key of a score row: every column but the value and the judge. */
export const scoreKeyColumns = "system, task, shots, item_id, dataset_version, metric"

/** `system, task, …, judge`: the score columns for INSERT and SELECT lists. */
export const scoreColumnList = scoreColumns.map((c) => c.column).join(", ")

/** A score as appender values in column order (an absent judge is NULL). */
export const scoreValues = (s: Score): Array<string | number | null> => scoreColumns.map((c) => s[c.field] ?? null)

/** DDL of a temporary staging table: the score columns, then `extra` column definitions. */
export const scoreStagingTable = (name: string, extra: ReadonlyArray<string>): string =>
  `CREATE OR REPLACE TEMP TABLE ${name} (\n  ${[...scoreColumns.map((c) => `${c.column} ${c.type}`), ...extra].join(",\n  ")}\n)`
