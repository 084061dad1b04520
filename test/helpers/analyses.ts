import assert from "node:assert/strict"
import { readFileSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { tempDir } from "./warehouse.ts"

const fixtures = resolve(import.meta.dirname, "../fixtures/analyses")

export type Value = number | string | boolean | null
export type Table = Array<Record<string, Value>>

export interface AnalysisFixture {
  readonly name: string
  readonly reference: string
  readonly alpha: number
  readonly scores: Array<Record<string, Value>>
  readonly expected: Record<"system" | "all", Record<string, Table> & { bootstrap: Table; metrics: Record<string, string> }>
}

export const loadFixture = <A>(name: string): A => JSON.parse(readFileSync(join(fixtures, `${name}.json`), "utf8")) as A

/** Writes a fixture's scores as JSONL (the format `fleuve import-scores` reads) and returns the path. */
export const writeScores = (fixture: AnalysisFixture): string => {
  const file = join(tempDir("fleuve-analyses-"), `${fixture.name}.jsonl`)
  writeFileSync(file, fixture.scores.map((r) => JSON.stringify(r)).join("\n") + "\n")
  return file
}

/** Python writes ±infinity as strings (JSON has none). */
const decode = (v: Value): Value => (v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : v)

const P_COLUMNS = new Set(["p_value", "p_bh", "p_bonferroni", "iman_davenport_p"])

/** Equal within 1e-6 relative; p-value columns purely relative (down to 1e-300), others with a 1e-12 floor. */
export const assertClose = (actual: Value | undefined, expectedRaw: Value, where: string, column: string) => {
  const expected = decode(expectedRaw)
  if (typeof expected !== "number") {
    assert.equal(actual, expected, `${where}: ${column}`)
    return
  }
  assert.equal(typeof actual, "number", `${where}: ${column} is ${String(actual)}, expected ${expected}`)
  const a = actual as number
  if (!Number.isFinite(expected)) {
    assert.equal(a, expected, `${where}: ${column}`)
    return
  }
  const floor = P_COLUMNS.has(column) ? 1e-320 : 1e-12
  assert.ok(Math.abs(a - expected) <= 1e-6 * Math.abs(expected) + floor, `${where}: ${column} = ${a}, expected ${expected} (scipy)`)
}

/** Compares a table with the reference: same columns, same keys, every value close. */
export const assertTable = (name: string, actual: ReadonlyArray<Record<string, unknown>>, expected: Table, keys: ReadonlyArray<string>) => {
  const keyOf = (r: Record<string, unknown>) => keys.map((k) => String(r[k])).join(" | ")
  const sortRows = <R extends Record<string, unknown>>(rows: ReadonlyArray<R>) => [...rows].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0))
  const a = sortRows(actual)
  const e = sortRows(expected)
  assert.deepEqual(a.map(keyOf), e.map(keyOf), `${name}: rows`)
  if (e.length > 0) assert.deepEqual(Object.keys(a[0]!).sort(), Object.keys(e[0]!).sort(), `${name}: columns`)
  a.forEach((row, i) => {
    for (const [column, value] of Object.entries(e[i]!)) assertClose(row[column] as Value, value, `${name} [${keyOf(row)}]`, column)
  })
}

export const TABLE_KEYS: Record<string, ReadonlyArray<string>> = {
  cell_scores: ["task", "shots", "system"],
  paired_tests: ["task", "shots", "system", "test"],
  normalized_scores: ["task", "shots", "system"],
  ranking_coverage: ["scope", "shots", "system"],
  global_ranking: ["system"],
  best_per_cell: ["task", "shots", "system"],
  avg_ranks: ["shots", "system"],
  friedman: ["shots"],
  significance_record: ["system"]
}
